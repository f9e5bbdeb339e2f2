// spdlog set up once: stderr, every line redacted, text or JSON lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace xbranch {

enum class LogFormat { Text, Json };

// verbosity: -1 quiet (errors only), 0 info, 1 debug, 2+ trace.
void setup_logging(int verbosity, LogFormat format);
LogFormat log_format();

// One JSON line (no newline): invalid UTF-8 becomes U+FFFD instead of
// making the whole line invalid JSON.
std::string json_line(const nlohmann::ordered_json& value);

// Now as the log lines' "time": RFC 3339 UTC with milliseconds.
std::string log_time_now();

}  // namespace xbranch
