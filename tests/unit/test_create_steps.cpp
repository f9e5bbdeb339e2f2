// The create steps' pure parts: the one clean-up decision after a failure
// (failure_cleanup.hpp) and the connection step's database/pooler variants.
#include <gtest/gtest.h>

#include "create_steps.hpp"
#include "xbranch/failure_cleanup.hpp"

namespace xbranch {
namespace {

struct Counted {
    int vanished_looks = 0;
    int hooks_looks = 0;
    bool vanished = false;
    bool other_hooks = false;
    FailureLooks looks() {
        FailureLooks l;
        l.vanished = [this] {
            ++vanished_looks;
            return vanished;
        };
        l.hooks_of_another_run = [this] {
            ++hooks_looks;
            return other_hooks;
        };
        return l;
    }
};

FailureFacts ours(ErrorKind kind = ErrorKind::Timeout, ErrorReason reason = ErrorReason::None) {
    FailureFacts f;
    f.ours = true;
    f.kind = kind;
    f.reason = reason;
    return f;
}

TEST(FailureCleanup, AnAdoptedBranchIsLeftWithoutALook) {
    Counted c;
    FailureFacts f = ours(ErrorKind::NotFound);
    f.ours = false;
    f.hooks_of_others_possible = true;
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::Leave);
    EXPECT_EQ(c.vanished_looks + c.hooks_looks, 0);
}

TEST(FailureCleanup, AnotherRunsHooksLeaveEvenThisRunsBranch) {
    // HooksRunning: another run uses the branch (it replaced the old flip of created_by_us).
    Counted c;
    FailureFacts f = ours(ErrorKind::Conflict, ErrorReason::HooksRunning);
    f.keep_on_failure = true;
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::Leave);
    EXPECT_EQ(c.vanished_looks + c.hooks_looks, 0);
}

TEST(FailureCleanup, KnownVanishedNeedsNoLook) {
    Counted c;
    EXPECT_EQ(decide_cleanup(ours(ErrorKind::NotFound, ErrorReason::BranchVanished), c.looks()),
              FailureCleanup::Vanished);
    EXPECT_EQ(c.vanished_looks, 0);
}

TEST(FailureCleanup, A404LooksWhetherTheBranchIsGone) {
    Counted c;
    c.vanished = true;
    EXPECT_EQ(decide_cleanup(ours(ErrorKind::NotFound), c.looks()), FailureCleanup::Vanished);
    EXPECT_EQ(c.vanished_looks, 1);
    c.vanished = false;
    EXPECT_EQ(decide_cleanup(ours(ErrorKind::NotFound), c.looks()), FailureCleanup::Delete);
    EXPECT_EQ(c.vanished_looks, 2);
    // Any other failure: no look.
    EXPECT_EQ(decide_cleanup(ours(ErrorKind::Timeout), c.looks()), FailureCleanup::Delete);
    EXPECT_EQ(c.vanished_looks, 2);
}

TEST(FailureCleanup, KeepOnFailureKeepsWithoutAHooksLook) {
    Counted c;
    FailureFacts f = ours();
    f.keep_on_failure = true;
    f.hooks_of_others_possible = true;
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::Keep);
    EXPECT_EQ(c.hooks_looks, 0);
}

TEST(FailureCleanup, PossibleHooksOfAnotherRunAreLookedAtOnlyThen) {
    Counted c;
    FailureFacts f = ours();
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::Delete);
    EXPECT_EQ(c.hooks_looks, 0);
    f.hooks_of_others_possible = true;
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::Delete);
    EXPECT_EQ(c.hooks_looks, 1);
    c.other_hooks = true;
    EXPECT_EQ(decide_cleanup(f, c.looks()), FailureCleanup::KeepForHooks);
    EXPECT_EQ(c.hooks_looks, 2);
}

TEST(FailureCleanup, WithoutLooksNothingIsAssumed) {
    FailureFacts f = ours(ErrorKind::NotFound);
    f.hooks_of_others_possible = true;
    EXPECT_EQ(decide_cleanup(f), FailureCleanup::Delete);
}

TEST(ConnectionStep, TheRequestsDatabaseAndThePooledHost) {
    ConnectionInfo info;
    info.host = "abc.us-east-1.xata.tech";
    info.port = 5432;
    info.username = "u";
    info.password = "p";
    info.database = "xata";
    const auto kept = steps::with_database_and_pooler(info, "");
    EXPECT_EQ(kept.direct.database, "xata");
    EXPECT_EQ(kept.direct.host, info.host);
    EXPECT_EQ(kept.pooled.host, apply_endpoint(info.host, Endpoint::Pooler));
    EXPECT_NE(kept.pooled.host, info.host);
    const auto app = steps::with_database_and_pooler(info, "app");
    EXPECT_EQ(app.direct.database, "app");
    EXPECT_EQ(app.pooled.database, "app");
    EXPECT_EQ(app.pooled.username, "u");
}

TEST(ConnectionStep, AnIpAddressHasNoPoolerLabel) {
    ConnectionInfo info;
    info.host = "127.0.0.1";
    EXPECT_EQ(steps::with_database_and_pooler(info, "").pooled.host, "127.0.0.1");
    info.host = "::1";
    EXPECT_EQ(steps::with_database_and_pooler(info, "").pooled.host, "::1");
}

}  // namespace
}  // namespace xbranch
