// When and how long to wait before trying a request again. Pure: the caller
// owns the clock and the random source.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "xbranch/http.hpp"

namespace xbranch {

struct RetryPolicy {
    int max_attempts = 4;                              // first try included
    std::chrono::milliseconds base{300};               // 300 ms x 2^n ...
    std::chrono::milliseconds max_backoff{5000};       // ... up to 5 s
    std::chrono::milliseconds max_retry_after{30000};  // Retry-After honoured up to 30 s

    // Whether this method may be sent again after this outcome. POST never is:
    // its outcome is settled by the caller (look the name up, adopt).
    static bool retryable_method(const std::string& method);
    static bool retryable_status(long status);
    bool should_retry(const std::string& method, const HttpOutcome& outcome, int attempt) const;

    // Delay before attempt number `attempt` + 1 (attempt counts from 1).
    // "Equal jitter": uniform in [step/2, step] of the exponential step; a Retry-After wins when
    // present. `unit_random` is a value in [0, 1).
    std::chrono::milliseconds delay(int attempt,
                                    std::optional<std::chrono::milliseconds> retry_after,
                                    double unit_random) const;
};

// "Retry-After: 30" or an HTTP date; nullopt when absent or unreadable.
// `now_unix` is the current wall-clock time, for the date form.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           std::int64_t now_unix);

}  // namespace xbranch
