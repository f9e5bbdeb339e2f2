// split_sql never crashes, and every statement it returns is a non-empty,
// non-overlapping slice of the input, in order, whose line and column are
// where its text starts; position_in stays inside the statement's lines.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "xbranch/sql_script.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto statements = xbranch::split_sql(text);
    std::size_t end_of_previous = 0;
    for (const auto& s : statements) {
        if (s.text.empty() || s.offset < end_of_previous || s.offset + s.text.size() > size ||
            text.substr(s.offset, s.text.size()) != s.text) {
            std::abort();
        }
        const auto before = text.substr(0, s.offset);
        const auto newlines = std::count(before.begin(), before.end(), '\n');
        if (s.line != 1 + newlines || s.column < 1) {
            std::abort();
        }
        const auto in_text = std::count(s.text.begin(), s.text.end(), '\n');
        const auto p = xbranch::position_in(s, static_cast<int>(s.text.size()) + 5);
        if (p.line < s.line || p.line > s.line + in_text) {
            std::abort();
        }
        end_of_previous = s.offset + s.text.size();
    }
    return 0;
}
