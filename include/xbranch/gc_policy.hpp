// Which branches gc deletes: a pure function over the project's branches,
// their tags, the live sandboxes and the time, so every rule is unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "xbranch/signadot_client.hpp"
#include "xbranch/tag.hpp"
#include "xbranch/xata_types.hpp"

namespace xbranch {

inline constexpr std::int64_t k_default_grace_seconds = std::int64_t{15} * 60;

// A branch of the project with its decoded tag (nullopt: no readable tag, or
// not read; branch.description keeps the raw text). description_read: the
// description is the describe answer's (the list answer carries none).
struct GcBranch {
    Branch branch;
    std::optional<BranchTag> tag;
    bool description_read = false;
};

struct GcPolicyOptions {
    std::string prefix;       // only names starting with it are ever considered
    std::string parent_name;  // the parent (by name and/or id) is never deleted
    std::string parent_id;
    bool orphans = false;  // delete what no live sandbox explains (needs `sandboxes`)
    bool expired = false;  // delete what the tag says has expired
    std::optional<std::int64_t> older_than;  // seconds; delete what is older
    std::int64_t grace = k_default_grace_seconds;
    std::vector<std::string> keep_sandboxes;  // exact sandbox names
    bool dry_run = false;
    // An empty list of live sandboxes is doubt, not proof (see
    // check_empty_sandbox_list): trusted only when confirmed, or for the
    // branches at least this old (seconds).
    bool trust_empty_sandbox_list = false;
    std::optional<std::int64_t> empty_list_min_age;
};

enum class GcReason { Orphan, Expired, OlderThan };
const char* gc_reason_name(GcReason reason);  // "orphan", "expired", "older-than"

// One prefixed branch and the verdict on it. Branches without the prefix
// are not candidates at all.
struct GcCandidate {
    Branch branch;
    std::optional<BranchTag> tag;
    std::optional<GcReason> reason;   // set: delete it (or, dry run, would)
    std::string kept_why;             // with no reason: why it stays
    std::optional<std::int64_t> age;  // seconds since createdAt, when readable
    bool needs_tag = false;           // kept; the verdict may change once its description is read

    bool deletes() const { return reason.has_value(); }
};

// "2026-12-01T15:30:00Z": how gc, list and status show an expiry.
std::string rfc3339_utc(std::int64_t unix_seconds);

// The name part a live sandbox could own: true when `name` (with `prefix`)
// is derived from the sandbox's name with its routing key and/or any of its
// resources, or its readable part starts with the sandbox's sanitised name,
// or it contains the sanitised routing key.
bool sandbox_could_own(const LiveSandbox& sandbox, const std::string& name,
                       const std::string& prefix);

// The first live sandbox (in list order) for which sandbox_could_own holds,
// found through maps from derived names, sanitised names and routing keys
// built once: linear in sandboxes + names, where asking sandbox_could_own
// of every pair derives (and hashes) names for each.
class SandboxOwners {
  public:
    SandboxOwners(const std::vector<LiveSandbox>& sandboxes, std::string prefix);
    const LiveSandbox* owner(const std::string& name) const;

  private:
    using Index = std::unordered_map<std::string, std::size_t>;
    const std::vector<LiveSandbox>* m_sandboxes;
    std::string m_prefix;
    Index m_derived;                      // every name derive_branch_name gives a sandbox
    Index m_labels;                       // sanitised names
    Index m_label_heads;                  // every non-empty head of a sanitised name
    std::map<std::size_t, Index> m_keys;  // sanitised routing keys, by length
};

// True when `name` is a branch of the sandbox called exactly `sandbox`: a
// name derived from it (with the routing keys and resources of `known`
// sandboxes of that name, or with any resource/id split of the name's rest
// whose hash checks out), or whose readable part is exactly its sanitised name.
bool keep_sandbox_matches(const std::string& sandbox, const std::vector<LiveSandbox>& known,
                          const std::string& name, const std::string& prefix);

// The verdict on every prefixed branch, in list order. Never selects the
// parent, a root branch, a branch that other branches name as parent, or
// (in every mode) a branch whose read description has no xbranch marker;
// one a rule would select (or, with expired, any) whose description was not
// read is kept with needs_tag set: read it, then select again.
std::vector<GcCandidate> select_gc(const std::vector<GcBranch>& branches,
                                   const std::vector<LiveSandbox>& sandboxes, std::int64_t now,
                                   const GcPolicyOptions& options);

// --orphans when Signadot lists no live sandboxes at all: a key for the
// wrong or an empty organization answers the same way as an organization
// whose sandboxes are all gone. When the orphan rule would delete any
// (tagged) branch on such a list, the run deletes nothing (refuse), unless
// the options trust the empty list, or every such branch is at least
// empty_list_min_age old. A non-empty list, or no branch the orphan rule
// selects, raises no doubt.
struct EmptyListCheck {
    bool refuse = false;
    std::size_t orphans = 0;               // branches the orphan rule selected
    std::size_t under_min_age = 0;         // of those, younger than empty_list_min_age
    std::optional<std::int64_t> youngest;  // the youngest of them, seconds
};
EmptyListCheck check_empty_sandbox_list(const std::vector<GcCandidate>& candidates,
                                        const std::vector<LiveSandbox>& sandboxes,
                                        const GcPolicyOptions& options);

}  // namespace xbranch
