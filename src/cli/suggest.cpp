#include "suggest.hpp"

#include <algorithm>

namespace xbranch::cli {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Three rows of the dynamic programme: two back for a swap.
    std::vector<std::size_t> before(b.size() + 1);
    std::vector<std::size_t> last(b.size() + 1);
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        last[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                row[j] = std::min(row[j], before[j - 2] + 1);
            }
        }
        before.swap(last);
        last.swap(row);
    }
    return last[b.size()];
}

std::vector<std::string> suggestions(std::string_view typed,
                                     const std::vector<std::string>& known) {
    std::string_view bare = typed;
    while (!bare.empty() && bare.front() == '-') {
        bare.remove_prefix(1);
    }
    if (bare.empty() || std::find(known.begin(), known.end(), typed) != known.end()) {
        return {};
    }
    const std::size_t limit = bare.size() <= 4 ? 1 : bare.size() <= 8 ? 2 : 3;
    std::size_t best = limit + 1;
    std::vector<std::string> out;
    for (const std::string& word : known) {
        const std::size_t d = edit_distance(typed, word);
        if (d > limit) {
            continue;
        }
        if (d < best) {
            best = d;
            out.clear();
        }
        if (d == best) {
            out.push_back(word);
        }
    }
    return out;
}

std::string did_you_mean(std::string_view typed, const std::vector<std::string>& known) {
    const std::vector<std::string> words = suggestions(typed, known);
    if (words.empty()) {
        return "";
    }
    std::string out = " (did you mean ";
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) {
            out += i + 1 == words.size() ? " or " : ", ";
        }
        const bool flag = words[i].rfind('-', 0) == 0;
        out += flag ? words[i] : "'" + words[i] + "'";
    }
    return out + "?)";
}

}  // namespace xbranch::cli
