#include "xbranch/retry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "xbranch/redact.hpp"

namespace xbranch {

using ms = std::chrono::milliseconds;

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
    for (;;) {
        if (m_waiter.cancelled()) {
            end.why = LoopEnd::Why::Cancelled;
            return end;
        }
        ++end.tries;
        Attempt a = try_once(end.tries);
        if (a.verdict != Attempt::Verdict::Done) {
            end.last_reason = a.reason;
        }
        if (a.verdict == Attempt::Verdict::Done) {
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
        // The backoff grows with every try, free or not, so a crowd spreads out.
        const ms wait = m_policy.delay(end.tries, a.retry_after, m_random());
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
        switch (m_waiter.wait(wait)) {
            case Waiter::Result::Cancelled:
                end.why = LoopEnd::Why::Cancelled;
                return end;
            case Waiter::Result::DeadlineReached:
                end.why = LoopEnd::Why::DeadlineReached;
                return end;
            case Waiter::Result::Slept:
                break;
        }
    }
}

}  // namespace xbranch
