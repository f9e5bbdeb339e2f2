// The orchestration of create and delete: adopt on 409 or an uncertain POST
// (claiming a branch as this run's only when its description tag carries
// this run's token), wait for readiness with adaptive polling, wake
// hibernated branches, fetch credentials, and clean up what this run created
// when it fails or is cancelled. All waits go through retry.hpp's Waiter and
// RetryLoop, bounded by one Deadline (the command's time limit) and the
// RunControl's tokens.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/clock.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/tag.hpp"
#include "xbranch/usable.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch {

// How often to ask whether the branch is ready (poll_schedule.cpp): right
// after the POST, then the k-th wait k x `ramp_step` up to `quick_until`,
// then `first_late` and each wait twice the one before, at most
// `max_interval`. Defaults (bench/, D = readiness delay): polls at 0, 0.1,
// 0.3, 0.6, 1.0, 1.5 s, then 2.1, 3.3, 5.7, 10.5 s and every 5 s: D = 0.1 or
// 1.5 s is seen at once, and a wait of 10 s costs 10 polls, no more than the
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

class Lifecycle {
  public:
    Lifecycle(XataClient& client, Clock& clock, Progress& progress, RunControl control = {})
        : m_client(client), m_clock(clock), m_progress(progress), m_control(control) {}

    // The connection check's and the hooks' edges (usable.hpp).
    void set_edges(UsableEdges edges) { m_edges = std::move(edges); }

    // Create-or-adopt, wait until HEALTHY, fetch credentials, all within
    // request.timeout. On any failure after this run created the branch,
    // deletes it (unless keep_on_failure) and rethrows an Error whose
    // cleanup() says what became of it.
    CreateResult create(const CreateRequest& request);

    // Waits until the branch is HEALTHY; throws Timeout (ReadyTimeout) or Fault.
    BranchDetails wait_ready(const std::string& id, const std::string& name, Deadline deadline,
                             const PollSchedule& schedule, std::chrono::milliseconds wake_after,
                             bool wake_now);

    // Credentials (asked again while they lag behind, until `deadline`) and
    // the connection details of a ready branch.
    ConnectionInfo connection_for(const BranchDetails& details, Endpoint endpoint,
                                  const std::string& sslmode, Deadline deadline);

    // Deletes a branch this run made, within the cleanup budget and token;
    // logs, never throws. True when the branch is gone.
    // `by`: also never past this (the command's limit plus its grace).
    bool cleanup(const Branch& branch, const std::string& why,
                 std::optional<Deadline> by = std::nullopt);
    // The same delete at the planned end of a branch's use (`run`): no
    // failure to report, so it logs at info. nullopt when the branch is gone,
    // else why it is left (an Interrupted error: the cleanup's token).
    std::optional<Error> discard(const Branch& branch);

    struct DeleteRequest {
        std::optional<std::string> id;  // wins over the name
        std::optional<std::string> name;
        std::string parent;  // never deleted (name or id)
        bool parent_is_id = false;
        std::string prefix;  // names without it are refused...
        bool force = false;  // ...unless forced
        // Describe the branch before deleting it (one more request for a
        // name), so that the result carries its description (its tag).
        bool read_description = false;
    };
    struct DeleteResult {
        bool deleted = false;  // false: it was already gone
        std::string id;
        std::string name;
        std::string description;  // with read_description, of the branch deleted
    };
    // A 404 by id counts as "already gone" only when the project answers.
    DeleteResult remove(const DeleteRequest& request);

    // Parent name or id -> id (lists branches only for a name; `listed`, when
    // given, receives that list).
    std::string resolve_parent_id(const std::string& parent, bool is_id,
                                  std::optional<Branch>* existing_same_name = nullptr,
                                  const std::string& branch_name = {},
                                  std::optional<std::vector<Branch>>* listed = nullptr);

    // After the server refused a POST for the branch count (400): where the
    // API has project limits (the hosted service), throws QuotaExceeded
    // naming the count, the cap and the oldest of ours when the project is
    // at its cap. Costs one request (two when `listed` is empty and there are
    // limits); a failed limits call is logged and passed, except a signal or
    // the deadline. A create under the cap never calls it.
    void check_room(const CreateRequest& request, std::optional<std::vector<Branch>>& listed);

  private:
    struct PostState;
    struct WakeState;

    Branch create_or_adopt(const CreateRequest& request, const std::string& parent_id,
                           CreateResult& result, const std::optional<Branch>& already_there);
    Attempt post_once(const CreateRequest& request, const std::string& parent_id, PostState& st,
                      CreateResult& result);
    Error post_failure(const std::string& op, const LoopEnd& end, const PostState& st) const;
    // After a failed or cancelled create whose POST may have made the branch:
    // finds it by name and deletes it when its tag is this run's.
    void settle_after_failure(const CreateRequest& request, Error& e);
    Branch claim(const Branch& found, const std::string& parent_id, const CreateRequest& request,
                 CreateResult& result);
    bool owned_by_this_run(const std::string& id, const std::string& token);
    Branch adopt(const Branch& existing, const std::string& parent_id, const std::string& name);
    void finish_create(const CreateRequest& request, Deadline deadline, CreateResult& result);
    void on_failure(const CreateRequest& request, const CreateResult& result, Error& e,
                    Deadline deadline);
    std::optional<BranchDetails> poll(const std::string& id, const std::string& op,
                                      const Waiter& waiter);
    void maybe_wake(const std::string& id, const std::string& name, WakeState& wake,
                    std::chrono::milliseconds wake_after, bool wake_now);
    Waiter::Result pause(Waiter& waiter, std::chrono::milliseconds d, Clock::TimePoint start);
    bool delete_own(const Branch& branch);
    std::optional<Error> try_delete_own(const Branch& branch);
    Credentials fetch_credentials(const std::string& id, Deadline deadline);
    XataClient::Limits cleanup_limits(std::optional<Deadline> by = std::nullopt) const;
    Error interrupted(const std::string& op) const;
    // usable.cpp: what happens after credentials.
    bool hooks_pending(const CreateResult& result, const BranchDetails& details) const;
    // A Pending branch: recreates it when its hooks' lock is free, else waits
    // (polling its tag) until Done, gone (then creates it) or the deadline.
    BranchDetails settle_pending(const CreateRequest& request, Deadline deadline,
                                 CreateResult& result, const BranchDetails& details);
    // Deletes the old branch first when delete_old (while `held`, the
    // hooks' lock, is still held), then creates it afresh and waits for it.
    BranchDetails recreate(const CreateRequest& request, Deadline deadline, CreateResult& result,
                           bool delete_old, std::unique_ptr<HeldHookLock> held = nullptr);
    // Cleanup's look (its own budget): the tag says Pending, or cannot be read.
    bool hooks_of_another_run(const Branch& branch);
    HookLockTry try_hook_lock(const ConnectionInfo& info, Deadline deadline);
    // The lock for running the hooks, or a throw: waits while another live
    // run holds it (HooksRunning at the deadline), tries again with a backoff
    // while a try gets no answer (Timeout at the deadline; BranchVanished when
    // a look every few seconds finds the branch deleted).
    HookLockTry hook_lock_for_hooks(CreateResult& result, Deadline deadline);
    bool vanished(const Branch& branch, std::optional<Deadline> by = std::nullopt);
    void complete_connection(const CreateRequest& request, CreateResult& result) const;
    void make_usable(const CreateRequest& request, Deadline deadline, CreateResult& result,
                     const BranchDetails& details);
    void check_connection(Deadline deadline, CreateResult& result, const BranchDetails& details);
    // One quick describe while logins fail: true only when the API says 404.
    // Never throws; a stop or the deadline is left to the caller's loop.
    bool gone_while_connecting(const Branch& branch, Deadline deadline);
    void run_hooks(const CreateRequest& request, Deadline deadline, CreateResult& result,
                   const BranchDetails& details);
    void run_one_hook(const HookSpec& hook, const CreateRequest& request, Deadline deadline,
                      const CreateResult& result);
    // PATCHes the tag with `state`; returns the description written.
    std::string write_hook_state(const CreateRequest& request, const CreateResult& result,
                                 const std::string& description, HookState state,
                                 const std::string& fingerprint);

    XataClient& m_client;
    Clock& m_clock;
    Progress& m_progress;
    RunControl m_control;
    UsableEdges m_edges;
};

}  // namespace xbranch
