// derive_branch_name either refuses (Error Usage) or returns a DNS label of at
// most 63 characters that starts with the prefix; sanitize_label is always clean.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"

namespace {

bool label_chars(std::string_view s) {
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // sandbox \n sandbox-id \n resource \n prefix (missing parts are empty;
    // no prefix part means the default).
    std::vector<std::string> parts(1);
    for (std::size_t i = 0; i < size; ++i) {
        const char c = static_cast<char>(data[i]);
        if (c == '\n' && parts.size() < 4) {
            parts.emplace_back();
        } else {
            parts.back() += c;
        }
    }
    parts.resize(4);
    const char* begin = reinterpret_cast<const char*>(data);
    const bool has_prefix = std::count(begin, begin + size, '\n') >= 3;
    const std::string prefix = has_prefix ? parts[3] : std::string(xbranch::k_default_prefix);
    const xbranch::SandboxIdentity id{parts[0], parts[1], parts[2]};

    for (const auto& p : parts) {
        const std::string s = xbranch::sanitize_label(p);
        if (!label_chars(s) || (!s.empty() && (s.front() == '-' || s.back() == '-')) ||
            s.find("--") != std::string::npos || s.size() > p.size()) {
            std::abort();
        }
    }

    std::string name;
    try {
        name = xbranch::derive_branch_name(id, prefix);
    } catch (const xbranch::Error& e) {
        if (e.kind() != xbranch::ErrorKind::Usage) {
            std::abort();
        }
        // Refused only for a bad prefix or a sandbox name with nothing usable.
        if (xbranch::valid_prefix(prefix) && !xbranch::sanitize_label(id.sandbox).empty()) {
            std::abort();
        }
        return 0;
    }
    if (name.empty() || name.size() > xbranch::k_max_branch_name || !label_chars(name) ||
        name.rfind(prefix, 0) != 0 || name.back() == '-' || !xbranch::valid_branch_name(name)) {
        std::abort();
    }
    if (name != xbranch::derive_branch_name(id, prefix)) {
        std::abort();  // not deterministic
    }
    return 0;
}
