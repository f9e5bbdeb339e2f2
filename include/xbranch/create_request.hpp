// What a create is asked (CreateRequest), what it hands back (CreateResult),
// how a run is stopped (RunControl) and how often readiness is polled
// (PollSchedule): the values that Lifecycle::create and its steps
// (src/create_steps.hpp) pass between them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/cancel.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/hooks.hpp"
#include "xbranch/xata_types.hpp"

namespace xbranch {

// How often to ask whether the branch is ready (poll_schedule.cpp): right
// after the POST, then three waits of `ramp_step`, then the k-th wait
// (k - 1) x `ramp_step` up to `quick_until`, then `first_late` and each wait
// twice the one before, at most `max_interval`. Defaults (bench/, D =
// readiness delay): polls at 0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.5 s, then 2.1,
// 3.3, 5.7, 10.5 s and every 5 s: a branch ready within 0.3 s (the
// emulator's D = 0 on PostgreSQL takes about 0.2 s) is seen within 0.1 s,
// D = 1.5 s at once, and a wait of 10 s costs 11 polls, no more than the
// official CLI's 1 s polling (10-11 with its own overhead). The price:
// between 1.5 s and 10 s a branch is seen up to half of the time waited
// late (the former 300 ms / 20% / 1 s cap made 18 polls at 10 s, at most
// 1 s late).
struct PollSchedule {
    std::chrono::milliseconds ramp_step{100};
    std::chrono::milliseconds quick_until{1500};
    std::chrono::milliseconds first_late{600};
    std::chrono::milliseconds max_interval{5000};

    // The wait before the next poll, `elapsed` after the first (pure).
    std::chrono::milliseconds next(std::chrono::milliseconds elapsed) const;
};

struct CreateResult;

struct CreateRequest {
    std::string branch_name;
    std::string parent;  // name or id
    bool parent_is_id = false;
    std::string description;  // the user's note, "" for none
    // This run's token (make_run_token), written into the branch's tag; a
    // branch found by name counts as this run's only when its tag carries it.
    // "": no tag (the description is sent as it is, found branches are adopted).
    std::string run_token;
    // Time to live: the tag of a branch this run creates records now + ttl as
    // its expiry (rounded up to a minute); an adopted branch keeps its own.
    // Needs a run token (the tag carries both).
    std::optional<std::chrono::seconds> ttl;
    // Without a ttl: this expiry (Unix seconds) as it is, e.g. the one a
    // reset carries over from the branch it deleted (carry_over_for_reset).
    std::optional<std::int64_t> expires_at;
    // xbranch's name prefix: a create refused for the branch cap names the
    // oldest branches with it (those gc could remove). "": none named.
    std::string prefix;
    // The whole create, every request and wait included.
    std::chrono::milliseconds timeout{10 * 60 * 1000};
    std::chrono::milliseconds wake_after{3000};  // HIBERNATED this long: wake it
    Endpoint endpoint = Endpoint::ReadWrite;
    std::string sslmode = "require";
    bool keep_on_failure = false;
    PollSchedule schedule{};
    // After credentials (usable.hpp): a real login before "ready". The CLI
    // turns it on (unless told not to); it needs UsableEdges::prober.
    bool connect_check = false;
    // The database in the URL path; "": the credentials' dbname, else "xata".
    std::string database;
    // Run in order after the check, once per branch: the tag records Pending
    // before the first and Done after the last. A rerun that adopts a Done
    // branch skips them; one that adopts a Pending branch (a run killed
    // mid-hook, never handed out) deletes it and creates it afresh, but only
    // while it holds the hooks' lock (hook_lock.hpp) and the tag, read again
    // then, still says Pending: while a live run holds it, the rerun waits for
    // Done (then adopts) and never deletes the branch. Hooks run only while
    // their run holds the lock: a try without answer (a lagging password) is
    // tried again until the deadline (then Timeout, no hook ran). Runs that
    // found no hook state yet take turns at that lock and read the tag again
    // once they hold it: Done skips, another run's Pending is a Conflict.
    std::vector<HookSpec> hooks;
    // Called once with the result so far when the connection to hand out is
    // known, just before the connection check logs in (the CLI stages the
    // output files meanwhile). Optional; it must not throw.
    std::function<void(const CreateResult&)> on_connection;
};

struct CreateResult {
    Branch branch;
    std::string parent_id;
    bool adopted = false;        // the branch existed before this run
    bool created_by_us = false;  // this run's POST made it (directly or settled by its tag)
    BranchStatus status;
    ConnectionInfo connection;
    ConnectionInfo pooled;    // the same credentials on the pooler endpoint
    int login_tries = 0;      // of the connection check; 0 when skipped
    bool hooks_ran = false;   // this run ran the hooks
    std::string replaced_id;  // a Pending branch deleted and made afresh: its old id
    // At the hooks' lock: another run may have adopted the branch and run
    // its hooks on it. A failure from then on deletes the branch this run
    // made only when no other run's hooks are Pending on it.
    bool hooks_phase = false;
    bool hooks_started = false;  // this run wrote Pending (holding the lock)
};

// How a run is stopped: the run's token (first signal), the cleanup's token
// (a second signal), and the budget cleanup gets after a failure or signal.
struct RunControl {
    const CancelToken* cancel = nullptr;
    const CancelToken* cleanup_cancel = nullptr;
    std::chrono::milliseconds cleanup_budget{10000};      // all of one cleanup
    std::chrono::milliseconds cleanup_request_cap{3000};  // each request in it
    // --timeout bounds the whole command: the steps after this run made a
    // branch end as long before the limit as its create took (at most
    // cleanup_reserve and a fifth of the limit), so that deleting the branch
    // when one fails fits, and that delete may run at most deadline_grace
    // past the limit. A signal's cleanup keeps its own budget.
    std::chrono::milliseconds cleanup_reserve{3000};
    std::chrono::milliseconds deadline_grace{500};
};

}  // namespace xbranch
