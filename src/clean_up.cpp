// The clean-up step (create_steps.hpp): failure_cleanup.hpp's decision
// applied to a branch, and the deletes of a branch this run made, within the
// cleanup's own budget and token.
#include <spdlog/spdlog.h>

#include "create_steps.hpp"
#include "xbranch/failure_cleanup.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {

namespace steps {

std::optional<Error> try_delete_own(const StepEnv& env, const Branch& branch,
                                    const Limits& limits) {
    try {
        env.client.delete_branch(branch.id, limits);
        return std::nullopt;
    } catch (const Error& e) {
        spdlog::error("could not delete branch {} (id {}): {}", branch.name, branch.id,
                      e.describe());
        return e;
    }
}

bool delete_after_failure(const StepEnv& env, const Branch& branch, const std::string& why,
                          std::optional<Deadline> by) {
    spdlog::warn("deleting branch {} (id {}) created by this run, because: {}", branch.name,
                 branch.id, redact(why));
    return !try_delete_own(env, branch, env.cleanup_limits(by)).has_value();
}

namespace {

bool vanished(const StepEnv& env, const Branch& branch, std::optional<Deadline> by) {
    try {
        (void)env.client.describe_branch(branch.id, env.cleanup_limits(by));
        return false;
    } catch (const Error& e) {
        return e.kind() == ErrorKind::NotFound;
    }
}

}  // namespace

void clean_up(const StepEnv& env, const Branch& b, const FailureFacts& facts, Error& e,
              std::optional<Deadline> by, bool announce) {
    FailureLooks looks;
    looks.vanished = [&] { return vanished(env, b, by); };
    looks.hooks_of_another_run = [&] { return hooks_of_another_run(env, b); };
    switch (decide_cleanup(facts, looks)) {
        case FailureCleanup::Leave:
            return;
        case FailureCleanup::Vanished:
            // The 404's own hint (organization, project) is wrong here.
            e.with_reason(ErrorReason::BranchVanished).with_branch(b.id, b.name);
            return;
        case FailureCleanup::Keep:
            e.with_cleanup(CleanupState::Kept, b.id, b.name);
            return;
        case FailureCleanup::KeepForHooks:
            spdlog::warn(
                "not deleting branch {} (id {}): another xbranch run may be running its hooks",
                b.name, b.id);
            e.add_hint("branch " + b.name +
                       " is kept: another xbranch run recorded its hooks as running");
            return;
        case FailureCleanup::Delete: {
            const bool gone = announce
                                  ? delete_after_failure(env, b, e.what(), by)
                                  : !try_delete_own(env, b, env.cleanup_limits(by)).has_value();
            e.with_cleanup(gone ? CleanupState::Deleted : CleanupState::Left, b.id, b.name);
            return;
        }
    }
}

}  // namespace steps

}  // namespace xbranch
