#include "xbranch/retry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace xbranch {

bool RetryPolicy::retryable_method(const std::string& method) {
    return method == "GET" || method == "DELETE" || method == "PATCH" || method == "HEAD";
}

bool RetryPolicy::retryable_status(long status) {
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

bool RetryPolicy::should_retry(const std::string& method, const HttpOutcome& outcome,
                               int attempt) const {
    if (attempt >= max_attempts || !retryable_method(method)) {
        return false;
    }
    if (!outcome.ok()) {
        // Timeouts, refused or dropped connections may pass; a certificate that
        // fails verification will fail the same way again.
        return outcome.error->kind != TransportError::Kind::Tls;
    }
    return retryable_status(outcome.response->status);
}

std::chrono::milliseconds RetryPolicy::delay(int attempt,
                                             std::optional<std::chrono::milliseconds> retry_after,
                                             double unit_random) const {
    if (retry_after) {
        return std::clamp(*retry_after, std::chrono::milliseconds{0}, max_retry_after);
    }
    // Equal jitter (never less than half a step, so retries stay spaced): uniform in [step/2,
    // step], step = base * 2^(attempt-1), capped.
    const int shift = std::clamp(attempt - 1, 0, 20);
    const std::chrono::milliseconds step =
        std::min(max_backoff, std::chrono::milliseconds{base.count() * (1LL << shift)});
    const double r = std::clamp(unit_random, 0.0, 1.0);
    const auto half = step.count() / 2;
    return std::chrono::milliseconds{half + static_cast<std::chrono::milliseconds::rep>(
                                                static_cast<double>(step.count() - half) * r)};
}

std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           std::int64_t now_unix) {
    std::string v = value;
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    if (v.empty()) {
        return std::nullopt;
    }
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        long long seconds = 0;
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
        if (ec != std::errc{} || seconds > 86400) {
            return std::chrono::milliseconds{86400LL * 1000};
        }
        return std::chrono::milliseconds{seconds * 1000};
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    char month[4] = {};
    char weekday[4] = {};
    int day = 0;
    int year = 0;
    int hh = 0;
    int mm = 0;
    int ss = 0;
    if (std::sscanf(v.c_str(), "%3s, %d %3s %d %d:%d:%d GMT", weekday, &day, month, &year, &hh, &mm,
                    &ss) != 7) {
        return std::nullopt;
    }
    static const char* const k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int mon = -1;
    for (int i = 0; i < 12; ++i) {
        if (std::string_view(month) == k_months[i]) {
            mon = i;
        }
    }
    if (mon < 0 || day < 1 || day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60) {
        return std::nullopt;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    const std::int64_t when = timegm(&tm);
    const std::int64_t diff = std::max<std::int64_t>(0, when - now_unix);
    return std::chrono::milliseconds{std::min<std::int64_t>(diff, 86400) * 1000};
}

}  // namespace xbranch
