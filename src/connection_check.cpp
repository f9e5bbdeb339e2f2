// The connection check (create_steps.hpp): a real login with the exact
// connection handed out, retried on the one retry loop until it works, a
// reason that cannot heal, the branch deleted meanwhile, or the deadline.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "create_steps.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::steps {
namespace {

using ms = std::chrono::milliseconds;

// A look at the branch between failed logins: logins wait meanwhile, so it
// gets a short budget of its own (a request and a retry or two), not the run's.
constexpr ms k_watch_budget{3000};
constexpr ms k_watch_request_cap{2000};

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

int check_connection(const StepEnv& env, Deadline deadline, const Branch& branch,
                     const ConnectionInfo& info, const BranchDetails& details) {
    const std::string& name = branch.name;
    const std::string op = "connect to branch " + name;
    if (env.edges.prober == nullptr) {
        throw Error(ErrorKind::Internal, "no database prober for the connection check")
            .with_operation(op);
    }
    Waiter waiter(env.clock, env.control.cancel, deadline);
    const auto start = env.clock.now();
    auto on_try = [&](int n) { env.progress.note("connecting, try " + std::to_string(n)); };
    ProbeLoopOptions options = env.edges.probe_options;
    // Someone may delete the branch while its password lags: without a look
    // at it the check would retry a login that cannot work until the deadline.
    options.target_gone = [&] { return gone_while_connecting(env, branch, deadline); };
    const ProbeLoopResult r =
        probe_until_usable(*env.edges.prober, waiter, info, on_try, options, env.edges.unit_random);
    const auto took = std::chrono::duration_cast<ms>(env.clock.now() - start);
    const std::string tries = std::to_string(r.tries) + (r.tries == 1 ? " try" : " tries");
    if (r.last.ok) {
        spdlog::info("branch {}: login works after {} ({})", name, seconds_text(took), tries);
        return r.tries;
    }
    if (r.last.reason == ProbeReason::Cancelled || waiter.cancelled()) {
        throw env.interrupted(op);
    }
    // Gave up early: one look tells "deleted" from "cannot heal" (the
    // deadline's end gets none: the time limit is a promise).
    if (r.target_gone || (r.gave_up_early && gone_while_connecting(env, branch, deadline))) {
        const Branch& b = branch;
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
        throw Error(
            ErrorKind::NotConnectable,
            "database '" + info.database + "' does not exist in branch " + name + " (" + last + ")")
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

bool gone_while_connecting(const StepEnv& env, const Branch& branch, Deadline deadline) {
    const Limits quick{env.control.cancel, deadline.sooner(Deadline::in(env.clock, k_watch_budget)),
                       k_watch_request_cap};
    try {
        (void)env.client.describe_branch(branch.id, quick);
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

}  // namespace xbranch::steps
