// The orchestration of create and delete: adopt on 409 or an uncertain POST
// (claiming a branch as this run's only when its description tag carries
// this run's token), wait for readiness with adaptive polling, wake
// hibernated branches, fetch credentials, and clean up what this run created
// when it fails or is cancelled. Each step is its own file (src/create_steps.hpp);
// the values passed between them are in create_request.hpp. All waits go through retry.hpp's Waiter
// and RetryLoop, bounded by one Deadline (the command's time limit) and the RunControl's tokens.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/clock.hpp"
#include "xbranch/create_request.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/usable.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch {

namespace steps {  // src/create_steps.hpp
struct StepEnv;
struct Claimed;
struct HookMarks;
}  // namespace steps

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

    // Credentials (asked again while they lag behind, until `deadline`;
    // once when `wait_for_lag` is false) and the connection details of a
    // ready branch.
    ConnectionInfo connection_for(const BranchDetails& details, Endpoint endpoint,
                                  const std::string& sslmode, Deadline deadline,
                                  bool wait_for_lag = true);

    // Deletes a branch this run made, within the cleanup budget and token;
    // logs, never throws. True when the branch is gone.
    // `by`: also never past this (the command's limit plus its grace).
    bool cleanup(const Branch& branch, const std::string& why,
                 std::optional<Deadline> by = std::nullopt);
    // The same delete at the planned end of a branch's use (`run`): no
    // failure to report, so it logs at info. nullopt when the branch is gone,
    // else why it is left (an Interrupted error: the cleanup's token).
    std::optional<Error> discard(const Branch& branch);
    // The one clean-up after a failure once this run holds `result.branch`
    // (create's own steps, and the CLI when writing the outputs fails):
    // failure_cleanup.hpp's decision, applied; `e` says what became of it.
    void clean_up_after_failure(const CreateResult& result, bool keep_on_failure, Error& e,
                                std::optional<Deadline> by = std::nullopt);

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
    std::string resolve_parent_id(const std::string& parent, bool is_id, const Limits& limits,
                                  std::optional<Branch>* existing_same_name = nullptr,
                                  const std::string& branch_name = {},
                                  std::optional<std::vector<Branch>>* listed = nullptr);

    // After the server refused a POST for the branch count (400): where the
    // API has project limits (the hosted service), throws QuotaExceeded
    // naming the count, the cap and the oldest of ours when the project is
    // at its cap. Costs one request (two when `listed` is empty and there are
    // limits); a failed limits call is logged and passed, except a signal or
    // the deadline. A create under the cap never calls it.
    void check_room(const CreateRequest& request, std::optional<std::vector<Branch>>& listed,
                    const Limits& limits);

  private:
    steps::StepEnv env();
    // The run's token without a deadline: delete's calls.
    Limits run_limits() const { return {m_control.cancel, {}, std::nullopt}; }
    // After a create step failed: the one clean-up for the branch held then.
    void fail_after_create(const CreateRequest& request, CreateResult& result,
                           const steps::Claimed& held, const steps::HookMarks& marks, Error& e,
                           Deadline deadline);

    XataClient& m_client;
    Clock& m_clock;
    Progress& m_progress;
    RunControl m_control;
    UsableEdges m_edges;
};

}  // namespace xbranch
