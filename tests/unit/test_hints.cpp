// The CLI's hints: the words (flags, env vars) keyed by the core's reasons.
#include <gtest/gtest.h>

#include "hints.hpp"

using namespace xbranch;
using namespace xbranch::cli;

TEST(Hints, ReasonsGetTheirFlagsAndEnvVars) {
    EXPECT_NE(hint_text(Error(ErrorKind::Auth, "x").with_reason(ErrorReason::BadApiKey))
                  .find("XATA_API_KEY"),
              std::string::npos);
    EXPECT_NE(hint_text(Error(ErrorKind::Unavailable, "x").with_reason(ErrorReason::TlsVerify))
                  .find("--cacert"),
              std::string::npos);
    EXPECT_NE(hint_text(Error(ErrorKind::Unavailable, "x").with_reason(ErrorReason::Connect))
                  .find("XATA_API_BASE_URL"),
              std::string::npos);
    EXPECT_NE(hint_text(Error(ErrorKind::NotFound, "x").with_reason(ErrorReason::ParentNotFound))
                  .find("--parent"),
              std::string::npos);
    EXPECT_NE(hint_text(Error(ErrorKind::NotFound, "x").with_reason(ErrorReason::ProjectNotFound))
                  .find("XATA_PROJECT_ID"),
              std::string::npos);
    EXPECT_NE(hint_text(Error(ErrorKind::Usage, "x").with_reason(ErrorReason::NeedsForce))
                  .find("--force"),
              std::string::npos);
    const std::string way = hint_text(Error(ErrorKind::Conflict, "x")
                                          .with_reason(ErrorReason::BranchInTheWay)
                                          .with_branch("e80atan1sl5khdkr8pkc33fovk", "sb-x"));
    EXPECT_NE(way.find("xbranch delete --branch-id e80atan1sl5khdkr8pkc33fovk"), std::string::npos);
}

TEST(Hints, CleanupStatesAreWordedAndJoinedOnce) {
    Error e(ErrorKind::Timeout, "not ready");
    e.with_reason(ErrorReason::ReadyTimeout).with_hint("core words.");
    e.with_cleanup(CleanupState::Deleted, "e80atan1sl5khdkr8pkc33fovk", "sb-x");
    EXPECT_EQ(hint_text(e),
              "raise --timeout, or look at the branch in the Xata console. core words. the branch "
              "sb-x created by this run was deleted");

    Error left(ErrorKind::Interrupted, "interrupted");
    left.with_cleanup(CleanupState::Left, "e80atan1sl5khdkr8pkc33fovk", "sb-x");
    const std::string h = hint_text(left);
    EXPECT_NE(h.find("e80atan1sl5khdkr8pkc33fovk"), std::string::npos);
    EXPECT_NE(h.find("`xbranch delete --branch-id e80atan1sl5khdkr8pkc33fovk`"), std::string::npos);
    EXPECT_EQ(h.find("was deleted"), std::string::npos) << h;

    Error kept(ErrorKind::Fault, "fault");
    kept.with_cleanup(CleanupState::Kept, "e80atan1sl5khdkr8pkc33fovk", "sb-x");
    EXPECT_NE(hint_text(kept).find("--keep-on-failure"), std::string::npos);
    EXPECT_EQ(hint_text(Error(ErrorKind::Io, "disk full")), "");
}

TEST(Hints, QuotaReachedNamesTheGcCommandThatFreesRoom) {
    Error e(ErrorKind::QuotaExceeded, "the project has 3 branches, its cap is 3");
    e.with_reason(ErrorReason::QuotaReached).with_hint("oldest of ours: sb-a (2025-05-01)");
    const std::string h = hint_text(e);
    EXPECT_NE(h.find("`xbranch gc --orphans --expired --dry-run`"), std::string::npos) << h;
    EXPECT_NE(h.find("SIGNADOT_API_KEY"), std::string::npos) << h;
    EXPECT_NE(h.find("xbranch delete --branch NAME"), std::string::npos) << h;
    EXPECT_NE(h.find("oldest of ours: sb-a"), std::string::npos) << h;
}

TEST(Hints, ABranchOfAnotherRunOrDeletedUnderUsIsNamedWithoutTheProjectHint) {
    const std::string busy = hint_text(Error(ErrorKind::Conflict, "x")
                                           .with_reason(ErrorReason::HooksRunning)
                                           .with_branch("e80atan1sl5khdkr8pkc33fovk", "sb-x-1"));
    EXPECT_NE(busy.find("another xbranch run (its hooks are running) holds branch sb-x-1; try "
                        "again when it has finished"),
              std::string::npos)
        << busy;
    EXPECT_NE(busy.find("--timeout"), std::string::npos) << busy;
    const std::string gone = hint_text(Error(ErrorKind::NotFound, "x")
                                           .with_reason(ErrorReason::BranchVanished)
                                           .with_branch("e80atan1sl5khdkr8pkc33fovk", "sb-x-1"));
    EXPECT_NE(gone.find("deleted branch sb-x-1"), std::string::npos) << gone;
    EXPECT_EQ(gone.find("XATA_ORGANIZATION_ID"), std::string::npos) << gone;
    EXPECT_EQ(gone.find("created by this run was deleted"), std::string::npos) << gone;
}
