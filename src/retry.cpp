#include "xbranch/retry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "xbranch/redact.hpp"

namespace xbranch {

namespace {
using ms = std::chrono::milliseconds;
}  // namespace

bool RetryPolicy::retryable_method(const std::string& method) {
    return method == "GET" || method == "DELETE" || method == "PATCH" || method == "HEAD";
}

bool RetryPolicy::retryable_status(long status) {
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

bool RetryPolicy::retryable(const std::string& method, const HttpOutcome& outcome) {
    if (!retryable_method(method)) {
        return false;
    }
    if (!outcome.ok()) {
        // Timeouts, refused or dropped connections may pass; a certificate that
        // fails verification, an oversized answer or a cancel will not.
        const auto k = outcome.error->kind;
        return k != TransportError::Kind::Tls && k != TransportError::Kind::TooLarge &&
               k != TransportError::Kind::Cancelled;
    }
    return retryable_status(outcome.response->status);
}

ms RetryPolicy::delay(int attempt, std::optional<ms> retry_after, double unit_random) const {
    if (retry_after) {
        return std::clamp(*retry_after, ms{0}, max_retry_after);
    }
    // Equal jitter (never less than half a step, so retries stay spaced): uniform in [step/2,
    // step], step = base * 2^(attempt-1), capped.
    const int shift = std::clamp(attempt - 1, 0, 20);
    const ms step = std::min(max_backoff, ms{base.count() * (1LL << shift)});
    const double r = std::clamp(unit_random, 0.0, 1.0);
    const auto half = step.count() / 2;
    return ms{half + static_cast<ms::rep>(static_cast<double>(step.count() - half) * r)};
}

ms RetryPolicy::rate_limit_delay(int refusals, std::optional<ms> retry_after,
                                 double unit_random) const {
    const ms floor = std::clamp(retry_after.value_or(rate_limit_pause), ms{0}, max_retry_after);
    const int shift = std::clamp(refusals - 1, 0, 3);  // 1, 2, 4, 8 x
    const ms doubled = std::min(max_retry_after, ms{floor.count() * (1LL << shift)});
    const double r = std::clamp(unit_random, 0.0, 1.0);
    const ms jittered =
        doubled + ms{static_cast<ms::rep>(static_cast<double>(doubled.count()) * r)};
    return std::min(jittered, max_retry_after);
}

namespace {
constexpr ms k_max_gap{8000};
constexpr ms k_min_gap{50};
constexpr double k_gap_growth = 1.5;
constexpr double k_gap_shrink = 0.9;
// How a wait ended the loop, or nullopt when it slept its time and the
// loop goes on (the pacer's gap and the backoff alike).
std::optional<LoopEnd::Why> stopped_by(Waiter::Result r) {
    switch (r) {
        case Waiter::Result::Cancelled:
            return LoopEnd::Why::Cancelled;
        case Waiter::Result::DeadlineReached:
            return LoopEnd::Why::DeadlineReached;
        case Waiter::Result::Slept:
            break;
    }
    return std::nullopt;
}

}  // namespace

ms RatePacer::wait_before(Clock::TimePoint now) const {
    std::lock_guard lock(m_mu);
    if (m_gap <= ms{0} || !m_last_start) {
        return ms{0};
    }
    const auto due = *m_last_start + m_gap;
    return due > now ? std::chrono::ceil<ms>(due - now) : ms{0};
}

void RatePacer::started(Clock::TimePoint now) {
    std::lock_guard lock(m_mu);
    m_last_start = now;
}

void RatePacer::refused(std::optional<ms> retry_after, ms pause, double unit_random) {
    std::lock_guard lock(m_mu);
    const ms asked = retry_after.value_or(pause);
    const auto grown = ms{static_cast<ms::rep>(static_cast<double>(m_gap.count()) * k_gap_growth)};
    const ms base = std::min(std::max(asked, grown), k_max_gap);
    const double r = std::clamp(unit_random, 0.0, 1.0);
    const double factor = 0.75 + 0.5 * r;
    m_gap =
        std::min(k_max_gap, ms{static_cast<ms::rep>(static_cast<double>(base.count()) * factor)});
}

void RatePacer::answered() {
    std::lock_guard lock(m_mu);
    m_gap = ms{static_cast<ms::rep>(static_cast<double>(m_gap.count()) * k_gap_shrink)};
    if (m_gap < k_min_gap) {
        m_gap = ms{0};
    }
}

ms RatePacer::gap() const {
    std::lock_guard lock(m_mu);
    return m_gap;
}

Waiter::Result Waiter::wait(ms d) {
    if (cancelled()) {
        return Result::Cancelled;
    }
    const ms left = m_deadline.left(m_clock);
    const ms nap = std::min(d, left);
    if (nap > ms{0} && !m_clock.sleep_for(nap, m_cancel)) {
        return Result::Cancelled;
    }
    if (cancelled()) {
        return Result::Cancelled;
    }
    return m_deadline.passed(m_clock) ? Result::DeadlineReached : Result::Slept;
}

LoopEnd RetryLoop::run(const std::string& what, const std::function<Attempt(int)>& try_once,
                       int max_attempts) {
    LoopEnd end;
    int counted = 0;
    int free_used = 0;
    int refusals = 0;
    RatePacer* pacer = m_policy.pacer.get();
    for (;;) {
        if (m_waiter.cancelled()) {
            end.why = LoopEnd::Why::Cancelled;
            return end;
        }
        // After 429s: this client's requests keep the pacer's gap, whatever call.
        if (pacer != nullptr) {
            const ms gap = pacer->wait_before(m_waiter.clock().now());
            if (gap > ms{0}) {
                spdlog::debug("{}: rate limited before; waiting {} ms", what, gap.count());
                if (const auto why = stopped_by(m_waiter.wait(gap))) {
                    end.why = *why;
                    return end;
                }
            }
            pacer->started(m_waiter.clock().now());
        }
        ++end.tries;
        Attempt a = try_once(end.tries);
        if (a.verdict != Attempt::Verdict::Done) {
            end.last_reason = a.reason;
        }
        if (a.verdict == Attempt::Verdict::Done) {
            if (pacer != nullptr) {
                pacer->answered();
            }
            end.why = LoopEnd::Why::Done;
            return end;
        }
        if (a.verdict == Attempt::Verdict::Fail) {
            end.why = m_waiter.cancelled() ? LoopEnd::Why::Cancelled : LoopEnd::Why::Failed;
            return end;
        }
        if (!a.counts && free_used < m_policy.max_free_retries) {
            ++free_used;
        } else {
            ++counted;
        }
        if (max_attempts > 0 && counted >= max_attempts) {
            end.why = LoopEnd::Why::Exhausted;
            return end;
        }
        // The backoff grows with every try, free or not, so a crowd spreads
        // out; a 429 waits its jittered Retry-After, doubled when repeated.
        ms wait{0};
        if (!a.counts) {
            ++refusals;
            if (pacer != nullptr) {
                pacer->refused(a.retry_after, m_policy.rate_limit_pause, m_random());
            }
            wait = m_policy.rate_limit_delay(refusals, a.retry_after, m_random());
        } else {
            wait = m_policy.delay(end.tries, a.retry_after, m_random());
        }
        if (pacer != nullptr) {
            wait = std::max(wait, pacer->wait_before(m_waiter.clock().now()));
        }
        if (wait >= m_waiter.left()) {
            // No try follows: announcing "try N+1" made the log count one
            // more try than the loop's own result (and its caller's message).
            spdlog::info("{}: {}; the time limit ends before another try (after {})", what,
                         redact(a.reason),
                         end.tries == 1 ? "1 try" : std::to_string(end.tries) + " tries");
        } else {
            spdlog::info("{}: {}; retrying in {} ms (try {})", what, redact(a.reason), wait.count(),
                         end.tries + 1);
        }
        if (const auto why = stopped_by(m_waiter.wait(wait))) {
            end.why = *why;
            return end;
        }
    }
}

}  // namespace xbranch
