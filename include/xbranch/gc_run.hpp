// gc's procedure over the client interfaces: ask Signadot and Xata, read the
// tags the verdict needs (select again until it is stable), then delete.
// The rules are gc_policy's; flags, hints and rendering are the CLI's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "xbranch/gc_policy.hpp"
#include "xbranch/limits.hpp"
#include "xbranch/signadot_client.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch {

// What gc decided before deleting anything.
struct GcPlan {
    std::vector<LiveSandbox> sandboxes;
    std::vector<GcCandidate> candidates;
    // Branches whose tag could not be read (id -> why): kept, and a failure.
    std::map<std::string, std::string> tag_errors;
    int signadot_requests = 0;
};

// Asks `signadot` (when set: --orphans) for the live sandboxes, Xata for the
// branches, reads every candidate's tag when `all_tags` (--expired needs
// them) and otherwise only those a rule would select, deciding again until
// no read changes the verdict (a branch found gone can free its parent).
// Throws what the APIs throw; an untrusted sandbox list and an interruption
// say that nothing was deleted. `now`: Unix seconds. The tags of one round
// are read `describes_in_flight` at a time (XataClient::describe_branches).
GcPlan plan_gc(XataClient& xata, SignadotClient* signadot, bool all_tags,
               const GcPolicyOptions& policy, const std::function<std::int64_t()>& now,
               const Limits& limits, std::size_t describes_in_flight = k_describes_in_flight);

// One candidate and what became of it.
struct GcRow {
    GcCandidate candidate;
    std::string action;  // kept, deleted, would delete, already gone, failed, not done
    std::string detail;
};

struct GcReport {
    std::vector<GcRow> rows;
    int deleted = 0;  // or, dry run, would be
    int kept = 0;
    int failed = 0;
    bool interrupted = false;  // `cancel` was set, or a delete was cut short
};

// Deletes (dry run: only counts) what the plan selects, one after another,
// stopping at `cancel`; a failed delete is a row, not a throw.
GcReport execute_gc(XataClient& xata, const GcPlan& plan, bool dry_run, const Limits& limits);

// "2026-12-01T15:30:00Z", or "-" with no expiry.
std::string expiry_text(const GcCandidate& c);

// gc --output json: every row (details redacted) and the counts.
nlohmann::json gc_report_json(const GcReport& report, bool dry_run);

// The run's exit: Interrupted (with `signal`) when it stopped early,
// Unavailable when a branch could not be checked or deleted.
void throw_if_incomplete(const GcReport& report, int signal);

}  // namespace xbranch
