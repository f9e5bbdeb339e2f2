// Durations as the flags take them: parsed, printed back, and checked
// against one table of ranges (every duration flag has a maximum).
#include "duration.hpp"

#include <cmath>
#include <string>

#include "xbranch/error.hpp"

namespace xbranch::cli {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    // CLI11 2.1's AsNumberWithUnit prints the scaled number with six
    // significant digits (1234567s would become 1234570s) and reads one unit
    // only, so durations are read here: number-unit parts, summed.
    auto digit = [](char c) { return (c >= '0' && c <= '9') || c == '.'; };
    if (text.empty()) {
        return std::nullopt;
    }
    double total = 0;
    std::size_t i = 0;
    int parts = 0;
    while (i < text.size()) {
        const std::size_t start = i;
        while (i < text.size() && digit(text[i])) {
            ++i;
        }
        if (i == start) {
            return std::nullopt;  // a unit without a number, or a sign
        }
        double value = 0;
        try {
            std::size_t used = 0;
            value = std::stod(std::string(text.substr(start, i - start)), &used);
            if (used != i - start) {
                return std::nullopt;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
        const std::size_t unit_start = i;
        while (i < text.size() && !digit(text[i])) {
            ++i;
        }
        const std::string_view unit = text.substr(unit_start, i - unit_start);
        double factor = 0;
        if (unit.empty()) {
            // A bare number is seconds, but only on its own: "1h30" is a typo.
            if (parts > 0) {
                return std::nullopt;
            }
            factor = 1000;
        } else if (unit == "s") {
            factor = 1000;
        } else if (unit == "ms") {
            factor = 1;
        } else if (unit == "m") {
            factor = 60'000;
        } else if (unit == "h") {
            factor = 3'600'000;
        } else if (unit == "d") {
            factor = 86'400'000;
        } else {
            return std::nullopt;
        }
        if (unit.empty() && i < text.size()) {
            return std::nullopt;
        }
        total += value * factor;
        ++parts;
    }
    if (!(total >= 0) || total > 1e12) {
        return std::nullopt;
    }
    return std::chrono::milliseconds{static_cast<long long>(std::llround(total))};
}

std::string format_duration(std::chrono::milliseconds d) {
    long long ms = d.count();
    if (ms == 0) {
        return "0s";
    }
    std::string out;
    const std::pair<long long, const char*> units[] = {
        {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
    for (const auto& [size, name] : units) {
        if (ms >= size) {
            out += std::to_string(ms / size) + name;
            ms %= size;
        }
    }
    return out;
}

std::chrono::milliseconds checked_duration(std::string_view what, std::string_view text,
                                           std::chrono::milliseconds min,
                                           std::chrono::milliseconds max) {
    const auto d = parse_duration(text);
    if (d && *d >= min && *d <= max) {
        return *d;
    }
    const std::string range = "from " + format_duration(min) + " to " + format_duration(max);
    const bool is_flag = what.rfind("--", 0) == 0;
    throw Error(ErrorKind::Usage,
                "invalid " + std::string(what) + " " + quote_input(text) + ": " +
                    (d ? "use a duration " + range : "not a duration (" + range + ")"))
        .with_hint("e.g. " + std::string(what) + (is_flag ? " " : "=") +
                   "1h30m; a duration is one or more parts such as 7d, 12h, 10m, 90s, 1500ms "
                   "(a bare number is seconds)");
}

const std::vector<DurationRange>& duration_ranges() {
    using std::chrono::hours;
    using std::chrono::milliseconds;
    constexpr hours k_day{24};
    // --timeout covers one create (a minute or so, 10m by default); a day is
    // far past any wait. A TTL or an age beyond ten years means a typo.
    static const std::vector<DurationRange> k_rows = {
        {"--timeout", milliseconds(1), k_day},
        {"--request-timeout", milliseconds(1), k_day},
        {"--connect-timeout", milliseconds(1), k_day},
        {"--ttl", std::chrono::seconds(1), 3650 * k_day},
        {"--older-than", milliseconds(0), 3650 * k_day},
        {"--grace", milliseconds(0), 30 * k_day},
        {"--empty-sandbox-list-older-than", milliseconds(0), 3650 * k_day},
    };
    return k_rows;
}

const DurationRange& duration_range(std::string_view flag) {
    for (const auto& row : duration_ranges()) {
        if (row.flag == flag) {
            return row;
        }
    }
    throw Error(ErrorKind::Internal, "duration flag without a range: " + std::string(flag));
}

std::chrono::milliseconds flag_duration(std::string_view flag, std::string_view text) {
    const DurationRange& range = duration_range(flag);
    return checked_duration(flag, text, range.min, range.max);
}

std::string duration_range_text(std::string_view flag) {
    const DurationRange& range = duration_range(flag);
    return format_duration(range.min) + " to " + format_duration(range.max);
}

}  // namespace xbranch::cli
