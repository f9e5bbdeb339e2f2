#include "xbranch/log.hpp"

#include <fmt/chrono.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "xbranch/error.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

LogFormat g_format = LogFormat::Text;
bool g_timestamps = false;

std::string timestamp(spdlog::log_clock::time_point tp) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count() % 1000;
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                       fmt::gmtime(spdlog::log_clock::to_time_t(tp)), millis);
}

// Every message is redacted here, whoever logged it, and made printable:
// API bodies, libpq messages and hook output may hold ESC sequences.
class RedactingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string text =
            printable(redact(std::string_view(msg.payload.data(), msg.payload.size())));
        const auto level = spdlog::level::to_string_view(msg.level);
        std::string line;
        if (g_format == LogFormat::Json) {
            line = json_line({{"time", timestamp(msg.time)},
                              {"level", std::string(level.data(), level.size())},
                              {"msg", text}}) +
                   "\n";
        } else {
            if (g_timestamps) {
                line += timestamp(msg.time) + " ";
            }
            if (msg.level != spdlog::level::info) {
                line += msg.level == spdlog::level::warn ? "warning"
                                                         : std::string(level.data(), level.size());
                line += ": ";
            }
            line += text + "\n";
        }
        clear_progress_line();  // not glued to the end of a spinner line
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};

}  // namespace

std::string log_time_now() {
    return timestamp(spdlog::log_clock::now());
}

std::string json_line(const nlohmann::ordered_json& value) {
    return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void setup_logging(int verbosity, LogFormat format) {
    g_format = format;
    g_timestamps = verbosity >= 1;
    auto sink = std::make_shared<RedactingStderrSink>();
    auto logger = std::make_shared<spdlog::logger>("xbranch", sink);
    spdlog::level::level_enum level = spdlog::level::info;
    if (verbosity < 0) {
        level = spdlog::level::err;
    } else if (verbosity == 1) {
        level = spdlog::level::debug;
    } else if (verbosity >= 2) {
        level = spdlog::level::trace;
    }
    logger->set_level(level);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

LogFormat log_format() {
    return g_format;
}

}  // namespace xbranch
