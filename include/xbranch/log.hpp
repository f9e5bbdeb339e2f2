// spdlog set up once: stderr, every line redacted, text or JSON lines.
#pragma once

#include <string>

namespace xbranch {

enum class LogFormat { Text, Json };

// verbosity: -1 quiet (errors only), 0 info, 1 debug, 2+ trace.
void setup_logging(int verbosity, LogFormat format);
LogFormat log_format();

// Escapes a string for a JSON value (no quotes added).
std::string json_escape(const std::string& text);

}  // namespace xbranch
