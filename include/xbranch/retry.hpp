// Every retry and wait loop of xbranch goes through here: the backoff policy
// (pure), a Waiter (sleeps on the injected Clock, wakes early on the
// CancelToken, never sleeps past the Deadline) and RetryLoop, the one generic
// "try again until done, failed, out of attempts, cancelled or at the
// deadline" loop.
//
// Plugging in a new loop (e.g. a database login check): write one function
// `Attempt try_once(int attempt)` that makes one try and says Done, Retry (with
// a reason, and a server-given wait if any) or Fail; then
//   Waiter waiter(clock, cancel_token, deadline);
//   LoopEnd end = RetryLoop(waiter, policy, random).run(try_once, /*max_attempts=*/0);
// and map end.why (Cancelled -> exit 130/143, DeadlineReached -> a timeout,
// Exhausted/Failed -> the last reason) to the caller's error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "xbranch/clock.hpp"
#include "xbranch/http.hpp"

namespace xbranch {

// Spaces the requests of one client after the API rate-limited it (429),
// across all its calls: a refusal sets a gap between the starts of two tries
// (the Retry-After, or the policy's pause without one; 1.5x the gap it had
// when that is longer; at most 8 s; drawn within +-25%, so that a crowd
// refused together spreads out), and every answered try shrinks it by a
// tenth (gone below 50 ms). Without a refusal it costs nothing. Thread-safe.
class RatePacer {
  public:
    // How long a try about to start at `now` waits first (0: none).
    std::chrono::milliseconds wait_before(Clock::TimePoint now) const;
    void started(Clock::TimePoint now);
    void refused(std::optional<std::chrono::milliseconds> retry_after,
                 std::chrono::milliseconds pause, double unit_random);
    void answered();
    std::chrono::milliseconds gap() const;

  private:
    mutable std::mutex m_mu;
    std::chrono::milliseconds m_gap{0};
    std::optional<Clock::TimePoint> m_last_start;
};

struct RetryPolicy {
    int max_attempts = 4;                              // first try included
    int max_free_retries = 12;                         // 429s waited out on top of the attempts
    std::chrono::milliseconds base{300};               // 300 ms x 2^n ...
    std::chrono::milliseconds max_backoff{5000};       // ... up to 5 s
    std::chrono::milliseconds max_retry_after{30000};  // Retry-After honoured up to 30 s

    // Whether this method may be sent again after this outcome. POST never is:
    // its outcome is settled by the caller (look the name up, adopt).
    static bool retryable_method(const std::string& method);
    static bool retryable_status(long status);
    // Method and outcome only; the attempt count is RetryLoop's business.
    static bool retryable(const std::string& method, const HttpOutcome& outcome);

    // Delay before attempt number `attempt` + 1 (attempt counts from 1).
    // "Equal jitter": uniform in [step/2, step] of the exponential step; a Retry-After wins when
    // present (capped). `unit_random` is a value in [0, 1).
    std::chrono::milliseconds delay(int attempt,
                                    std::optional<std::chrono::milliseconds> retry_after,
                                    double unit_random) const;

    // After the `refusals`-th 429 of one call (from 1): the Retry-After (or
    // rate_limit_pause without one), doubled for each further 429 up to 8x,
    // plus up to as long again at random, at most max_retry_after: clients
    // refused in the same second do not all come back in the same second.
    std::chrono::milliseconds rate_limit_pause{1000};
    std::chrono::milliseconds rate_limit_delay(int refusals,
                                               std::optional<std::chrono::milliseconds> retry_after,
                                               double unit_random) const;

    // One per policy value, shared by its copies (one XataClient's calls and
    // the loops given its policy): RetryLoop waits on it before each try.
    std::shared_ptr<RatePacer> pacer = std::make_shared<RatePacer>();
};

// Sleeps on `clock` for at most the time left to `deadline`, waking early
// when `cancel` is set. The only way xbranch waits.
class Waiter {
  public:
    enum class Result { Slept, Cancelled, DeadlineReached };

    Waiter(Clock& clock, const CancelToken* cancel, Deadline deadline)
        : m_clock(clock), m_cancel(cancel), m_deadline(deadline) {}

    // Sleeps min(d, time left). DeadlineReached when no time is left after it.
    Result wait(std::chrono::milliseconds d);
    bool cancelled() const { return m_cancel != nullptr && m_cancel->cancelled(); }
    bool deadline_passed() const { return m_deadline.passed(m_clock); }
    std::chrono::milliseconds left() const { return m_deadline.left(m_clock); }
    Clock& clock() const { return m_clock; }
    const CancelToken* cancel() const { return m_cancel; }
    const Deadline& deadline() const { return m_deadline; }

  private:
    Clock& m_clock;
    const CancelToken* m_cancel;
    Deadline m_deadline;
};

// One try's verdict, as RetryLoop's callback returns it.
struct Attempt {
    enum class Verdict { Done, Retry, Fail };
    Verdict verdict = Verdict::Done;
    std::string reason;                                    // for logs and the final error
    std::optional<std::chrono::milliseconds> retry_after;  // the server asked for this wait
    bool counts = true;  // false: a refusal that used no attempt (429), up to max_free_retries

    static Attempt done() { return {}; }
    static Attempt retry(std::string why,
                         std::optional<std::chrono::milliseconds> after = std::nullopt) {
        return {Verdict::Retry, std::move(why), after, true};
    }
    static Attempt fail(std::string why) { return {Verdict::Fail, std::move(why), {}, true}; }
};

struct LoopEnd {
    enum class Why { Done, Failed, Exhausted, Cancelled, DeadlineReached };
    Why why = Why::Done;
    int tries = 0;            // calls of try_once
    std::string last_reason;  // of the last Retry or Fail
};

class RetryLoop {
  public:
    // `unit_random` gives values in [0, 1) for the jitter.
    RetryLoop(Waiter& waiter, const RetryPolicy& policy, std::function<double()> unit_random)
        : m_waiter(waiter), m_policy(policy), m_random(std::move(unit_random)) {}

    // Calls try_once(1), try_once(2), ... with policy delays between them
    // until it says Done or Fail, `max_attempts` counted tries were made (0:
    // no limit but the deadline), the token is cancelled or the deadline has
    // passed. try_once is not called once cancelled. `what` names the loop in logs.
    LoopEnd run(const std::string& what, const std::function<Attempt(int attempt)>& try_once,
                int max_attempts);

  private:
    Waiter& m_waiter;
    const RetryPolicy& m_policy;
    std::function<double()> m_random;
};

}  // namespace xbranch
