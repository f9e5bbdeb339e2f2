// Lifecycle's steps after credentials (declared in lifecycle.hpp, kept here so
// the create flow and these steps change independently): the database and
// pooled variants of the connection, the connection check, the hooks and
// their state in the branch's tag.
#include "xbranch/usable.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "xbranch/lifecycle.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// How often a run waiting for another run's hooks looks at the branch's tag.
constexpr ms k_hooks_poll{1000};
// A look at the branch between failed logins: logins wait meanwhile, so it
// gets a short budget of its own (a request and a retry or two), not the run's.
constexpr ms k_watch_budget{3000};
constexpr ms k_watch_request_cap{2000};

bool is_deadline_reason(const Error& e) {
    return e.reason() == ErrorReason::DeadlineReached;
}

std::string hook_name(const HookSpec& hook) {
    return hook.kind == HookSpec::Kind::Sql ? "SQL hook " + hook.value
                                            : "exec hook '" + hook.value + "'";
}

Error hook_error(const HookSpec& hook, const std::string& what) {
    return Error(ErrorKind::HookFailed, hook_name(hook) + " failed: " + redact(what))
        .with_operation("run hooks");
}

// The tag says Done: logs why the hooks are skipped.
bool hooks_done(const std::string& name, const std::string& description,
                const std::string& fingerprint) {
    const auto tag = decode_tag(description);
    if (!tag || tag->hooks != HookState::Done) {
        return false;
    }
    if (tag->hooks_fingerprint != fingerprint) {
        spdlog::warn(
            "branch {} ran a different set of hooks earlier (fingerprint {}, now {}); not "
            "running them again",
            name, tag->hooks_fingerprint, fingerprint);
    } else {
        spdlog::info("branch {} ran these hooks already; not running them again", name);
    }
    return true;
}

}  // namespace

SqlScriptResult PqSqlRunner::run(const ConnectionInfo& info, const std::string& file,
                                 const std::string& text, Clock& clock, Deadline deadline,
                                 const CancelToken* cancel) {
    const StopFn stop = [cancel] { return cancel != nullptr && cancel->cancelled(); };
    auto opened = open_connection(info, deadline.left(clock), stop);
    if (!opened.result.ok) {
        SqlScriptResult r;
        r.ok = false;
        r.file = file;
        r.reason = opened.result.reason;
        r.sqlstate = opened.result.sqlstate;
        r.message = "could not connect: " + opened.result.message;
        return r;
    }
    // Clock::TimePoint is a steady_clock point: the executor's deadline.
    const auto left = deadline.left(clock);
    const auto until = left == Clock::Duration::max() ? std::chrono::steady_clock::time_point::max()
                                                      : std::chrono::steady_clock::now() + left;
    return run_sql_script(*opened.connection, file, text, until, stop);
}

bool Lifecycle::hooks_pending(const CreateResult& result, const BranchDetails& details) const {
    if (!result.adopted) {
        return false;
    }
    const auto tag = decode_tag(details.description);
    return tag && tag->hooks == HookState::Pending;
}

HookLockTry Lifecycle::try_hook_lock(const ConnectionInfo& info, Deadline deadline) {
    if (m_edges.locker == nullptr) {
        HookLockTry none;
        none.detail = "no hook locker";
        return none;
    }
    return m_edges.locker->try_lock(info, m_clock, deadline, m_control.cancel);
}

BranchDetails Lifecycle::settle_pending(const CreateRequest& request, Deadline deadline,
                                        CreateResult& result, const BranchDetails& details) {
    const std::string name = result.branch.name;
    const std::string id = result.branch.id;
    const std::string op = "wait for the hooks of branch " + name;
    // The lock lives in the branch's database: reach it with the handed-out login.
    result.connection = connection_for(details, request.endpoint, request.sslmode, deadline);
    complete_connection(request, result);
    Waiter waiter(m_clock, m_control.cancel, deadline);
    const auto start = m_clock.now();
    bool told = false;
    for (;;) {
        HookLockTry lock = try_hook_lock(result.connection, deadline);
        if (lock.outcome == HookLockTry::Outcome::Acquired) {
            // The run that wrote Pending lost its session: it is gone.
            lock.held.reset();
            return recreate(request, deadline, result, /*delete_old=*/true);
        }
        // Busy, or no answer: never delete on doubt; wait for the other run.
        const std::string why = lock.outcome == HookLockTry::Outcome::Busy
                                    ? "a live run holds its hooks' lock"
                                    : "its hooks' lock could not be checked (" + lock.detail + ")";
        if (!told) {
            spdlog::warn(
                "branch {} (id {}) has its hooks running in another xbranch run ({}); waiting "
                "for it to finish",
                name, id, why);
            m_progress.note("waiting for another run's hooks on " + name);
            told = true;
        } else {
            spdlog::debug("branch {}: hooks still pending: {}", name, why);
        }
        switch (pause(waiter, k_hooks_poll, start)) {
            case Waiter::Result::Cancelled:
                throw interrupted(op);
            case Waiter::Result::DeadlineReached: {
                std::string what = "branch '" + name;
                what += "' (id " + id;
                what += ") still had its hooks running in another xbranch run after ";
                what += seconds_text(std::chrono::duration_cast<ms>(m_clock.now() - start));
                throw Error(ErrorKind::Conflict, what)
                    .with_operation(op)
                    .with_reason(ErrorReason::HooksRunning)
                    .with_branch(id, name);
            }
            case Waiter::Result::Slept:
                break;
        }
        BranchDetails now;
        try {
            now = m_client.describe_branch(id);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::NotFound) {
                // Its run failed and cleaned up (or someone deleted it): make it anew.
                spdlog::info("branch {} (id {}) is gone; creating it afresh", name, id);
                return recreate(request, deadline, result, /*delete_old=*/false);
            }
            if (e.kind() != ErrorKind::Unavailable || is_deadline_reason(e)) {
                throw;
            }
            spdlog::info("{}: {}; asking again", op, redact(e.describe()));
            continue;
        }
        const auto tag = decode_tag(now.description);
        if (!tag || tag->hooks != HookState::Pending) {
            spdlog::info("branch {}: the other run finished its hooks; adopting it", name);
            return now;
        }
    }
}

BranchDetails Lifecycle::recreate(const CreateRequest& request, Deadline deadline,
                                  CreateResult& result, bool delete_old) {
    const Branch old = result.branch;
    if (delete_old) {
        // Pending, and its lock free: the run was killed while its hooks ran.
        // Outputs are written only after Done, so nobody got this branch: make
        // it afresh rather than run non-idempotent seeds twice on a half-seeded
        // database.
        spdlog::warn(
            "branch {} (id {}) was left with its hooks unfinished by an earlier run; deleting it "
            "and creating it afresh",
            old.name, old.id);
        m_progress.note("recreating branch " + old.name + " (hooks unfinished)");
        m_client.delete_branch(old.id);
        result.replaced_id = old.id;
    }
    result.adopted = false;
    result.created_by_us = false;
    result.branch = create_or_adopt(request, result.parent_id, result, std::nullopt);
    const Branch& b = result.branch;
    return wait_ready(b.id, b.name, deadline, request.schedule, request.wake_after, result.adopted);
}

void Lifecycle::complete_connection(const CreateRequest& request, CreateResult& result) const {
    if (!request.database.empty()) {
        result.connection.database = request.database;
    }
    result.pooled = result.connection;
    // An IP address (self-hosted, the emulator) has no DNS label to mark.
    const std::string& host = result.connection.host;
    const bool ip_literal = host.find(':') != std::string::npos ||
                            host.find_first_not_of("0123456789.") == std::string::npos;
    if (!ip_literal) {
        result.pooled.host = apply_endpoint(host, Endpoint::Pooler);
    }
}

void Lifecycle::make_usable(const CreateRequest& request, Deadline deadline, CreateResult& result,
                            const BranchDetails& details) {
    if (request.connect_check) {
        check_connection(deadline, result, details);
    }
    if (!request.hooks.empty()) {
        run_hooks(request, deadline, result, details);
    }
}

namespace {

// Whether a failed login looks like a host this machine cannot reach, as a
// private branch (publicAccess false) is from outside its network. A
// certificate, a password, an sslmode or a server's "starting" answer means
// the server was reached: the private-branch hint would mislead.
bool unreachable_from_here(ProbeReason reason) {
    switch (reason) {
        case ProbeReason::Refused:
        case ProbeReason::NameResolution:
        case ProbeReason::Reset:
        case ProbeReason::TlsHandshake:
        case ProbeReason::Timeout:
            return true;
        default:
            return false;
    }
}

}  // namespace

void Lifecycle::check_connection(Deadline deadline, CreateResult& result,
                                 const BranchDetails& details) {
    const std::string& name = result.branch.name;
    const std::string op = "connect to branch " + name;
    if (m_edges.prober == nullptr) {
        throw Error(ErrorKind::Internal, "no database prober for the connection check")
            .with_operation(op);
    }
    Waiter waiter(m_clock, m_control.cancel, deadline);
    const auto start = m_clock.now();
    auto on_try = [&](int n) { m_progress.note("connecting, try " + std::to_string(n)); };
    ProbeLoopOptions options = m_edges.probe_options;
    // Someone may delete the branch while its password lags: without a look
    // at it the check would retry a login that cannot work until the deadline.
    options.target_gone = [&] { return gone_while_connecting(result.branch, deadline); };
    const ProbeLoopResult r = probe_until_usable(*m_edges.prober, waiter, result.connection, on_try,
                                                 options, m_edges.unit_random);
    result.login_tries = r.tries;
    const auto took = std::chrono::duration_cast<ms>(m_clock.now() - start);
    const std::string tries = std::to_string(r.tries) + (r.tries == 1 ? " try" : " tries");
    if (r.last.ok) {
        spdlog::info("branch {}: login works after {} ({})", name, seconds_text(took), tries);
        return;
    }
    if (r.last.reason == ProbeReason::Cancelled || waiter.cancelled()) {
        throw interrupted(op);
    }
    // Gave up early: one look tells "deleted" from "cannot heal" (the
    // deadline's end gets none: the time limit is a promise).
    if (r.target_gone || (r.gave_up_early && gone_while_connecting(result.branch, deadline))) {
        const Branch& b = result.branch;
        std::string what = "branch " + b.name + " (id " + b.id;
        what += ") was deleted while xbranch waited for a login to it (";
        what += tries + " in " + seconds_text(took) + ")";
        throw Error(ErrorKind::NotFound, what)
            .with_operation(op)
            .with_reason(ErrorReason::BranchVanished)
            .with_branch(b.id, b.name);
    }
    const std::string last =
        std::string(reason_name(r.last.reason)) + ": " + redact(r.last.message);
    if (r.last.reason == ProbeReason::DatabaseMissing) {
        throw Error(ErrorKind::NotConnectable, "database '" + result.connection.database +
                                                   "' does not exist in branch " + name + " (" +
                                                   last + ")")
            .with_operation(op)
            .with_reason(ErrorReason::DatabaseMissing);
    }
    Error e(ErrorKind::NotConnectable,
            r.gave_up_early ? "no login to branch " + name + " after " + tries +
                                  "; gave up early: this cannot heal by waiting; last error " + last
                            : "no login to branch " + name + " worked within the time limit (" +
                                  tries + " in " + seconds_text(took) + "); last error " + last);
    e.with_operation(op);
    if (details.public_access && !*details.public_access && unreachable_from_here(r.last.reason)) {
        e.with_reason(ErrorReason::PrivateBranch);
    }
    throw e;
}

bool Lifecycle::gone_while_connecting(const Branch& branch, Deadline deadline) {
    XataClient::Limits quick = m_client.limits();
    quick.cancel = m_control.cancel;
    quick.deadline = deadline.sooner(Deadline::in(m_clock, k_watch_budget));
    quick.request_cap =
        std::min(quick.request_cap.value_or(k_watch_request_cap), k_watch_request_cap);
    XataClient::Scope scope(m_client, quick);
    try {
        (void)m_client.describe_branch(branch.id);
        return false;
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::NotFound) {
            spdlog::info(
                "branch {} (id {}) is gone: someone deleted it while xbranch waited for a login",
                branch.name, branch.id);
            return true;
        }
        // Busy, silent or stopped: says nothing about the branch; the logins go on.
        spdlog::debug("connection check: could not look at branch {}: {}", branch.name,
                      redact(e.describe()));
        return false;
    }
}

std::string Lifecycle::write_hook_state(const CreateRequest& request, const CreateResult& result,
                                        const std::string& description, HookState state,
                                        const std::string& fingerprint) {
    BranchTag tag;
    if (auto old = decode_tag(description)) {
        tag = *old;
    } else {
        // A branch without xbranch's tag (adopted): keep its text as the note.
        std::random_device random;
        tag.token = !request.run_token.empty()
                        ? request.run_token
                        : make_run_token((static_cast<std::uint64_t>(random()) << 32) ^ random());
        tag.note = description;
    }
    tag.hooks = state;
    tag.hooks_fingerprint = fingerprint;
    std::string text = encode_tag(tag);
    m_client.update_description(result.branch.id, text);
    return text;
}

void Lifecycle::run_hooks(const CreateRequest& request, Deadline deadline, CreateResult& result,
                          const BranchDetails& details) {
    const std::string fingerprint = hook_set_fingerprint(request.hooks);
    if (result.adopted && hooks_done(result.branch.name, details.description, fingerprint)) {
        return;
    }
    // The lock first, held until Done (or a failure): it tells a rerun that
    // finds Pending whether this run is alive. Without it a rerun waits rather
    // than deletes, so a failed try only costs a rerun its patience.
    HookLockTry lock = hook_lock_for_hooks(result, deadline);
    if (lock.outcome != HookLockTry::Outcome::Acquired) {
        spdlog::warn("branch {}: running the hooks without their lock ({})", result.branch.name,
                     lock.detail);
    }
    // Two runs may both have adopted the branch before either wrote Pending:
    // the lock orders them, and the tag as it is now says whether the first
    // one got there (the snapshot in `details` is from before the lock).
    const BranchDetails now = m_client.describe_branch(result.branch.id);
    if (hooks_done(result.branch.name, now.description, fingerprint)) {
        return;  // this run wrote nothing yet: another run ran them meanwhile
    }
    if (const auto fresh = decode_tag(now.description);
        fresh && fresh->hooks == HookState::Pending) {
        // Another run recorded them and runs (or ran) them without the lock:
        // never run them a second time, nor delete a branch that run uses.
        result.created_by_us = false;
        throw Error(ErrorKind::Conflict, "branch '" + result.branch.name +
                                             "' has its hooks recorded as started by another "
                                             "xbranch run; not running them a second time")
            .with_operation("run hooks")
            .with_reason(ErrorReason::HooksRunning)
            .with_branch(result.branch.id, result.branch.name);
    }
    // Pending first: a run killed from here on leaves a branch a rerun recreates.
    const std::string pending =
        write_hook_state(request, result, now.description, HookState::Pending, fingerprint);
    for (const auto& hook : request.hooks) {
        m_progress.note("running " + hook_name(hook));
        run_one_hook(hook, request, deadline, result);
    }
    write_hook_state(request, result, pending, HookState::Done, fingerprint);
    result.hooks_ran = true;
}

HookLockTry Lifecycle::hook_lock_for_hooks(CreateResult& result, Deadline deadline) {
    HookLockTry lock = try_hook_lock(result.connection, deadline);
    if (lock.outcome != HookLockTry::Outcome::Busy) {
        return lock;
    }
    // Another live run holds it: it runs this branch's hooks right now. Wait
    // for it (then the tag says Done), never run them beside it.
    const std::string& name = result.branch.name;
    const std::string op = "wait for the hooks' lock of branch " + name;
    spdlog::warn("branch {} (id {}): another xbranch run holds its hooks' lock; waiting for it",
                 name, result.branch.id);
    m_progress.note("waiting for another run's hooks on " + name);
    Waiter waiter(m_clock, m_control.cancel, deadline);
    const auto start = m_clock.now();
    while (lock.outcome == HookLockTry::Outcome::Busy) {
        switch (pause(waiter, k_hooks_poll, start)) {
            case Waiter::Result::Cancelled:
                throw interrupted(op);
            case Waiter::Result::DeadlineReached: {
                // The other run uses the branch: this run's failure must not delete it.
                result.created_by_us = false;
                std::string what = "branch '" + name + "' (id " + result.branch.id;
                what += ") still had its hooks running in another xbranch run after ";
                what += seconds_text(std::chrono::duration_cast<ms>(m_clock.now() - start));
                throw Error(ErrorKind::Conflict, what)
                    .with_operation(op)
                    .with_reason(ErrorReason::HooksRunning)
                    .with_branch(result.branch.id, name);
            }
            case Waiter::Result::Slept:
                break;
        }
        lock = try_hook_lock(result.connection, deadline);
    }
    return lock;
}

void Lifecycle::run_one_hook(const HookSpec& hook, const CreateRequest& request, Deadline deadline,
                             const CreateResult& result) {
    const std::string op = "run " + hook_name(hook);
    if (hook.kind == HookSpec::Kind::Sql) {
        if (m_edges.sql == nullptr) {
            throw Error(ErrorKind::Internal, "no SQL runner for the hooks").with_operation(op);
        }
        const SqlScriptResult r = m_edges.sql->run(result.connection, hook.value, hook.content,
                                                   m_clock, deadline, m_control.cancel);
        if (r.reason == ProbeReason::Cancelled) {
            throw interrupted(op);
        }
        if (!r.ok) {
            throw hook_error(hook, r.describe());
        }
        spdlog::info("{}: {} statement{}", op, r.statements_run, r.statements_run == 1 ? "" : "s");
        return;
    }
    if (m_edges.processes == nullptr) {
        throw Error(ErrorKind::Internal, "no process runner for the hooks").with_operation(op);
    }
    RunOptions options;
    options.env =
        hook_environment(result.connection, result.branch.name, result.branch.id, request.parent);
    const CancelToken* cancel = m_control.cancel;
    options.should_stop = [cancel] { return cancel != nullptr && cancel->cancelled(); };
    const auto left = deadline.left(m_clock);
    options.budget = left == Clock::Duration::max() ? ms{0} : std::max(left, ms{1});
    const LineSink sink = m_edges.hook_output ? m_edges.hook_output
                                              : LineSink([](OutputStream, std::string_view line) {
                                                    spdlog::info("hook: {}", redact(line));
                                                });
    const ProcessResult r = m_edges.processes->run_shell(hook.value, options, sink);
    if (cancel != nullptr && cancel->cancelled()) {
        throw interrupted(op);
    }
    if (!r.succeeded()) {
        std::string what = r.describe();
        if (r.stopped) {
            what += " (the time limit ran out)";
        }
        throw hook_error(hook, what);
    }
}

}  // namespace xbranch
