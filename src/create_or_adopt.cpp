// Create-or-adopt (create_steps.hpp): the POST on the one retry loop, a
// branch found by name claimed as this run's only when its tag carries this
// run's token, else adopted. Returns who owns the branch; a POST that may
// have made it before a failure is settled by its tag.
#include <spdlog/spdlog.h>

#include <random>

#include "create_steps.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::steps {
namespace {

using std::chrono::duration_cast;

// The description a POST carries: the run's tag with the user's note and
// the expiry in it. The expiry is wall time (gc compares it with the wall
// clock of another machine), so it comes from the system clock, not env.clock.
std::string description_for(const CreateRequest& request) {
    if (request.run_token.empty()) {
        if (request.ttl || request.expires_at) {
            throw Error(ErrorKind::Internal, "a TTL needs a run token: the tag carries both");
        }
        return request.description;
    }
    BranchTag tag;
    tag.token = request.run_token;
    tag.note = request.description;
    if (request.ttl) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        tag.expires_at = duration_cast<std::chrono::seconds>(now + *request.ttl).count();
    } else {
        tag.expires_at = request.expires_at;
    }
    return encode_tag(tag);
}

// -v: a TTL is written only into the tag of a branch this run creates.
void note_kept_expiry(const CreateRequest& request) {
    if (request.ttl || request.expires_at) {
        spdlog::info(
            "branch {} already existed: it keeps its own expiry (the requested TTL applies only "
            "to a branch this run creates)",
            request.branch_name);
    }
}

// What the POST loop knows so far.
struct PostState {
    bool posted_uncertain = false;  // an earlier POST of ours may have created it
    bool in_flight = false;         // a POST is being sent right now
    CreateOutcome last;
    std::optional<Claimed> made;
};

Branch adopt(const Branch& existing, const std::string& parent_id, const std::string& name) {
    if (existing.id == parent_id || existing.parent_id.value_or("") != parent_id) {
        throw Error(ErrorKind::Conflict, "branch '" + name + "' already exists (id " + existing.id +
                                             ") with parent " +
                                             existing.parent_id.value_or("none") +
                                             ", not the requested parent " + parent_id)
            .with_operation("create branch " + name)
            .with_reason(ErrorReason::BranchInTheWay)
            .with_branch(existing.id, name);
    }
    return existing;
}

}  // namespace

bool owned_by_this_run(const StepEnv& env, const std::string& id, const std::string& token,
                       const Limits& limits) {
    if (token.empty()) {
        return false;
    }
    try {
        const auto tag = decode_tag(env.client.describe_branch(id, limits).description);
        return tag && tag->token == token;
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::Unavailable) {
            throw;
        }
        // Unknown owner: adopting is the safe side (it is never deleted then).
        spdlog::warn("could not read the tag of branch {}: {}; treating it as adopted", id,
                     e.describe());
        return false;
    }
}

namespace {

Claimed claim(const StepEnv& env, const Branch& found, const std::string& parent_id,
              const CreateRequest& request, const Limits& limits) {
    Branch b = adopt(found, parent_id, request.branch_name);
    const bool ours = owned_by_this_run(env, found.id, request.run_token, limits);
    if (ours) {
        spdlog::info("branch {} (id {}) carries this run's tag: this run created it",
                     request.branch_name, found.id);
    } else {
        spdlog::info("adopting existing branch {} (id {})", request.branch_name, found.id);
        note_kept_expiry(request);
    }
    return {b, ours ? Owner::ThisRun : Owner::Adopted};
}

Attempt post_once(const StepEnv& env, const CreateRequest& request, const std::string& parent_id,
                  PostState& st, const Limits& limits) {
    const std::string& name = request.branch_name;
    const std::string op = "create branch " + name;
    // The answer to an earlier POST may have been slow to show in the list.
    if (st.posted_uncertain) {
        if (auto found = env.client.find_branch_by_name(name, limits)) {
            st.made = claim(env, *found, parent_id, request, limits);
            return Attempt::done();
        }
    }
    st.in_flight = true;
    st.last = env.client.create_branch(name, parent_id, description_for(request), limits);
    st.in_flight = false;
    const CreateOutcome& last = st.last;
    switch (last.kind) {
        case CreateOutcome::Kind::Created:
            st.made = Claimed{*last.branch, Owner::ThisRun};
            return Attempt::done();
        case CreateOutcome::Kind::Conflict:
            if (auto found = env.client.find_branch_by_name(name, limits)) {
                st.made = claim(env, *found, parent_id, request, limits);
                return Attempt::done();
            }
            spdlog::info("{}: 409 but no branch of that name is listed; trying again", op);
            return Attempt::retry("HTTP 409 for a name that is not listed");
        case CreateOutcome::Kind::Uncertain:
            break;
    }
    spdlog::warn("{}: outcome unknown ({})", op, redact(last.detail));
    st.posted_uncertain = st.posted_uncertain || last.maybe_created;
    if (last.maybe_created) {
        // Never repeat a POST blindly: look the name up first.
        if (auto found = env.client.find_branch_by_name(name, limits)) {
            st.made = claim(env, *found, parent_id, request, limits);
            return Attempt::done();
        }
    }
    Attempt a = Attempt::retry(last.detail, last.retry_after);
    // A POST answered 429 was not performed: waiting out a rate limit uses no attempt.
    a.counts = !(!last.maybe_created && last.last_error && last.last_error->http_status() == 429);
    return a;
}

Error post_failure(const StepEnv& env, const std::string& op, const LoopEnd& end,
                   const PostState& st) {
    if (end.why == LoopEnd::Why::Cancelled) {
        return env.interrupted(op);
    }
    if (end.why == LoopEnd::Why::DeadlineReached) {
        if (st.last.last_error) {  // the API answered, busy: say so (exit 8), as the client does
            Error e = *st.last.last_error;
            e.add_hint("the time limit ran out while retrying");
            return e;
        }
        return env.client.deadline_error(op, end.last_reason);
    }
    const int attempts = env.client.policy().max_attempts;
    Error e(ErrorKind::Unavailable, "the branch could not be created after " +
                                        std::to_string(attempts) +
                                        " attempts; last: " + st.last.detail);
    if (st.last.last_error) {
        e = *st.last.last_error;
        e.with_hint("gave up after " + std::to_string(attempts) + " attempts");
    }
    e.with_operation(op);
    return e;
}

// After a failed or cancelled create whose POST may have made the branch:
// finds it by name and applies the clean-up when its tag is this run's.
void settle_after_failure(const StepEnv& env, const CreateRequest& request, Error& e) {
    const std::string& name = request.branch_name;
    if (request.run_token.empty()) {
        return;  // without a tag a found branch cannot be told apart from another run's
    }
    const Limits limits = env.cleanup_limits();
    try {
        auto found = env.client.find_branch_by_name(name, limits);
        if (!found || !owned_by_this_run(env, found->id, request.run_token, limits)) {
            return;
        }
        FailureFacts facts;
        facts.ours = true;
        facts.keep_on_failure = request.keep_on_failure;
        facts.kind = e.kind();
        facts.reason = e.reason();
        clean_up(env, *found, facts, e, std::nullopt, /*announce=*/false);
    } catch (const Error& lookup) {
        spdlog::warn("could not check for a half-created branch {}: {}", name, lookup.describe());
    }
}

}  // namespace

Claimed create_or_adopt(const StepEnv& env, const CreateRequest& request,
                        const std::string& parent_id, const std::optional<Branch>& already_there,
                        Deadline deadline) {
    const std::string op = "create branch " + request.branch_name;
    if (already_there) {
        Branch b = adopt(*already_there, parent_id, request.branch_name);
        spdlog::info("adopting existing branch {} (id {})", request.branch_name, b.id);
        note_kept_expiry(request);
        return {b, Owner::Adopted};
    }
    PostState st;
    const Limits limits = env.limits(deadline);
    Waiter waiter(env.clock, env.control.cancel, deadline);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    RetryLoop loop(waiter, env.client.policy(), [&unit] { return unit(rng); });
    LoopEnd end;
    try {
        end = loop.run(
            op, [&](int) { return post_once(env, request, parent_id, st, limits); },
            env.client.policy().max_attempts);
    } catch (Error& e) {
        // A signal or the time limit during the POST (or the lookup after an
        // uncertain one): the branch may exist now, and be this run's.
        if (st.in_flight || st.posted_uncertain) {
            if (e.kind() == ErrorKind::Interrupted) {
                settle_after_failure(env, request, e);
            } else if (is_deadline(e)) {
                // --timeout is a promise: no lookup past it. Say what may exist.
                e.with_cleanup(CleanupState::Unknown, {}, request.branch_name);
            }
        }
        throw;
    }
    if (st.made) {
        return *st.made;
    }
    Error e = post_failure(env, op, end, st);
    if (st.posted_uncertain) {
        if (end.why == LoopEnd::Why::DeadlineReached) {
            e.with_cleanup(CleanupState::Unknown, {}, request.branch_name);
        } else {
            settle_after_failure(env, request, e);
        }
    }
    throw e;
}

}  // namespace xbranch::steps
