// The one clean-up decision after a failure (failure_cleanup.hpp); pure.
// Applied to a branch by clean_up.cpp.
#include "xbranch/failure_cleanup.hpp"

namespace xbranch {

FailureCleanup decide_cleanup(const FailureFacts& facts, const FailureLooks& looks) {
    // HooksRunning: another run uses the branch; this run's failure must not delete it.
    if (!facts.ours || facts.reason == ErrorReason::HooksRunning) {
        return FailureCleanup::Leave;
    }
    // A 404 about a branch this run made: someone else deleted it. Nothing
    // is left to clean up. Already known gone (the connection check looked):
    // no second look.
    if (facts.reason == ErrorReason::BranchVanished ||
        (facts.kind == ErrorKind::NotFound && looks.vanished && looks.vanished())) {
        return FailureCleanup::Vanished;
    }
    if (facts.keep_on_failure) {
        return FailureCleanup::Keep;
    }
    // Another run may have adopted it and be running its hooks: never delete
    // a branch whose hooks may still run (this run's own Pending aside).
    if (facts.hooks_of_others_possible && looks.hooks_of_another_run &&
        looks.hooks_of_another_run()) {
        return FailureCleanup::KeepForHooks;
    }
    return FailureCleanup::Delete;
}

}  // namespace xbranch
