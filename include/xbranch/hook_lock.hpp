// Liveness of a run's hooks phase, kept by the branch's own database: the run
// that runs the hooks holds a session-level advisory lock there until its tag
// says Done (or it fails); a run killed loses its connection and the server
// frees the lock at once. A rerun finding the hooks Pending tries the same
// lock: taken, the owner is gone; busy, a live run still runs them.
// HookLocker is the edge (PqHookLocker for real, FakeHookLocker in tests).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "xbranch/cancel.hpp"
#include "xbranch/clock.hpp"
#include "xbranch/connection.hpp"

namespace xbranch {

// The advisory lock's two int4 keys, the same for every xbranch run.
inline constexpr int k_hook_lock_key1 = 2021161058;
inline constexpr int k_hook_lock_key2 = 1;

// A lock this process holds; destroying it releases it (closes the session).
class HeldHookLock {
  public:
    virtual ~HeldHookLock() = default;
};

struct HookLockTry {
    enum class Outcome {
        Acquired,  // `held` holds it now
        Busy,      // another session (a live run) holds it
        Unknown,   // no answer (no connection, the budget ran out, a stop): never proof of death
    };
    Outcome outcome = Outcome::Unknown;
    std::unique_ptr<HeldHookLock> held;  // set when Acquired
    std::string detail;                  // why Unknown; redacted, never the password
};

class HookLocker {
  public:
    virtual ~HookLocker() = default;
    // One pg_try_advisory_lock(k_hook_lock_key1, k_hook_lock_key2) over a new
    // connection with `info`, within min(per-try cap, time left); never throws.
    virtual HookLockTry try_lock(const ConnectionInfo& info, Clock& clock, Deadline deadline,
                                 const CancelToken* cancel) = 0;
};

// Over libpq (open_connection): the connection stays open inside the held lock.
class PqHookLocker final : public HookLocker {
  public:
    HookLockTry try_lock(const ConnectionInfo& info, Clock& clock, Deadline deadline,
                         const CancelToken* cancel) override;
};

}  // namespace xbranch
