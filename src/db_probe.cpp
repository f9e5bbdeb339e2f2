// The connection check's probe: one login and `SELECT 1` (PqProber, over
// pq_conn.hpp) and the retry loop around it (probe_until_usable).
#include "xbranch/db_probe.hpp"

#include <optional>

#include "pq_wait.hpp"

namespace xbranch {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

milliseconds since(steady_clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

}  // namespace

ProbeResult PqProber::try_login(const ConnectionInfo& info, milliseconds budget,
                                const CancelToken* cancel) {
    const auto start = steady_clock::now();
    auto opened =
        open_connection(info, *m_clock, Deadline::in(*m_clock, budget), cancel, *m_resolver);
    if (!opened.result.ok) {
        return opened.result;
    }
    std::string value;
    detail::QueryFailure failure;
    ProbeResult r;
    if (!detail::run_query(opened.connection->get(), "SELECT 1", start + budget, cancel, &value,
                           &failure)) {
        r = probe_failure(failure.reason, failure.sqlstate, failure.message);
    } else if (value != "1") {
        r = probe_failure(ProbeReason::Other, "", "SELECT 1 answered '" + value + "'");
    } else {
        r.ok = true;
        r.reason = ProbeReason::Ok;
    }
    r.elapsed = since(start);
    return r;
}

ProbeLoopResult probe_until_usable(DatabaseProber& prober, Waiter& waiter,
                                   const ConnectionInfo& info,
                                   const std::function<void(int)>& on_try, ProbeLoopOptions options,
                                   const std::function<double()>& unit_random) {
    ProbeLoopResult out;
    out.last = probe_failure(ProbeReason::Timeout, "", "the deadline passed before a login try");
    if (waiter.cancelled()) {
        out.last = probe_failure(ProbeReason::Cancelled, "", "stopped before a login try");
        return out;
    }
    if (waiter.deadline_passed()) {
        return out;
    }
    // The one retry policy (retry.hpp), with the short steps a settling
    // branch needs: 50 ms doubling to 250 ms, no attempt cap but the deadline.
    // The cap keeps "usable" within ~0.3 s of the password taking effect
    // (bench/: a 1 s cap was 0.36-0.53 s late); a login is cheap, and a
    // warm-pool lag lasts seconds, so this is a handful of tries.
    RetryPolicy policy;
    policy.max_attempts = 0;
    policy.base = milliseconds{50};
    policy.max_backoff = milliseconds{250};
    ProbeReason previous = ProbeReason::Ok;
    int same = 0;
    // A login refused for longer than a password lag lasts may mean the
    // target was deleted meanwhile: look, but seldom (each look is a request
    // elsewhere), and never past the deadline or a stop.
    std::optional<Clock::TimePoint> last_watch;
    auto watch_due = [&](int failed) {
        if (!options.target_gone || failed < options.watch_after || waiter.cancelled() ||
            waiter.deadline_passed()) {
            return false;
        }
        return !last_watch || waiter.clock().now() - *last_watch >= options.watch_every;
    };
    auto try_once = [&](int n) {
        out.tries = n;
        if (on_try) {
            on_try(n);
        }
        const auto budget = std::min(waiter.left(), options.per_try);
        ProbeResult result = prober.try_login(info, budget, waiter.cancel());
        // A try the time limit cut short that timed out says only that the
        // time ran out, not that the server is silent (which would also read
        // as "unreachable from here": the private-branch hint). The last
        // complete try's failure stays the one reported.
        if (!result.ok && result.reason == ProbeReason::Timeout && budget < options.per_try &&
            n > 1 && out.last.reason != ProbeReason::Timeout && waiter.deadline_passed()) {
            return Attempt::retry(std::string(reason_name(out.last.reason)) + ": " +
                                  out.last.message);
        }
        out.last = std::move(result);
        if (out.last.ok) {
            return Attempt::done();
        }
        if (out.last.reason == ProbeReason::Cancelled) {
            return Attempt::fail(out.last.message);
        }
        same = out.last.reason == previous ? same + 1 : 1;
        previous = out.last.reason;
        if (out.last.max_tries > 0 && same >= out.last.max_tries) {
            out.gave_up_early = !waiter.deadline_passed();
            return Attempt::fail(out.last.message);
        }
        if (watch_due(n)) {
            last_watch = waiter.clock().now();
            ++out.watches;
            if (options.target_gone()) {
                out.target_gone = true;
                return Attempt::fail("the target is gone");
            }
        }
        return Attempt::retry(std::string(reason_name(out.last.reason)) + ": " + out.last.message);
    };
    const auto random = unit_random ? unit_random : std::function<double()>([] { return 1.0; });
    const LoopEnd end = RetryLoop(waiter, policy, random).run("connection check", try_once, 0);
    if (end.why == LoopEnd::Why::Cancelled && out.last.reason != ProbeReason::Cancelled) {
        out.last = probe_failure(ProbeReason::Cancelled, "", "stopped between login tries");
    }
    return out;
}

}  // namespace xbranch
