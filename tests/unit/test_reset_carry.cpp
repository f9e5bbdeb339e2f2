// What reset carries from the branch it deletes to the one it makes again
// (issue 20, item 3): the expiry as the same moment and the note.
#include <gtest/gtest.h>

#include "xbranch/tag.hpp"

namespace xbranch {
namespace {

TEST(ResetCarryOver, KeepsTheExpiryAndTheNote) {
    BranchTag old;
    old.token = "k3j4h5g6f7";
    old.expires_at = 1796139000;  // 2026-12-01T15:30:00Z
    old.hooks = HookState::Done;
    old.hooks_fingerprint = "d1a2";
    old.note = "my note";
    const auto kept = carry_over_for_reset(encode_tag(old));
    EXPECT_EQ(kept, (ResetCarryOver{1796139000, "my note"}));
}

TEST(ResetCarryOver, AnExpiryThatHasPassedIsKeptAsItIs) {
    // Reset does not extend a branch's life: gc --expired still removes it.
    EXPECT_EQ(carry_over_for_reset("xb1 rpasttoken1 e202001010000"),
              (ResetCarryOver{1577836800, ""}));
}

TEST(ResetCarryOver, NoExpiryStaysNone) {
    EXPECT_EQ(carry_over_for_reset("xb1 rk3j4h5g6f7 hdd1a2"), (ResetCarryOver{}));
    EXPECT_EQ(carry_over_for_reset(""), (ResetCarryOver{}));
}

TEST(ResetCarryOver, AForeignDescriptionBecomesTheNote) {
    EXPECT_EQ(carry_over_for_reset("made by hand"), (ResetCarryOver{std::nullopt, "made by hand"}));
}

TEST(ResetCarryOver, AnUnreadableOrNewerTagCarriesNothing) {
    EXPECT_EQ(carry_over_for_reset("xb1 not a tag"), (ResetCarryOver{}));
    EXPECT_EQ(carry_over_for_reset("xb2 rk3j4h5g6f7 z1"), (ResetCarryOver{}));
    EXPECT_EQ(carry_over_for_reset("bad\ndescription"), (ResetCarryOver{}));
}

TEST(ResetCarryOver, TheCarriedTagEncodesBackTheSameExpiry) {
    const auto kept = carry_over_for_reset("xb1 rpasttoken1 e209912312359 - keep me");
    BranchTag fresh;
    fresh.token = "newrun0001";
    fresh.expires_at = kept.expires_at;
    fresh.note = kept.note;
    EXPECT_EQ(encode_tag(fresh), "xb1 rnewrun0001 e209912312359 - keep me");
}

}  // namespace
}  // namespace xbranch
