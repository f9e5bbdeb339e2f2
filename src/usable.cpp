// Lifecycle's steps after credentials (declared in lifecycle.hpp, kept here so
// the create flow and these steps change independently): the database and
// pooled variants of the connection and the connection check (the hooks and
// their lock: hook_flow.cpp).
#include "xbranch/usable.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "xbranch/lifecycle.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// A look at the branch between failed logins: logins wait meanwhile, so it
// gets a short budget of its own (a request and a retry or two), not the run's.
constexpr ms k_watch_budget{3000};
constexpr ms k_watch_request_cap{2000};

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

}  // namespace xbranch
