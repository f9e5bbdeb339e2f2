// The orchestration of create and delete: adopt on 409 or an uncertain POST,
// wait for readiness with adaptive polling, wake hibernated branches, fetch
// credentials, and clean up what this run created when it fails.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "xbranch/clock.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch {

// How often to ask whether the branch is ready: quick at first, then an
// interval that grows with the time already waited, capped. The defaults come
// from bench/ (D = readiness delay): every 300 ms up to 1.5 s, then 20% of the
// time waited, at most 1 s (the official CLI's rate). D = 1.5 s: 6 polls,
// noticed within ~0.15 s on average; D = 10 s: 18 polls, lag <= 1 s. The
// former 50 ms / 8% made 25 and 49 polls and noticed only ~0.05-0.3 s sooner.
struct PollSchedule {
    std::chrono::milliseconds first{50};
    std::chrono::milliseconds min_interval{300};
    std::chrono::milliseconds max_interval{1000};
    double fraction_of_elapsed = 0.2;  // interval ~ 20% of the time waited so far

    std::chrono::milliseconds next(std::chrono::milliseconds elapsed) const;
};

struct CreateRequest {
    std::string branch_name;
    std::string parent;  // name or id
    bool parent_is_id = false;
    std::string description;  // "" for none
    std::chrono::milliseconds timeout{10 * 60 * 1000};
    std::chrono::milliseconds wake_after{3000};  // HIBERNATED this long: wake it
    Endpoint endpoint = Endpoint::ReadWrite;
    std::string sslmode = "require";
    bool keep_on_failure = false;
    PollSchedule schedule{};
};

struct CreateResult {
    Branch branch;
    std::string parent_id;
    bool adopted = false;        // the branch existed before this run
    bool created_by_us = false;  // this run's POST made it (directly or settled)
    BranchStatus status;
    ConnectionInfo connection;
};

class Lifecycle {
  public:
    Lifecycle(XataClient& client, Clock& clock, Progress& progress)
        : m_client(client), m_clock(clock), m_progress(progress) {}

    // Create-or-adopt, wait until HEALTHY, fetch credentials. On failure after
    // this run created the branch, deletes it (unless keep_on_failure) and
    // rethrows with a note of what was cleaned up.
    CreateResult create(const CreateRequest& request);

    // Waits until the branch is HEALTHY; throws Timeout or Fault.
    BranchDetails wait_ready(const std::string& id, const std::string& name,
                             std::chrono::milliseconds timeout, const PollSchedule& schedule,
                             std::chrono::milliseconds wake_after, bool wake_now);

    ConnectionInfo connection_for(const BranchDetails& details, Endpoint endpoint,
                                  const std::string& sslmode, Clock::TimePoint deadline);

    // Removes a branch this run made, after a failure; logs, never throws.
    void cleanup(const Branch& branch, const std::string& why);

    struct DeleteRequest {
        std::optional<std::string> id;  // wins over the name
        std::optional<std::string> name;
        std::string parent;  // never deleted (name or id)
        bool parent_is_id = false;
        std::string prefix;  // names without it are refused...
        bool force = false;  // ...unless forced
    };
    struct DeleteResult {
        bool deleted = false;  // false: it was already gone
        std::string id;
        std::string name;
    };
    DeleteResult remove(const DeleteRequest& request);

    // Parent name or id -> id (lists branches only for a name).
    std::string resolve_parent_id(const std::string& parent, bool is_id,
                                  std::optional<Branch>* existing_same_name = nullptr,
                                  const std::string& branch_name = {});

  private:
    Branch create_or_adopt(const CreateRequest& request, const std::string& parent_id,
                           bool& adopted, bool& created_by_us,
                           const std::optional<Branch>& already_there);
    Branch adopt(const Branch& existing, const std::string& parent_id, const std::string& name);
    void check_interrupted(const std::string& operation) const;

    XataClient& m_client;
    Clock& m_clock;
    Progress& m_progress;
};

}  // namespace xbranch
