// The hooks step (create_steps.hpp): the hooks' lock, the hook state in the
// branch's tag, a Pending branch found by a rerun, the hooks themselves. The rule that keeps data
// safe: hooks run only while this run holds the lock, and a branch is deleted over a Pending tag
// only while the deleting run holds it (then the run that wrote Pending is gone).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>

#include "create_steps.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::steps {
namespace {

using ms = std::chrono::milliseconds;

// How often a run waiting for another run's hooks looks at the branch's tag.
constexpr ms k_hooks_poll{1000};
// Between lock tries that got no answer (a lagging password, a database still
// starting): 100 ms doubling to 1 s, within the command's deadline.
constexpr ms k_lock_retry_first{100};
constexpr ms k_lock_retry_cap{1000};
// While lock tries get no answer, a look at the branch this often: someone
// may have deleted it (then no try can ever work).
constexpr ms k_lock_watch_every{5000};

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

bool is_pending(const std::string& description) {
    const auto tag = decode_tag(description);
    return tag && tag->hooks == HookState::Pending;
}

HookLockTry try_hook_lock(const StepEnv& env, const ConnectionInfo& info, Deadline deadline) {
    if (env.edges.locker == nullptr) {
        HookLockTry none;
        none.detail = "no hook locker";
        return none;
    }
    return env.edges.locker->try_lock(info, env.clock, deadline, env.control.cancel);
}

Settled adopted_as_is(const BranchDetails& details) {
    Settled s;
    s.details = details;
    return s;
}

// Deletes the old branch first when delete_old (while `held`, the hooks'
// lock, is still held), then creates it afresh (not waited for yet).
Settled recreate(const StepEnv& env, const CreateRequest& request, const std::string& parent_id,
                 Deadline deadline, const Branch& old, bool delete_old,
                 std::unique_ptr<HeldHookLock> held = nullptr);

}  // namespace

bool hooks_pending(const Claimed& claimed, const BranchDetails& details) {
    return claimed.owner == Owner::Adopted && is_pending(details.description);
}

Settled settle_pending(const StepEnv& env, const CreateRequest& request,
                       const std::string& parent_id, Deadline deadline, const Claimed& claimed,
                       const BranchDetails& details) {
    const std::string name = claimed.branch.name;
    const std::string id = claimed.branch.id;
    const std::string op = "wait for the hooks of branch " + name;
    // The lock lives in the branch's database: reach it with the handed-out login.
    const ConnectionInfo connection = connections_for(env, request, details, deadline).direct;
    Waiter waiter(env.clock, env.control.cancel, deadline);
    const auto start = env.clock.now();
    bool told = false;
    for (;;) {
        HookLockTry lock = try_hook_lock(env, connection, deadline);
        std::string why;
        if (lock.outcome == HookLockTry::Outcome::Acquired) {
            // The Pending this run saw is from before the lock: the other run
            // may have finished since (Done, its lock freed), or failed and
            // deleted the branch, or someone made it anew. Only the tag read
            // now, with the lock held, tells.
            std::optional<BranchDetails> now;
            try {
                now = env.client.describe_branch(id, env.limits(deadline));
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::NotFound) {
                    lock.held.reset();
                    spdlog::info("branch {} (id {}) is gone; creating it afresh", name, id);
                    return recreate(env, request, parent_id, deadline, claimed.branch,
                                    /*delete_old=*/false);
                }
                if (e.kind() != ErrorKind::Unavailable || is_deadline(e)) {
                    throw;
                }
                why = "its tag could not be read (" + redact(e.describe()) + ")";
            }
            if (now && !is_pending(now->description)) {
                spdlog::info("branch {}: the other run finished its hooks; adopting it", name);
                return adopted_as_is(*now);
            }
            if (now) {
                // Still Pending, the lock ours: the run that wrote it is gone.
                return recreate(env, request, parent_id, deadline, claimed.branch,
                                /*delete_old=*/true, std::move(lock.held));
            }
            lock.held.reset();
        } else {
            // Busy, or no answer: never delete on doubt; wait for the other run.
            why = lock.outcome == HookLockTry::Outcome::Busy
                      ? "a live run holds its hooks' lock"
                      : "its hooks' lock could not be checked (" + lock.detail + ")";
        }
        if (!told) {
            spdlog::warn(
                "branch {} (id {}) has its hooks running in another xbranch run ({}); waiting "
                "for it to finish",
                name, id, why);
            env.progress.note("waiting for another run's hooks on " + name);
            told = true;
        } else {
            spdlog::debug("branch {}: hooks still pending: {}", name, why);
        }
        switch (env.pause(waiter, k_hooks_poll, start)) {
            case Waiter::Result::Cancelled:
                throw env.interrupted(op);
            case Waiter::Result::DeadlineReached: {
                std::string what = "branch '" + name;
                what += "' (id " + id;
                what += ") still had its hooks running in another xbranch run after ";
                what += seconds_text(std::chrono::duration_cast<ms>(env.clock.now() - start));
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
            now = env.client.describe_branch(id, env.limits(deadline));
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::NotFound) {
                // Its run failed and cleaned up (or someone deleted it): make it anew.
                spdlog::info("branch {} (id {}) is gone; creating it afresh", name, id);
                return recreate(env, request, parent_id, deadline, claimed.branch,
                                /*delete_old=*/false);
            }
            if (e.kind() != ErrorKind::Unavailable || is_deadline(e)) {
                throw;
            }
            spdlog::info("{}: {}; asking again", op, redact(e.describe()));
            continue;
        }
        if (!is_pending(now.description)) {
            spdlog::info("branch {}: the other run finished its hooks; adopting it", name);
            return adopted_as_is(now);
        }
    }
}

namespace {

Settled recreate(const StepEnv& env, const CreateRequest& request, const std::string& parent_id,
                 Deadline deadline, const Branch& old, bool delete_old,
                 std::unique_ptr<HeldHookLock> held) {
    Settled out;
    if (delete_old) {
        // Pending, and the lock held by this run: the run was killed while its
        // hooks ran. Outputs are written only after Done, so nobody got this
        // branch: make it afresh rather than run non-idempotent seeds twice on
        // a half-seeded database. The lock stays held until it is deleted.
        spdlog::warn(
            "branch {} (id {}) was left with its hooks unfinished by an earlier run; deleting it "
            "and creating it afresh",
            old.name, old.id);
        env.progress.note("recreating branch " + old.name + " (hooks unfinished)");
        env.client.delete_branch(old.id, env.limits(deadline));
        out.replaced_id = old.id;
    }
    held.reset();
    out.recreated = create_or_adopt(env, request, parent_id, std::nullopt, deadline);
    return out;
}

// PATCHes the tag with `state`; returns the description written.
std::string write_hook_state(const StepEnv& env, const CreateRequest& request,
                             const std::string& id, const std::string& description, HookState state,
                             const std::string& fingerprint, const Limits& limits) {
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
    env.client.update_description(id, text, limits);
    return text;
}

// The lock for running the hooks, or a throw: waits while another live run
// holds it (HooksRunning at the deadline), tries again with a backoff while a
// try gets no answer (Timeout at the deadline; BranchVanished when a look
// every few seconds finds the branch deleted).
HookLockTry hook_lock_for_hooks(const StepEnv& env, const Branch& branch,
                                const ConnectionInfo& info, Deadline deadline) {
    const std::string& name = branch.name;
    const std::string op = "take the hooks' lock of branch " + name;
    if (env.edges.locker == nullptr) {
        throw Error(ErrorKind::Internal, "no hook locker for the hooks").with_operation(op);
    }
    Waiter waiter(env.clock, env.control.cancel, deadline);
    const auto start = env.clock.now();
    auto last_look = start;
    ms backoff = k_lock_retry_first;
    int tries = 0;
    bool told_busy = false;
    bool told_unknown = false;
    for (;;) {
        HookLockTry lock = try_hook_lock(env, info, deadline);
        ++tries;
        if (lock.outcome == HookLockTry::Outcome::Acquired) {
            if (tries > 1) {
                spdlog::info("branch {}: took its hooks' lock after {} ({} tries)", name,
                             seconds_text(std::chrono::duration_cast<ms>(env.clock.now() - start)),
                             tries);
            }
            return lock;
        }
        const bool busy = lock.outcome == HookLockTry::Outcome::Busy;
        ms wait = k_hooks_poll;
        if (busy) {
            // Another live run holds it: it runs this branch's hooks right
            // now. Wait for it (then the tag says Done), never run them beside it.
            if (!told_busy) {
                spdlog::warn(
                    "branch {} (id {}): another xbranch run holds its hooks' lock; waiting for it",
                    name, branch.id);
                env.progress.note("waiting for another run's hooks on " + name);
                told_busy = true;
            }
        } else {
            // No answer (the password may still lag): says nothing about other
            // runs. Ask again; the hooks wait for the lock.
            if (!told_unknown) {
                spdlog::info("branch {}: no answer to its hooks' lock yet ({}); trying again", name,
                             lock.detail);
                env.progress.note("waiting for the hooks' lock on " + name);
                told_unknown = true;
            } else {
                spdlog::debug("branch {}: hooks' lock, try {}: {}", name, tries, lock.detail);
            }
            wait = backoff;
            backoff = std::min(backoff * 2, k_lock_retry_cap);
            if (env.clock.now() - last_look >= k_lock_watch_every) {
                last_look = env.clock.now();
                if (gone_while_connecting(env, branch, deadline)) {
                    throw Error(ErrorKind::NotFound,
                                "branch " + name + " (id " + branch.id +
                                    ") was deleted while xbranch waited for its hooks' lock")
                        .with_operation(op)
                        .with_reason(ErrorReason::BranchVanished)
                        .with_branch(branch.id, name);
                }
            }
        }
        switch (env.pause(waiter, wait, start)) {
            case Waiter::Result::Cancelled:
                throw env.interrupted(op);
            case Waiter::Result::DeadlineReached: {
                const std::string took =
                    seconds_text(std::chrono::duration_cast<ms>(env.clock.now() - start));
                if (busy) {
                    // The other run uses the branch: HooksRunning, so this
                    // run's failure does not delete it (failure_cleanup.hpp).
                    std::string what = "branch '" + name + "' (id " + branch.id;
                    what += ") still had its hooks running in another xbranch run after " + took;
                    throw Error(ErrorKind::Conflict, what)
                        .with_operation(op)
                        .with_reason(ErrorReason::HooksRunning)
                        .with_branch(branch.id, name);
                }
                // No hook runs without the lock: the time limit is the end.
                std::string message = "branch " + name;
                message += ": its hooks' lock got no answer within the time limit (";
                message += std::to_string(tries);
                message += " tries in ";
                message += took;
                message += "; last: ";
                message += lock.detail;
                message += "); no hook ran";
                throw Error(ErrorKind::Timeout, message)
                    .with_operation(op)
                    .with_reason(ErrorReason::ReadyTimeout)
                    .with_branch(branch.id, name);
            }
            case Waiter::Result::Slept:
                break;
        }
    }
}

void run_one_hook(const StepEnv& env, const HookSpec& hook, const CreateRequest& request,
                  Deadline deadline, const Branch& branch, const ConnectionInfo& info) {
    const std::string op = "run " + hook_name(hook);
    if (hook.kind == HookSpec::Kind::Sql) {
        if (env.edges.sql == nullptr) {
            throw Error(ErrorKind::Internal, "no SQL runner for the hooks").with_operation(op);
        }
        const SqlScriptResult r = env.edges.sql->run(info, hook.value, hook.content, env.clock,
                                                     deadline, env.control.cancel);
        if (r.reason == ProbeReason::Cancelled) {
            throw env.interrupted(op);
        }
        if (!r.ok) {
            throw hook_error(hook, r.describe());
        }
        spdlog::info("{}: {} statement{}", op, r.statements_run, r.statements_run == 1 ? "" : "s");
        return;
    }
    if (env.edges.processes == nullptr) {
        throw Error(ErrorKind::Internal, "no process runner for the hooks").with_operation(op);
    }
    RunOptions options;
    options.env = hook_environment(info, branch.name, branch.id, request.parent);
    const CancelToken* cancel = env.control.cancel;
    options.cancel = cancel;
    const auto left = deadline.left(env.clock);
    options.budget = left == Clock::Duration::max() ? ms{0} : std::max(left, ms{1});
    const LineSink sink = env.edges.hook_output ? env.edges.hook_output
                                                : LineSink([](OutputStream, std::string_view line) {
                                                      spdlog::info("hook: {}", redact(line));
                                                  });
    const ProcessResult r = env.edges.processes->run_shell(hook.value, options, sink);
    if (cancel != nullptr && cancel->cancelled()) {
        throw env.interrupted(op);
    }
    if (!r.succeeded()) {
        std::string what = r.describe();
        if (r.stopped) {
            what += " (the time limit ran out)";
        }
        throw hook_error(hook, what);
    }
}

}  // namespace

bool run_hooks(const StepEnv& env, const CreateRequest& request, Deadline deadline,
               const Claimed& claimed, const ConnectionInfo& info, const BranchDetails& details,
               HookMarks& marks) {
    const Branch& branch = claimed.branch;
    const std::string fingerprint = hook_set_fingerprint(request.hooks);
    if (claimed.owner == Owner::Adopted &&
        hooks_done(branch.name, details.description, fingerprint)) {
        return false;
    }
    marks.phase = true;
    // The lock first, held until Done (or a failure): it tells a rerun that
    // finds Pending whether this run is alive. No hook ever runs without it.
    const HookLockTry lock = hook_lock_for_hooks(env, branch, info, deadline);
    // Two runs may both have adopted the branch before either wrote Pending:
    // the lock orders them, and the tag as it is now says whether the first
    // one got there (the snapshot in `details` is from before the lock).
    const BranchDetails now = env.client.describe_branch(branch.id, env.limits(deadline));
    if (hooks_done(branch.name, now.description, fingerprint)) {
        return false;  // this run wrote nothing yet: another run ran them meanwhile
    }
    if (is_pending(now.description)) {
        // Another run recorded them and, the lock free, is gone (killed, or it
        // failed on a branch it had adopted): never run them a second time on
        // a half-seeded database. A rerun recreates the branch. HooksRunning:
        // the clean-up leaves the branch (failure_cleanup.hpp).
        throw Error(ErrorKind::Conflict, "branch '" + branch.name +
                                             "' has its hooks recorded as started by another "
                                             "xbranch run that did not finish them; not running "
                                             "them a second time")
            .with_operation("run hooks")
            .with_reason(ErrorReason::HooksRunning)
            .with_branch(branch.id, branch.name);
    }
    // Pending first: a run killed from here on leaves a branch a rerun recreates.
    marks.started = true;
    const std::string pending =
        write_hook_state(env, request, branch.id, now.description, HookState::Pending, fingerprint,
                         env.limits(deadline));
    for (const auto& hook : request.hooks) {
        env.progress.note("running " + hook_name(hook));
        run_one_hook(env, hook, request, deadline, branch, info);
    }
    write_hook_state(env, request, branch.id, pending, HookState::Done, fingerprint,
                     env.limits(deadline));
    return true;
}

bool hooks_of_another_run(const StepEnv& env, const Branch& branch) {
    try {
        return is_pending(env.client.describe_branch(branch.id, env.cleanup_limits()).description);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::NotFound) {
            return false;  // gone: nothing to keep
        }
        // Unknown: another run may run hooks on it; never delete on doubt.
        spdlog::warn("could not read the tag of branch {} (id {}): {}", branch.name, branch.id,
                     redact(e.describe()));
        return true;
    }
}

}  // namespace xbranch::steps
