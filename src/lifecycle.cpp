// Lifecycle: create as a script over the steps of create_steps.hpp (each in
// its own file), and delete.
#include "xbranch/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "create_steps.hpp"
#include "xbranch/quota.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;
using steps::is_deadline;
using steps::Owner;

constexpr ms k_limits_cap{5000};  // the limits call: a create never waits long for it

// Refuses to delete the parent, a root branch, or (unforced) a name without the prefix.
void refuse_protected(const Lifecycle::DeleteRequest& req, const std::string& name,
                      const std::string& id, const std::optional<std::string>& parent) {
    if (name == req.parent || id == req.parent) {
        throw Error(ErrorKind::Conflict,
                    "refusing to delete '" + name + "': it is the configured parent branch")
            .with_operation("delete branch " + name);
    }
    // xbranch only ever makes child branches; a root branch is someone's main database.
    if (!parent || parent->empty()) {
        throw Error(ErrorKind::Conflict,
                    "refusing to delete '" + name + "': it is a root branch (it has no parent)")
            .with_operation("delete branch " + name)
            .with_hint(
                "xbranch deletes only the child branches it makes; use the Xata console for "
                "this one");
    }
    if (!req.force && name.rfind(req.prefix, 0) != 0) {
        throw Error(ErrorKind::Usage, "refusing to delete '" + name +
                                          "': its name lacks the prefix '" + req.prefix +
                                          "' of branches xbranch makes")
            .with_operation("delete branch " + name)
            .with_reason(ErrorReason::NeedsForce);
    }
}

// A branch with live children is their parent: deleting it would take their
// base away (gc keeps such branches too), whatever the prefix or force say.
void refuse_parent_of_live(const std::vector<Branch>& branches, const std::string& id,
                           const std::string& name) {
    std::vector<const Branch*> children;
    for (const auto& b : branches) {
        if (b.parent_id && *b.parent_id == id && b.id != id) {
            children.push_back(&b);
        }
    }
    if (children.empty()) {
        return;
    }
    const std::size_t n = children.size();
    throw Error(ErrorKind::Conflict, "refusing to delete '" + name + "': it is the parent of " +
                                         std::to_string(n) + " live branch" + (n == 1 ? "" : "es") +
                                         ", e.g. '" + children[0]->name + "' (id " +
                                         children[0]->id + ")")
        .with_operation("delete branch " + name)
        .with_hint("delete its child branches first");
}

}  // namespace

std::string Lifecycle::resolve_parent_id(const std::string& parent, bool is_id,
                                         const Limits& limits,
                                         std::optional<Branch>* existing_same_name,
                                         const std::string& branch_name,
                                         std::optional<std::vector<Branch>>* listed) {
    if (is_id) {
        return parent;
    }
    const auto branches = m_client.list_branches(limits);
    if (listed != nullptr) {
        *listed = branches;
    }
    std::optional<std::string> id;
    for (const auto& b : branches) {
        if (b.name == parent) {
            id = b.id;
        }
        if (existing_same_name != nullptr && !branch_name.empty() && b.name == branch_name) {
            *existing_same_name = b;
        }
    }
    if (!id) {
        throw Error(ErrorKind::NotFound,
                    "parent branch " + quote_input(parent) + " not found in the project")
            .with_operation("resolve parent branch")
            .with_reason(ErrorReason::ParentNotFound);
    }
    return *id;
}

void Lifecycle::check_room(const CreateRequest& request, std::optional<std::vector<Branch>>& listed,
                           const Limits& call_limits) {
    std::optional<ProjectLimits> limits;
    try {
        // At most 5 s and a quarter of the time left: the POST keeps the rest.
        Limits capped = call_limits;
        ms cap = k_limits_cap;
        if (capped.deadline.is_set()) {
            cap = std::min(cap, std::max(ms{1}, capped.deadline.left(m_clock) / 4));
        }
        capped.request_cap = std::min(capped.request_cap.value_or(cap), cap);
        limits = m_client.project_limits(capped);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Interrupted || is_deadline(e)) {
            throw;
        }
        if (call_limits.deadline.passed(m_clock)) {
            throw m_client.deadline_error("read project limits", e.what());
        }
        // The limits only spare a POST the server would refuse: without them
        // the server's own refusal still maps to the same error.
        spdlog::warn(
            "could not read the project's branch limits ({}); creating without the "
            "quota check",
            redact(e.describe()));
        return;
    }
    if (!limits) {
        spdlog::info(
            "quota check: the API has no project limits (404, Xata Core); skipped after "
            "1 request");
        return;
    }
    const bool list_now = !listed.has_value();
    if (list_now) {
        listed = m_client.list_branches(call_limits);
    }
    const QuotaCheck check = check_quota(*listed, limits, request.prefix);
    spdlog::info(
        "quota check after the server's refusal: {} active branch{}, cap {} (cost {} "
        "request{})",
        check.live, check.live == 1 ? "" : "es",
        check.cap ? std::to_string(*check.cap) : std::string("unknown"), list_now ? 2 : 1,
        list_now ? "s: limits and a list" : ": limits");
    if (check.at_cap) {
        throw quota_error(check, {});
    }
}

steps::StepEnv Lifecycle::env() {
    return {m_client, m_clock, m_progress, m_control, m_edges};
}

BranchDetails Lifecycle::wait_ready(const std::string& id, const std::string& name,
                                    Deadline deadline, const PollSchedule& schedule, ms wake_after,
                                    bool wake_now) {
    return steps::wait_ready(env(), id, name, deadline, schedule, wake_after, wake_now);
}

ConnectionInfo Lifecycle::connection_for(const BranchDetails& details, Endpoint endpoint,
                                         const std::string& sslmode, Deadline deadline,
                                         bool wait_for_lag) {
    return steps::connection_for(env(), details, endpoint, sslmode, deadline, wait_for_lag);
}

bool Lifecycle::cleanup(const Branch& branch, const std::string& why, std::optional<Deadline> by) {
    return steps::delete_after_failure(env(), branch, why, by);
}

std::optional<Error> Lifecycle::discard(const Branch& branch) {
    spdlog::info("deleting branch {} (id {}): its use is over", branch.name, branch.id);
    const steps::StepEnv steps_env = env();
    return steps::try_delete_own(steps_env, branch, steps_env.cleanup_limits());
}

void Lifecycle::clean_up_after_failure(const CreateResult& result, bool keep_on_failure, Error& e,
                                       std::optional<Deadline> by) {
    FailureFacts facts;
    facts.ours = result.created_by_us;
    facts.keep_on_failure = keep_on_failure;
    facts.hooks_of_others_possible = result.hooks_phase && !result.hooks_started;
    facts.kind = e.kind();
    facts.reason = e.reason();
    steps::clean_up(env(), result.branch, facts, e, by);
}

namespace {

// The server's own refusal (Xata Core's cap has no limits call): names the
// oldest of ours from the list already made, as check_room does.
void name_oldest_on_refusal(Error& e, const std::optional<std::vector<Branch>>& listed,
                            const std::string& prefix) {
    if (e.kind() == ErrorKind::QuotaExceeded && e.http_status() == 400 && listed &&
        !prefix.empty()) {
        const auto oldest = check_quota(*listed, std::nullopt, prefix).oldest;
        if (!oldest.empty()) {
            e.add_hint("oldest of ours: " + branches_text(oldest));
        }
    }
}

void record(CreateResult& result, const steps::Claimed& held) {
    result.branch = held.branch;
    result.adopted = held.owner == Owner::Adopted;
    result.created_by_us = held.owner == Owner::ThisRun;
}

}  // namespace

CreateResult Lifecycle::create(const CreateRequest& request) {
    const steps::StepEnv steps_env = env();
    const Deadline deadline = Deadline::in(m_clock, request.timeout);
    const Limits limits = steps_env.limits(deadline);
    CreateResult result;
    std::optional<Branch> existing;
    std::optional<std::vector<Branch>> listed;
    result.parent_id = resolve_parent_id(request.parent, request.parent_is_id, limits, &existing,
                                         request.branch_name, &listed);
    if (request.branch_name == request.parent) {
        throw Error(ErrorKind::Conflict,
                    "the branch name '" + request.branch_name + "' is the parent's name")
            .with_operation("create branch");
    }
    m_progress.note(
        (existing
             ? "found branch " + request.branch_name + " (of " + request.parent + "); adopting it"
             : "creating branch " + request.branch_name + " from " + request.parent));
    const auto create_start = m_clock.now();
    steps::Claimed held;  // the branch this run holds now (a recreate replaces it)
    try {
        held = steps::create_or_adopt(steps_env, request, result.parent_id, existing, deadline);
    } catch (Error& e) {
        // The POST is the quota check: at the branch cap the server refuses
        // it (400). Only then the limits call (a request on this path only)
        // names the cap; without limits (Xata Core) the oldest of ours come
        // from the list already made.
        if (e.kind() == ErrorKind::QuotaExceeded && e.http_status() == 400) {
            try {
                check_room(request, listed, limits);
            } catch (Error& at_cap) {
                if (at_cap.kind() == ErrorKind::QuotaExceeded) {
                    at_cap.add_hint("the server refused the create: " + std::string(e.what()));
                }
                throw;
            }
        }
        name_oldest_on_refusal(e, listed, request.prefix);
        throw;
    }
    // What follows may fail and delete the branch this run made: it ends
    // early enough for that delete to fit within the limit (plus the grace).
    // The create's own time says how long a request to this API takes; a
    // fast API costs the wait nothing.
    const ms create_took = std::chrono::duration_cast<ms>(m_clock.now() - create_start);
    const ms reserve = held.owner == Owner::ThisRun
                           ? std::min({m_control.cleanup_reserve, request.timeout / 5, create_took})
                           : ms{0};
    const Deadline work = deadline.shifted(-reserve);
    steps::HookMarks marks;
    auto ready = [&] {
        return steps::wait_ready(steps_env, held.branch.id, held.branch.name, work,
                                 request.schedule, request.wake_after,
                                 held.owner == Owner::Adopted);
    };
    try {
        BranchDetails d = ready();
        // A loop: a recreate may adopt a branch another rerun just made, Pending too.
        while (steps::hooks_pending(held, d)) {
            steps::Settled s =
                steps::settle_pending(steps_env, request, result.parent_id, work, held, d);
            if (s.details) {
                d = *s.details;
                continue;
            }
            held = s.recreated;
            result.replaced_id = s.replaced_id.empty() ? result.replaced_id : s.replaced_id;
            d = ready();
        }
        record(result, held);
        result.status = d.status;
        if (!d.branch.region.empty()) {
            result.branch.region = d.branch.region;
        }
        const steps::Connections c = steps::connections_for(steps_env, request, d, work);
        result.connection = c.direct;
        result.pooled = c.pooled;
        if (request.on_connection) {
            request.on_connection(result);
        }
        if (request.connect_check) {
            result.login_tries =
                steps::check_connection(steps_env, work, result.branch, result.connection, d);
        }
        if (!request.hooks.empty()) {
            result.hooks_ran =
                steps::run_hooks(steps_env, request, work, held, result.connection, d, marks);
        }
    } catch (Error& e) {
        fail_after_create(request, result, held, marks, e, deadline);
        throw;
    } catch (const std::exception& ex) {
        // Not the tool's own error (bad_alloc, a library's exception): still a
        // failure after this run made the branch, so clean up the same way.
        Error e =
            Error(ErrorKind::Internal, std::string("unexpected: ") + ex.what())
                .with_hint("this is a bug in xbranch; please report it with the output of -v");
        fail_after_create(request, result, held, marks, e, deadline);
        throw e;
    }
    result.hooks_phase = marks.phase;
    result.hooks_started = marks.started;
    return result;
}

void Lifecycle::fail_after_create(const CreateRequest& request, CreateResult& result,
                                  const steps::Claimed& held, const steps::HookMarks& marks,
                                  Error& e, Deadline deadline) {
    record(result, held);
    result.hooks_phase = marks.phase;
    result.hooks_started = marks.started;
    // Within the command's limit (plus its grace), except after a signal:
    // that cleanup has its own budget.
    std::optional<Deadline> by;
    if (e.kind() != ErrorKind::Interrupted) {
        by = deadline.shifted(m_control.deadline_grace);
    }
    clean_up_after_failure(result, request.keep_on_failure, e, by);
}

Lifecycle::DeleteResult Lifecycle::remove(const DeleteRequest& req) {
    DeleteResult out;
    std::vector<Branch> branches;  // one list: the children check (and the lookup by name)
    if (req.id) {
        out.id = *req.id;
        BranchDetails d;
        try {
            d = m_client.describe_branch(*req.id, run_limits());
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::NotFound) {
                throw;
            }
            // A wrong organization or project answers 404 too: "already gone"
            // only when the project itself answers.
            try {
                (void)m_client.list_branches(run_limits());
            } catch (Error& project) {
                if (project.kind() == ErrorKind::NotFound) {
                    project.with_reason(ErrorReason::ProjectNotFound);
                }
                throw;
            }
            out.deleted = false;
            return out;
        }
        out.name = d.branch.name;
        out.description = d.branch.description;
        refuse_protected(req, d.branch.name, d.branch.id, d.branch.parent_id);
        branches = m_client.list_branches(run_limits());
    } else if (req.name) {
        out.name = *req.name;
        branches = m_client.list_branches(run_limits());
        const auto found = std::find_if(branches.begin(), branches.end(),
                                        [&](const Branch& b) { return b.name == *req.name; });
        if (found == branches.end()) {
            return out;  // no such branch: nothing to do
        }
        out.id = found->id;
        refuse_protected(req, found->name, found->id, found->parent_id);
        if (req.read_description) {
            try {
                out.description = m_client.describe_branch(out.id, run_limits()).branch.description;
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::NotFound) {
                    throw;  // nothing deleted: a reset must not lose the tag it cannot read
                }
                return out;  // gone meanwhile
            }
        }
    } else {
        throw Error(ErrorKind::Usage, "nothing to delete: no branch id and no branch name given");
    }
    refuse_parent_of_live(branches, out.id, out.name);
    out.deleted = m_client.delete_branch(out.id, run_limits());
    return out;
}

}  // namespace xbranch
