#include "xbranch/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "xbranch/quota.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"
#include "xbranch/usable.hpp"

namespace xbranch {
namespace {

using std::chrono::duration_cast;
using ms = std::chrono::milliseconds;

constexpr ms k_rewake_every{30000};
constexpr ms k_wake_retry{5000};         // after a wake the API refused for now
constexpr ms k_unavailable_pause{2000};  // after a poll failed all its retries
constexpr ms k_limits_cap{5000};         // the limits call: a create never waits long for it

// The description a POST carries: the run's tag with the user's note and
// the expiry in it. The expiry is wall time (gc compares it with the wall
// clock of another machine), so it comes from the system clock, not m_clock.
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

bool is_deadline(const Error& e) {
    return e.reason() == ErrorReason::DeadlineReached;
}

Error fault_error(const std::string& name, const std::string& op, const BranchStatus& status) {
    return Error(ErrorKind::Fault, "branch '" + name + "' is in FAULT" +
                                       (status.phase.empty() ? "" : ": " + status.phase))
        .with_operation(op)
        .with_hint("see the branch in the Xata console; xbranch does not retry a faulted branch");
}

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

// What the POST loop knows so far.
struct Lifecycle::PostState {
    bool posted_uncertain = false;  // an earlier POST of ours may have created it
    bool in_flight = false;         // a POST is being sent right now
    CreateOutcome last;
    std::optional<Branch> made;
};

struct Lifecycle::WakeState {
    bool hibernating = false;
    Clock::TimePoint hibernated_since{};
    std::optional<Clock::TimePoint> next_wake;  // nullopt: never woken yet
};

Error Lifecycle::interrupted(const std::string& op) const {
    XataClient::Scope scope(m_client, {m_control.cancel, {}, {}});
    return m_client.interrupted_error(op);
}

XataClient::Limits Lifecycle::cleanup_limits(std::optional<Deadline> by) const {
    Deadline d = Deadline::in(m_clock, m_control.cleanup_budget);
    if (by) {
        d = d.sooner(*by);
    }
    return {m_control.cleanup_cancel, d, m_control.cleanup_request_cap};
}

std::string Lifecycle::resolve_parent_id(const std::string& parent, bool is_id,
                                         std::optional<Branch>* existing_same_name,
                                         const std::string& branch_name,
                                         std::optional<std::vector<Branch>>* listed) {
    if (is_id) {
        return parent;
    }
    const auto branches = m_client.list_branches();
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

void Lifecycle::check_room(const CreateRequest& request,
                           std::optional<std::vector<Branch>>& listed) {
    std::optional<ProjectLimits> limits;
    try {
        // At most 5 s and a quarter of the time left: the POST keeps the rest.
        XataClient::Limits capped = m_client.limits();
        ms cap = k_limits_cap;
        if (capped.deadline.is_set()) {
            cap = std::min(cap, std::max(ms{1}, capped.deadline.left(m_clock) / 4));
        }
        capped.request_cap = std::min(capped.request_cap.value_or(cap), cap);
        XataClient::Scope scope(m_client, capped);
        limits = m_client.project_limits();
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::Interrupted || is_deadline(e)) {
            throw;
        }
        if (m_client.limits().deadline.passed(m_clock)) {
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
        listed = m_client.list_branches();
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

Branch Lifecycle::adopt(const Branch& existing, const std::string& parent_id,
                        const std::string& name) {
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

bool Lifecycle::owned_by_this_run(const std::string& id, const std::string& token) {
    if (token.empty()) {
        return false;
    }
    try {
        const auto tag = decode_tag(m_client.describe_branch(id).description);
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

Branch Lifecycle::claim(const Branch& found, const std::string& parent_id,
                        const CreateRequest& request, CreateResult& result) {
    Branch b = adopt(found, parent_id, request.branch_name);
    const bool ours = owned_by_this_run(found.id, request.run_token);
    result.created_by_us = ours;
    result.adopted = !ours;
    if (ours) {
        spdlog::info("branch {} (id {}) carries this run's tag: this run created it",
                     request.branch_name, found.id);
    } else {
        spdlog::info("adopting existing branch {} (id {})", request.branch_name, found.id);
        note_kept_expiry(request);
    }
    return b;
}

Attempt Lifecycle::post_once(const CreateRequest& request, const std::string& parent_id,
                             PostState& st, CreateResult& result) {
    const std::string& name = request.branch_name;
    const std::string op = "create branch " + name;
    // The answer to an earlier POST may have been slow to show in the list.
    if (st.posted_uncertain) {
        if (auto found = m_client.find_branch_by_name(name)) {
            st.made = claim(*found, parent_id, request, result);
            return Attempt::done();
        }
    }
    st.in_flight = true;
    st.last = m_client.create_branch(name, parent_id, description_for(request));
    st.in_flight = false;
    const CreateOutcome& last = st.last;
    switch (last.kind) {
        case CreateOutcome::Kind::Created:
            result.created_by_us = true;
            st.made = *last.branch;
            return Attempt::done();
        case CreateOutcome::Kind::Conflict:
            if (auto found = m_client.find_branch_by_name(name)) {
                st.made = claim(*found, parent_id, request, result);
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
        if (auto found = m_client.find_branch_by_name(name)) {
            st.made = claim(*found, parent_id, request, result);
            return Attempt::done();
        }
    }
    Attempt a = Attempt::retry(last.detail, last.retry_after);
    // A POST answered 429 was not performed: waiting out a rate limit uses no attempt.
    a.counts = !(!last.maybe_created && last.last_error && last.last_error->http_status() == 429);
    return a;
}

Error Lifecycle::post_failure(const std::string& op, const LoopEnd& end,
                              const PostState& st) const {
    if (end.why == LoopEnd::Why::Cancelled) {
        return interrupted(op);
    }
    if (end.why == LoopEnd::Why::DeadlineReached) {
        if (st.last.last_error) {  // the API answered, busy: say so (exit 8), as the client does
            Error e = *st.last.last_error;
            e.add_hint("the time limit ran out while retrying");
            return e;
        }
        return m_client.deadline_error(op, end.last_reason);
    }
    const int attempts = m_client.policy().max_attempts;
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

void Lifecycle::settle_after_failure(const CreateRequest& request, Error& e) {
    const std::string& name = request.branch_name;
    if (request.run_token.empty()) {
        return;  // without a tag a found branch cannot be told apart from another run's
    }
    XataClient::Scope scope(m_client, cleanup_limits());
    try {
        auto found = m_client.find_branch_by_name(name);
        if (!found || !owned_by_this_run(found->id, request.run_token)) {
            return;
        }
        const bool gone = !request.keep_on_failure && delete_own(*found);
        e.with_cleanup(request.keep_on_failure ? CleanupState::Kept
                       : gone                  ? CleanupState::Deleted
                                               : CleanupState::Left,
                       found->id, name);
    } catch (const Error& lookup) {
        spdlog::warn("could not check for a half-created branch {}: {}", name, lookup.describe());
    }
}

Branch Lifecycle::create_or_adopt(const CreateRequest& request, const std::string& parent_id,
                                  CreateResult& result,
                                  const std::optional<Branch>& already_there) {
    const std::string op = "create branch " + request.branch_name;
    if (already_there) {
        Branch b = adopt(*already_there, parent_id, request.branch_name);
        spdlog::info("adopting existing branch {} (id {})", request.branch_name, b.id);
        note_kept_expiry(request);
        result.adopted = true;
        return b;
    }
    PostState st;
    Waiter waiter(m_clock, m_control.cancel, m_client.limits().deadline);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    RetryLoop loop(waiter, m_client.policy(), [&unit] { return unit(rng); });
    LoopEnd end;
    try {
        end = loop.run(
            op, [&](int) { return post_once(request, parent_id, st, result); },
            m_client.policy().max_attempts);
    } catch (Error& e) {
        // A signal or the time limit during the POST (or the lookup after an
        // uncertain one): the branch may exist now, and be this run's.
        if (st.in_flight || st.posted_uncertain) {
            if (e.kind() == ErrorKind::Interrupted) {
                settle_after_failure(request, e);
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
    Error e = post_failure(op, end, st);
    if (st.posted_uncertain) {
        if (end.why == LoopEnd::Why::DeadlineReached) {
            e.with_cleanup(CleanupState::Unknown, {}, request.branch_name);
        } else {
            settle_after_failure(request, e);
        }
    }
    throw e;
}

std::optional<BranchDetails> Lifecycle::poll(const std::string& id, const std::string& op,
                                             const Waiter& waiter) {
    try {
        return m_client.describe_branch(id);
    } catch (Error& e) {
        if (e.kind() == ErrorKind::NotFound) {
            e.add_hint("the branch disappeared while xbranch was waiting for it; was it deleted?");
        }
        // A poll that stayed unanswered (429, 5xx, network) after the client's
        // own retries says nothing about the branch: ask again later, until the
        // deadline, rather than give up on (and delete) a branch that is fine.
        if (e.kind() != ErrorKind::Unavailable || waiter.left() <= k_unavailable_pause) {
            throw;
        }
        spdlog::info("{}: {}; asking again in {} ms", op, redact(e.describe()),
                     k_unavailable_pause.count());
        return std::nullopt;
    }
}

void Lifecycle::maybe_wake(const std::string& id, const std::string& name, WakeState& wake,
                           ms wake_after, bool wake_now) {
    const auto now = m_clock.now();
    if (!wake.hibernating) {
        wake.hibernating = true;
        wake.hibernated_since = now;
    }
    // Right after creation a branch reports HIBERNATED with no instances; only
    // one that stays so (or one we adopted) is woken.
    const bool stayed = now - wake.hibernated_since >= wake_after;
    const bool due = !wake.next_wake || now >= *wake.next_wake;
    if (!(wake_now || stayed) || !due) {
        return;
    }
    m_progress.note("waking hibernated branch " + name);
    spdlog::debug("branch {} is hibernated; waking it", name);  // the note above says it
    try {
        m_client.wake_branch(id);
        wake.next_wake = now + k_rewake_every;
    } catch (const Error& e) {
        // 503 streaks, 409 "modified concurrently" and 403 "temporarily
        // unavailable" pass: they say nothing against a healthy branch.
        if (e.kind() != ErrorKind::Unavailable && e.kind() != ErrorKind::Conflict) {
            throw;
        }
        spdlog::warn("could not wake branch {} yet: {}; trying again", name, e.describe());
        wake.next_wake = now + k_wake_retry;
    }
}

Waiter::Result Lifecycle::pause(Waiter& waiter, ms d, Clock::TimePoint start) {
    if (!m_progress.wants_ticks()) {
        return waiter.wait(d);
    }
    const auto until = m_clock.now() + d;
    while (m_clock.now() < until) {
        const auto slice = std::min(ms{100}, duration_cast<ms>(until - m_clock.now()));
        const auto r = waiter.wait(slice);
        if (r != Waiter::Result::Slept) {
            return r;
        }
        m_progress.tick(duration_cast<ms>(m_clock.now() - start));
    }
    return Waiter::Result::Slept;
}

BranchDetails Lifecycle::wait_ready(const std::string& id, const std::string& name,
                                    Deadline deadline, const PollSchedule& schedule, ms wake_after,
                                    bool wake_now) {
    const auto start = m_clock.now();
    const std::string op = "wait for branch " + name;
    Waiter waiter(m_clock, m_control.cancel, deadline);
    WakeState wake;
    StatusType last_type = StatusType::Unspecified;
    std::optional<BranchStatus> last_status;
    auto not_ready = [&] {
        return Error(ErrorKind::Timeout,
                     "branch '" + name + "' was not ready after " +
                         seconds_text(duration_cast<ms>(m_clock.now() - start)) +
                         (last_status ? "; last status " + status_text(*last_status) : ""))
            .with_operation(op)
            .with_reason(ErrorReason::ReadyTimeout);
    };
    for (;;) {
        std::optional<BranchDetails> d;
        try {
            d = poll(id, op, waiter);
        } catch (Error& e) {
            if (is_deadline(e)) {
                throw not_ready();
            }
            if (e.kind() == ErrorKind::Interrupted) {
                // The user stopped the wait, not one describe call: say so.
                e.with_operation(op);
            }
            throw;
        }
        const auto elapsed = duration_cast<ms>(m_clock.now() - start);
        if (d) {
            last_status = d->status;
            m_progress.update(name, d->status, elapsed);
            if (d->status.type != last_type) {
                spdlog::debug("branch {}: {} after {}", name, status_text(d->status),
                              seconds_text(elapsed));
                last_type = d->status.type;
            }
            if (d->status.type == StatusType::Healthy) {
                return *d;
            }
            if (d->status.type == StatusType::Fault) {
                throw fault_error(name, op, d->status);
            }
            if (d->status.type == StatusType::Hibernated) {
                try {
                    maybe_wake(id, name, wake, wake_after, wake_now);
                } catch (Error& e) {
                    if (e.kind() == ErrorKind::Interrupted) {
                        e.with_operation(op);
                    }
                    throw;
                }
            } else {
                wake.hibernating = false;
            }
        }
        const ms wait = d ? schedule.next(elapsed) : k_unavailable_pause;
        switch (pause(waiter, std::max(wait, ms{1}), start)) {
            case Waiter::Result::Cancelled:
                throw interrupted(op);
            case Waiter::Result::DeadlineReached:
                throw not_ready();
            case Waiter::Result::Slept:
                break;
        }
    }
}

Credentials Lifecycle::fetch_credentials(const std::string& id, Deadline deadline) {
    const std::string op = "get credentials of branch " + id;
    Credentials creds;
    std::optional<Error> last_error;
    // Right after readiness the credentials may lag behind for a moment; an
    // unanswered call (429, 5xx) is asked again too, until the deadline.
    RetryPolicy lag;
    lag.base = ms{200};
    lag.max_backoff = ms{1000};
    Waiter waiter(m_clock, m_control.cancel, deadline);
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto try_once = [&](int) {
        try {
            creds = m_client.credentials(id);
            return Attempt::done();
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::NotFound && e.kind() != ErrorKind::Unavailable) {
                throw;
            }
            last_error = e;
            return Attempt::retry("not available yet: " + std::string(e.what()));
        }
    };
    const LoopEnd end =
        RetryLoop(waiter, lag, [&] { return unit(rng); }).run(op, try_once, /*max_attempts=*/0);
    if (end.why == LoopEnd::Why::Cancelled) {
        throw interrupted(op);
    }
    if (end.why != LoopEnd::Why::Done) {
        throw *last_error;
    }
    return creds;
}

ConnectionInfo Lifecycle::connection_for(const BranchDetails& details, Endpoint endpoint,
                                         const std::string& sslmode, Deadline deadline) {
    const std::string& id = details.branch.id;
    const std::string op = "get credentials of branch " + id;
    const Credentials creds = fetch_credentials(id, deadline);
    // The URL form carries the password percent-encoded: hide that form too.
    register_secret(percent_encode(creds.password));
    ConnectionInfo info;
    info.username = creds.username;
    info.password = creds.password;
    info.sslmode = sslmode;
    info.database = "xata";
    // Host, port and database: the credentials answer's own fields (hosted
    // service), else a URL in it, else the describe answer's URL (Xata Core).
    auto take_url = [&info](const std::optional<std::string>& text) {
        std::optional<ParsedUrl> url = text ? parse_postgres_url(*text) : std::nullopt;
        if (url) {
            info.host = url->host;
            info.port = url->port.value_or(5432);
            if (!url->database.empty()) {
                info.database = url->database;
            }
        }
        return url.has_value();
    };
    if (creds.host) {
        info.host = *creds.host;
        if (creds.port) {
            info.port = *creds.port;
        }
        if (creds.database) {
            info.database = *creds.database;
        }
    } else if (!take_url(creds.connection_string) && !take_url(details.connection_string)) {
        if (details.branch.region.empty()) {
            throw Error(ErrorKind::Protocol,
                        "the API gave no host for branch " + id + " and no region to derive one")
                .with_operation(op);
        }
        info.host = XataClient::hosted_host(id, details.branch.region);
    }
    info.host = apply_endpoint(info.host, endpoint);
    return info;
}

bool Lifecycle::delete_own(const Branch& branch) {
    return !try_delete_own(branch).has_value();
}

std::optional<Error> Lifecycle::try_delete_own(const Branch& branch) {
    try {
        m_client.delete_branch(branch.id);
        return std::nullopt;
    } catch (const Error& e) {
        spdlog::error("could not delete branch {} (id {}): {}", branch.name, branch.id,
                      e.describe());
        return e;
    }
}

bool Lifecycle::vanished(const Branch& branch, std::optional<Deadline> by) {
    XataClient::Scope scope(m_client, cleanup_limits(by));
    try {
        (void)m_client.describe_branch(branch.id);
        return false;
    } catch (const Error& e) {
        return e.kind() == ErrorKind::NotFound;
    }
}

bool Lifecycle::cleanup(const Branch& branch, const std::string& why, std::optional<Deadline> by) {
    spdlog::warn("deleting branch {} (id {}) created by this run, because: {}", branch.name,
                 branch.id, redact(why));
    XataClient::Scope scope(m_client, cleanup_limits(by));
    return delete_own(branch);
}

std::optional<Error> Lifecycle::discard(const Branch& branch) {
    spdlog::info("deleting branch {} (id {}): its use is over", branch.name, branch.id);
    XataClient::Scope scope(m_client, cleanup_limits());
    return try_delete_own(branch);
}

void Lifecycle::on_failure(const CreateRequest& request, const CreateResult& result, Error& e,
                           Deadline deadline) {
    const Branch& b = result.branch;
    if (!result.created_by_us) {
        return;
    }
    // Within the command's limit (plus its grace), except after a signal:
    // that cleanup has its own budget.
    std::optional<Deadline> by;
    if (e.kind() != ErrorKind::Interrupted) {
        by = deadline.shifted(m_control.deadline_grace);
    }
    // A 404 about a branch this run made: someone else deleted it. Nothing
    // is left to clean up, and the 404's own hint (organization, project) is wrong.
    // Already known gone (the connection check looked): no second look.
    if (e.reason() == ErrorReason::BranchVanished ||
        (e.kind() == ErrorKind::NotFound && vanished(b, by))) {
        e.with_reason(ErrorReason::BranchVanished).with_branch(b.id, b.name);
        return;
    }
    if (request.keep_on_failure) {
        e.with_cleanup(CleanupState::Kept, b.id, b.name);
        return;
    }
    // Another run may have adopted it and be running its hooks: never delete
    // a branch whose hooks may still run (this run's own Pending aside).
    if (result.hooks_phase && !result.hooks_started && hooks_of_another_run(b)) {
        spdlog::warn("not deleting branch {} (id {}): another xbranch run may be running its hooks",
                     b.name, b.id);
        e.add_hint("branch " + b.name +
                   " is kept: another xbranch run recorded its hooks as running");
        return;
    }
    const bool gone = cleanup(b, e.what(), by);
    e.with_cleanup(gone ? CleanupState::Deleted : CleanupState::Left, b.id, b.name);
}

void Lifecycle::finish_create(const CreateRequest& request, Deadline deadline,
                              CreateResult& result) {
    const Branch& b = result.branch;
    BranchDetails d =
        wait_ready(b.id, b.name, deadline, request.schedule, request.wake_after, result.adopted);
    // A loop: a recreate may adopt a branch another rerun just made, Pending too.
    while (hooks_pending(result, d)) {
        d = settle_pending(request, deadline, result, d);
    }
    result.status = d.status;
    if (!d.branch.region.empty()) {
        result.branch.region = d.branch.region;
    }
    result.connection = connection_for(d, request.endpoint, request.sslmode, deadline);
    complete_connection(request, result);
    make_usable(request, deadline, result, d);
}

CreateResult Lifecycle::create(const CreateRequest& request) {
    const Deadline deadline = Deadline::in(m_clock, request.timeout);
    XataClient::Scope scope(m_client, {m_control.cancel, deadline, std::nullopt});
    CreateResult result;
    std::optional<Branch> existing;
    std::optional<std::vector<Branch>> listed;
    result.parent_id = resolve_parent_id(request.parent, request.parent_is_id, &existing,
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
    try {
        result.branch = create_or_adopt(request, result.parent_id, result, existing);
    } catch (Error& e) {
        // The POST is the quota check: at the branch cap the server refuses
        // it (400). Only then the limits call (a request on this path only)
        // names the cap; without limits (Xata Core) the oldest of ours come
        // from the list already made.
        if (e.kind() == ErrorKind::QuotaExceeded && e.http_status() == 400) {
            try {
                check_room(request, listed);
            } catch (Error& at_cap) {
                if (at_cap.kind() == ErrorKind::QuotaExceeded) {
                    at_cap.add_hint("the server refused the create: " + std::string(e.what()));
                }
                throw;
            }
        }
        if (e.kind() == ErrorKind::QuotaExceeded && e.http_status() == 400 && listed &&
            !request.prefix.empty()) {
            const auto oldest = check_quota(*listed, std::nullopt, request.prefix).oldest;
            if (!oldest.empty()) {
                e.add_hint("oldest of ours: " + branches_text(oldest));
            }
        }
        throw;
    }
    // What follows may fail and delete the branch this run made: it ends
    // early enough for that delete to fit within the limit (plus the grace).
    // The create's own time says how long a request to this API takes; a
    // fast API costs the wait nothing.
    const ms create_took = std::chrono::duration_cast<ms>(m_clock.now() - create_start);
    const ms reserve = result.created_by_us
                           ? std::min({m_control.cleanup_reserve, request.timeout / 5, create_took})
                           : ms{0};
    const Deadline work = deadline.shifted(-reserve);
    try {
        XataClient::Scope work_scope(m_client, {m_control.cancel, work, std::nullopt});
        finish_create(request, work, result);
    } catch (Error& e) {
        on_failure(request, result, e, deadline);
        throw;
    } catch (const std::exception& ex) {
        // Not the tool's own error (bad_alloc, a library's exception): still a
        // failure after this run made the branch, so clean up the same way.
        Error e =
            Error(ErrorKind::Internal, std::string("unexpected: ") + ex.what())
                .with_hint("this is a bug in xbranch; please report it with the output of -v");
        on_failure(request, result, e, deadline);
        throw e;
    }
    return result;
}

Lifecycle::DeleteResult Lifecycle::remove(const DeleteRequest& req) {
    DeleteResult out;
    std::vector<Branch> branches;  // one list: the children check (and the lookup by name)
    if (req.id) {
        out.id = *req.id;
        BranchDetails d;
        try {
            d = m_client.describe_branch(*req.id);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::NotFound) {
                throw;
            }
            // A wrong organization or project answers 404 too: "already gone"
            // only when the project itself answers.
            try {
                (void)m_client.list_branches();
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
        branches = m_client.list_branches();
    } else if (req.name) {
        out.name = *req.name;
        branches = m_client.list_branches();
        const auto found = std::find_if(branches.begin(), branches.end(),
                                        [&](const Branch& b) { return b.name == *req.name; });
        if (found == branches.end()) {
            return out;  // no such branch: nothing to do
        }
        out.id = found->id;
        refuse_protected(req, found->name, found->id, found->parent_id);
        if (req.read_description) {
            try {
                out.description = m_client.describe_branch(out.id).branch.description;
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
    out.deleted = m_client.delete_branch(out.id);
    return out;
}

}  // namespace xbranch
