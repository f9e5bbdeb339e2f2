// Wait-ready (create_steps.hpp): polls the branch until HEALTHY on an
// interval that grows with the time waited (PollSchedule), wakes one that
// stays hibernated, and outlasts polls left unanswered until the deadline.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "create_steps.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {

using std::chrono::duration_cast;
using ms = std::chrono::milliseconds;

namespace steps {
namespace {

constexpr ms k_rewake_every{30000};
constexpr ms k_wake_retry{5000};         // after a wake the API refused for now
constexpr ms k_unavailable_pause{2000};  // after a poll failed all its retries

Error fault_error(const std::string& name, const std::string& op, const BranchStatus& status) {
    return Error(ErrorKind::Fault, "branch '" + name + "' is in FAULT" +
                                       (status.phase.empty() ? "" : ": " + status.phase))
        .with_operation(op)
        .with_hint("see the branch in the Xata console; xbranch does not retry a faulted branch");
}

struct WakeState {
    bool hibernating = false;
    Clock::TimePoint hibernated_since{};
    std::optional<Clock::TimePoint> next_wake;  // nullopt: never woken yet
};

std::optional<BranchDetails> poll(const StepEnv& env, const std::string& id, const std::string& op,
                                  const Waiter& waiter, const Limits& limits) {
    try {
        return env.client.describe_branch(id, limits);
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

void maybe_wake(const StepEnv& env, const std::string& id, const std::string& name, WakeState& wake,
                ms wake_after, bool wake_now, const Limits& limits) {
    const auto now = env.clock.now();
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
    env.progress.note("waking hibernated branch " + name);
    spdlog::debug("branch {} is hibernated; waking it", name);  // the note above says it
    try {
        env.client.wake_branch(id, limits);
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

}  // namespace

BranchDetails wait_ready(const StepEnv& env, const std::string& id, const std::string& name,
                         Deadline deadline, const PollSchedule& schedule, ms wake_after,
                         bool wake_now) {
    const auto start = env.clock.now();
    const std::string op = "wait for branch " + name;
    Waiter waiter(env.clock, env.control.cancel, deadline);
    const Limits limits = env.limits(deadline);
    WakeState wake;
    StatusType last_type = StatusType::Unspecified;
    std::optional<BranchStatus> last_status;
    auto not_ready = [&] {
        return Error(ErrorKind::Timeout,
                     "branch '" + name + "' was not ready after " +
                         seconds_text(duration_cast<ms>(env.clock.now() - start)) +
                         (last_status ? "; last status " + status_text(*last_status) : ""))
            .with_operation(op)
            .with_reason(ErrorReason::ReadyTimeout);
    };
    for (;;) {
        std::optional<BranchDetails> d;
        try {
            d = poll(env, id, op, waiter, limits);
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
        const auto elapsed = duration_cast<ms>(env.clock.now() - start);
        if (d) {
            last_status = d->status;
            env.progress.update(name, d->status, elapsed);
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
                    maybe_wake(env, id, name, wake, wake_after, wake_now, limits);
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
        switch (env.pause(waiter, std::max(wait, ms{1}), start)) {
            case Waiter::Result::Cancelled:
                throw env.interrupted(op);
            case Waiter::Result::DeadlineReached:
                throw not_ready();
            case Waiter::Result::Slept:
                break;
        }
    }
}

}  // namespace steps
}  // namespace xbranch
