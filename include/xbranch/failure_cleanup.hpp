// The one decision about a branch after a failure: whether to leave it
// (not this run's, another run's hooks on it, someone deleted it, or
// --keep-on-failure) or delete it. Used by every create step's failure, a
// failed or cancelled POST's lookup, and the CLI's writing of the outputs.
// Pure: the looks it may need (a describe) are passed in.
#pragma once

#include <functional>

#include "xbranch/error.hpp"

namespace xbranch {

struct FailureFacts {
    bool ours = false;  // this run's POST made the branch (or its tag says so)
    bool keep_on_failure = false;
    // At the hooks' lock before this run wrote Pending: another run may
    // have adopted the branch and be running its hooks on it.
    bool hooks_of_others_possible = false;
    ErrorKind kind = ErrorKind::Internal;
    ErrorReason reason = ErrorReason::None;
};

enum class FailureCleanup {
    Leave,         // not this run's, or another run's hooks hold it (HooksRunning)
    Vanished,      // someone else deleted it: nothing is left to clean up
    Keep,          // --keep-on-failure
    KeepForHooks,  // another run recorded its hooks as running on it
    Delete,
};

struct FailureLooks {
    // A 404 failure: is the branch gone? (asked only then)
    std::function<bool()> vanished;
    // Does another run's Pending (or an unreadable tag) keep it? (asked only
    // when hooks_of_others_possible and the branch would be deleted)
    std::function<bool()> hooks_of_another_run;
};

FailureCleanup decide_cleanup(const FailureFacts& facts, const FailureLooks& looks = {});

}  // namespace xbranch
