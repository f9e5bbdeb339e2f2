// Private to the core: the steps of a create, each in its own file, taking
// and returning values. Lifecycle::create (lifecycle.cpp) calls them in
// order; none of them calls Lifecycle.
//   create_or_adopt.cpp  POST, claim by run token, adopt: returns who owns it
//   wait_ready.cpp       polls until HEALTHY (wakes a hibernated branch)
//   connection_step.cpp  credentials -> the connection handed out
//   connection_check.cpp a real login with it (probe_until_usable)
//   hook_flow.cpp        a Pending branch found by a rerun, the hooks, their lock
//   clean_up.cpp         the one clean-up after a failure (failure_cleanup.hpp's decision)
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "xbranch/create_request.hpp"
#include "xbranch/failure_cleanup.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/retry.hpp"
#include "xbranch/usable.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch::steps {

// What every step works with: the edges and the run's control.
struct StepEnv {
    XataClient& client;
    Clock& clock;
    Progress& progress;
    const RunControl& control;
    const UsableEdges& edges;

    // The Interrupted error for `op` (the run's token).
    Error interrupted(const std::string& op) const;
    // The run's token and `deadline`: what the steps' calls may use.
    Limits limits(Deadline deadline) const { return {control.cancel, deadline, std::nullopt}; }
    // The cleanup's budget and token; `by`: also never past this.
    XataClient::Limits cleanup_limits(std::optional<Deadline> by = std::nullopt) const;
    // waiter.wait(d), ticking the progress display meanwhile when it wants ticks.
    Waiter::Result pause(Waiter& waiter, std::chrono::milliseconds d, Clock::TimePoint start) const;
};

bool is_deadline(const Error& e);

// --- create_or_adopt.cpp ---
enum class Owner { ThisRun, Adopted };
struct Claimed {
    Branch branch;
    Owner owner = Owner::Adopted;  // ThisRun: a failure from now on deletes it
};
// `already_there`: the branch of that name the parent lookup found (adopted).
// Throws on failure; when a POST of this run may have made the branch, the
// error says what became of it (settled by its tag, or Unknown).
Claimed create_or_adopt(const StepEnv& env, const CreateRequest& request,
                        const std::string& parent_id, const std::optional<Branch>& already_there,
                        Deadline deadline);
// The branch's tag carries `token` (an unreadable tag: false, adopting is safe).
bool owned_by_this_run(const StepEnv& env, const std::string& id, const std::string& token,
                       const Limits& limits);

// --- wait_ready.cpp ---
// Waits until the branch is HEALTHY; throws Timeout (ReadyTimeout) or Fault.
BranchDetails wait_ready(const StepEnv& env, const std::string& id, const std::string& name,
                         Deadline deadline, const PollSchedule& schedule,
                         std::chrono::milliseconds wake_after, bool wake_now);

// --- connection_step.cpp ---
// Credentials (asked again while they lag behind, until `deadline`) and the
// connection details of a ready branch.
// `wait_for_lag` false: the credentials are asked once (url, shell).
ConnectionInfo connection_for(const StepEnv& env, const BranchDetails& details, Endpoint endpoint,
                              const std::string& sslmode, Deadline deadline,
                              bool wait_for_lag = true);
struct Connections {
    ConnectionInfo direct;  // handed out as the connection
    ConnectionInfo pooled;  // the same credentials on the pooler endpoint
};
// Pure: the request's database (when given) and the pooled variant.
Connections with_database_and_pooler(ConnectionInfo info, const std::string& database);
// connection_for, then with_database_and_pooler: what the outputs carry.
Connections connections_for(const StepEnv& env, const CreateRequest& request,
                            const BranchDetails& details, Deadline deadline);

// --- connection_check.cpp ---
// A real login with `info` until it works; returns the tries it took.
// Throws NotConnectable, NotFound (BranchVanished), Interrupted.
int check_connection(const StepEnv& env, Deadline deadline, const Branch& branch,
                     const ConnectionInfo& info, const BranchDetails& details);
// One quick describe while logins fail: true only when the API says 404.
// Never throws; a stop or the deadline is left to the caller's loop.
bool gone_while_connecting(const StepEnv& env, const Branch& branch, Deadline deadline);

// --- hook_flow.cpp ---
// A rerun adopted a branch whose tag says Pending (a run killed mid-hook).
bool hooks_pending(const Claimed& claimed, const BranchDetails& details);
struct Settled {
    // Set: the other run finished (adopt these details as they are).
    std::optional<BranchDetails> details;
    // Else: the branch made afresh (not waited for yet); replaced_id is the
    // deleted Pending branch's id, "" when it was gone already.
    Claimed recreated;
    std::string replaced_id;
};
// Recreates the branch when its hooks' lock is free, else waits (polling its
// tag) until Done, gone (then creates it) or the deadline.
Settled settle_pending(const StepEnv& env, const CreateRequest& request,
                       const std::string& parent_id, Deadline deadline, const Claimed& claimed,
                       const BranchDetails& details);
// How far the hooks got, recorded as they go: the clean-up reads it.
struct HookMarks {
    bool phase = false;    // at the hooks' lock: another run may run them on this branch
    bool started = false;  // this run wrote Pending (holding the lock)
};
// Runs the request's hooks once per branch (skipped when the tag says
// Done); true when this run ran them. Throws HooksRunning when another run
// has them, HookFailed, Timeout, Interrupted.
bool run_hooks(const StepEnv& env, const CreateRequest& request, Deadline deadline,
               const Claimed& claimed, const ConnectionInfo& info, const BranchDetails& details,
               HookMarks& marks);
// Cleanup's look (its own budget): the tag says Pending, or cannot be read.
bool hooks_of_another_run(const StepEnv& env, const Branch& branch);

// --- clean_up.cpp ---
// Deletes a branch this run made; logs, never throws. The error when it is left.
std::optional<Error> try_delete_own(const StepEnv& env, const Branch& branch, const Limits& limits);
// cleanup()'s delete: within the cleanup's budget (and `by`), logged at warn.
bool delete_after_failure(const StepEnv& env, const Branch& branch, const std::string& why,
                          std::optional<Deadline> by);
// Applies decide_cleanup to a branch this run may own: writes into `e` what
// became of it. `announce`: log the delete at warn ("deleting ... because").
void clean_up(const StepEnv& env, const Branch& branch, const FailureFacts& facts, Error& e,
              std::optional<Deadline> by, bool announce = true);

}  // namespace xbranch::steps
