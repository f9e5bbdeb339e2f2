// Every duration flag's words: how a duration is written, and its range.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xbranch::cli {

// "10m", "90s", "1500ms", "1h", "7d", "45" (seconds), or a sum of unit parts
// ("1h30m", "2m30s", "1m0.5s"). nullopt when unreadable.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1ms", "90s", "1h30m", "3650d": the shortest exact spelling parse_duration reads.
std::string format_duration(std::chrono::milliseconds d);

// Every duration flag's value, read in one error style: Error(Usage) naming
// `what` (the flag or env var), the value (quoted), the range and an example.
// Below 1 ms never reaches libcurl (0 would mean "no timeout"); every
// duration has a maximum, so none is printed as thousands of days.
std::chrono::milliseconds checked_duration(std::string_view what, std::string_view text,
                                           std::chrono::milliseconds min,
                                           std::chrono::milliseconds max);

// The range of every duration flag, in one table (--timeout, --ttl,
// --older-than, --grace, --request-timeout, --connect-timeout).
struct DurationRange {
    std::string_view flag;
    std::chrono::milliseconds min;
    std::chrono::milliseconds max;
};
const std::vector<DurationRange>& duration_ranges();
const DurationRange& duration_range(std::string_view flag);  // Error(Internal) when not a row

// checked_duration with the flag's row of the table.
std::chrono::milliseconds flag_duration(std::string_view flag, std::string_view text);

// "1ms to 1d": the flag's range, for help texts.
std::string duration_range_text(std::string_view flag);

}  // namespace xbranch::cli
