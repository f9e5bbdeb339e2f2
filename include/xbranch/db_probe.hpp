// The connection check: one real PostgreSQL login (libpq) plus `SELECT 1`,
// bounded in time and stoppable, with failures classified into "retry" or
// "cannot heal". The network edge is DatabaseProber (PqProber for real,
// FakeProber in tests/unit/fake_edges.hpp); the classification is pure.
//
// How to wire it (lead): after credentials, call probe_until_usable() with the
// exact ConnectionInfo that goes to the outputs and a Waiter on the run's one
// deadline and cancellation token. It calls try_login until ok or
// the deadline through RetryLoop, backs off 50 ms, 100 ms, 200 ms, then 250 ms, and stops
// early once a reason that cannot heal (retry == false) was seen max_tries
// times in a row. Each try is bounded by min(per-try cap, time left). On
// failure, raise the "not connectable" error with result.message (already
// redacted) and reason_name(result.reason); use on_try for the progress line
// ("connecting, try N"). A private branch (publicAccess false) deserves the
// "reachable only from inside your network" hint whatever the reason.
// Host names are resolved before libpq sees them (resolver.hpp: bounded by the
// try's budget and stoppable, like the socket waits), and libpq gets the
// address as `hostaddr` next to the name: its own getaddrinfo() never blocks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "xbranch/clock.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/pq_conn.hpp"
#include "xbranch/pq_failure.hpp"
#include "xbranch/resolver.hpp"
#include "xbranch/retry.hpp"

namespace xbranch {

class DatabaseProber {
  public:
    virtual ~DatabaseProber() = default;
    // One login with `info` and `SELECT 1`, within `budget`; returns Cancelled
    // as soon as `cancel` (may be null) is set. Never throws.
    virtual ProbeResult try_login(const ConnectionInfo& info, std::chrono::milliseconds budget,
                                  const CancelToken* cancel) = 0;
};

class PqProber final : public DatabaseProber {
  public:
    PqProber() = default;
    explicit PqProber(HostResolver& resolver) : m_resolver(&resolver) {}
    // `clock` measures each try's budget (the lookup's and the connect's deadline).
    PqProber(HostResolver& resolver, const Clock& clock) : m_resolver(&resolver), m_clock(&clock) {}
    ProbeResult try_login(const ConnectionInfo& info, std::chrono::milliseconds budget,
                          const CancelToken* cancel) override;

  private:
    static const Clock& system_clock() {
        static const SystemClock k_clock;
        return k_clock;
    }
    HostResolver* m_resolver = &system_resolver();
    const Clock* m_clock = &system_clock();
};

struct ProbeLoopOptions {
    std::chrono::milliseconds per_try{5000};  // one silent server costs at most this
    // While logins keep failing, `target_gone` (when set) is asked between
    // tries: after watch_after failed tries, then once per watch_every. True
    // (the target is gone for sure) ends the loop; it must never throw.
    std::function<bool()> target_gone;
    int watch_after = 5;
    std::chrono::milliseconds watch_every{5000};
};
struct ProbeLoopResult {
    ProbeResult last;  // ok, or the last failure
    int tries = 0;
    bool gave_up_early = false;  // a reason that cannot heal, before the deadline
    bool target_gone = false;    // target_gone() said so: no login can work any more
    int watches = 0;             // calls of target_gone
};
// The connection-check loop described at the top, on the one retry policy
// (retry.hpp's RetryLoop): the waiter carries the run's deadline and
// cancellation token. on_try(n) runs before try n. unit_random (jitter, [0, 1))
// defaults to 1.0: the full step, 100, 200, 400 ms...
ProbeLoopResult probe_until_usable(DatabaseProber& prober, Waiter& waiter,
                                   const ConnectionInfo& info,
                                   const std::function<void(int)>& on_try = {},
                                   ProbeLoopOptions options = {},
                                   const std::function<double()>& unit_random = {});

}  // namespace xbranch
