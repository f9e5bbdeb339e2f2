#include "xbranch/gc_run.hpp"

#include <spdlog/spdlog.h>

#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

// Reads the description (the tag) of each branch in `ids` not tried yet:
// one describe each, `in_flight` at a time. A branch gone meanwhile leaves
// `branches`; any other failure is kept in `tag_errors` and the branch stays
// unread (so kept). An interruption throws. Returns whether anything changed.
bool read_tags(XataClient& xata, const std::set<std::string>& ids, std::vector<GcBranch>& branches,
               std::set<std::string>& tried, std::map<std::string, std::string>& tag_errors,
               const Limits& limits, std::size_t in_flight) {
    std::vector<std::string> wanted;
    std::map<std::string, std::size_t> slot;  // id -> its place in `wanted`
    for (const auto& g : branches) {
        if (ids.count(g.branch.id) != 0 && tried.insert(g.branch.id).second) {
            slot[g.branch.id] = wanted.size();
            wanted.push_back(g.branch.id);
        }
    }
    if (wanted.empty()) {
        return false;
    }
    const std::vector<DescribeResult> results = xata.describe_branches(wanted, limits, in_flight);
    for (auto it = branches.begin(); it != branches.end();) {
        const auto found = slot.find(it->branch.id);
        if (found == slot.end()) {
            ++it;
            continue;
        }
        const DescribeResult& r = results[found->second];
        if (r.ok()) {
            it->branch.description = r.details->branch.description;
            it->tag = decode_tag(it->branch.description);
            it->description_read = true;
            ++it;
        } else if (r.gone()) {
            spdlog::debug("{} is gone already", it->branch.name);
            it = branches.erase(it);
        } else {
            spdlog::warn("could not read the tag of {}, so it is kept: {}", it->branch.name,
                         r.error->describe());
            tag_errors[it->branch.id] = r.error->describe();
            ++it;
        }
    }
    return true;
}

std::vector<LiveSandbox> live_sandboxes(SignadotClient& signadot, const Limits& limits) {
    try {
        return signadot.list_sandboxes(limits);
    } catch (Error& e) {
        if (e.kind() != ErrorKind::Interrupted) {
            e.add_hint(
                "nothing was deleted: without a trusted list of live sandboxes gc cannot "
                "tell an orphan from a live sandbox's branch");
        }
        throw;
    }
}

// Tags cost one describe each (the list has no descriptions): for
// --expired, every prefixed child that is not the parent.
std::set<std::string> every_tag(const std::vector<GcBranch>& branches, const GcPolicyOptions& p) {
    std::set<std::string> wanted;
    for (const auto& g : branches) {
        const Branch& b = g.branch;
        if (b.name.rfind(p.prefix, 0) == 0 && b.parent_id && !b.parent_id->empty() &&
            b.id != p.parent_id && b.name != p.parent_name) {
            wanted.insert(b.id);
        }
    }
    return wanted;
}

GcPlan plan(XataClient& xata, SignadotClient* signadot, bool all_tags,
            const GcPolicyOptions& policy, const std::function<std::int64_t()>& now,
            const Limits& limits, std::size_t in_flight) {
    GcPlan out;
    if (signadot != nullptr) {
        out.sandboxes = live_sandboxes(*signadot, limits);
        out.signadot_requests = signadot->request_count();
        spdlog::debug("Signadot: {} live sandbox(es)", out.sandboxes.size());
    }
    std::vector<GcBranch> branches;
    for (auto& b : xata.list_branches(limits)) {
        branches.push_back({std::move(b), std::nullopt});
    }
    std::set<std::string> tried;
    if (all_tags) {
        read_tags(xata, every_tag(branches, policy), branches, tried, out.tag_errors, limits,
                  in_flight);
    }
    // Read the tags of the branches a rule selects but whose description is
    // unread, then decide again.
    for (;;) {
        out.candidates = select_gc(branches, out.sandboxes, now(), policy);
        std::set<std::string> unread;
        for (const auto& c : out.candidates) {
            if (c.needs_tag) {
                unread.insert(c.branch.id);
            }
        }
        if (!read_tags(xata, unread, branches, tried, out.tag_errors, limits, in_flight)) {
            return out;
        }
    }
}

}  // namespace

GcPlan plan_gc(XataClient& xata, SignadotClient* signadot, bool all_tags,
               const GcPolicyOptions& policy, const std::function<std::int64_t()>& now,
               const Limits& limits, std::size_t describes_in_flight) {
    try {
        return plan(xata, signadot, all_tags, policy, now, limits, describes_in_flight);
    } catch (Error& e) {
        if (e.kind() == ErrorKind::Interrupted) {
            e.add_hint("nothing was deleted");
        }
        throw;
    }
}

GcReport execute_gc(XataClient& xata, const GcPlan& plan, bool dry_run, const Limits& limits) {
    GcReport out;
    for (const auto& c : plan.candidates) {
        GcRow row{c, "kept", c.kept_why};
        if (const auto tag_error = plan.tag_errors.find(c.branch.id);
            c.needs_tag && tag_error != plan.tag_errors.end()) {
            // Kept, but not by choice: the run says so in its exit code.
            row = {c, "failed", "kept: could not read its tag: " + tag_error->second};
            ++out.failed;
        } else if (!c.deletes()) {
            ++out.kept;
        } else if (out.interrupted || limits.cancelled()) {
            out.interrupted = true;
            row = {c, "not done", "interrupted"};
        } else if (dry_run) {
            row = {c, "would delete", ""};
            ++out.deleted;
        } else {
            try {
                const bool existed = xata.delete_branch(c.branch.id, limits);
                row = {c, existed ? "deleted" : "already gone", ""};
                ++out.deleted;
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::Interrupted) {
                    out.interrupted = true;
                    row = {c, "not done", "interrupted; the delete may have gone through"};
                } else {
                    row = {c, "failed", e.describe()};
                    ++out.failed;
                    spdlog::error("could not delete {}: {}", c.branch.name, e.describe());
                }
            }
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

std::string expiry_text(const GcCandidate& c) {
    return c.tag && c.tag->expires_at ? rfc3339_utc(*c.tag->expires_at) : std::string("-");
}

nlohmann::json gc_report_json(const GcReport& r, bool dry_run) {
    const auto or_null = [](bool set, auto value) {
        return set ? nlohmann::json(value) : nlohmann::json();
    };
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : r.rows) {
        const GcCandidate& c = row.candidate;
        items.push_back(
            {{"name", c.branch.name},
             {"id", c.branch.id},
             {"ageSeconds", or_null(c.age.has_value(), c.age.value_or(0))},
             {"expiresAt", or_null(c.tag && c.tag->expires_at, expiry_text(c))},
             {"reason", or_null(c.reason.has_value(), c.reason ? gc_reason_name(*c.reason) : "")},
             {"kept", or_null(!c.reason, c.kept_why)},
             {"action", row.action},
             {"detail", redact(row.detail)}});
    }
    return {{"dryRun", dry_run},   {"interrupted", r.interrupted},
            {"candidates", items}, {"deleted", r.deleted},
            {"kept", r.kept},      {"failed", r.failed}};
}

void throw_if_incomplete(const GcReport& r, int signal) {
    if (r.interrupted) {
        throw Error(ErrorKind::Interrupted,
                    "stopped after deleting " + std::to_string(r.deleted) + " branch(es)")
            .with_operation("gc")
            .with_signal(signal);
    }
    if (r.failed > 0) {
        throw Error(ErrorKind::Unavailable,
                    std::to_string(r.failed) + " branch(es) could not be checked or deleted")
            .with_operation("gc");
    }
}

}  // namespace xbranch
