// gc --orphans on an empty list of live sandboxes (issue 20, item 6): doubt,
// not proof, unless confirmed or every branch it would delete is old enough.
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/gc_policy.hpp"

namespace xbranch {
namespace {

using test::fake_gc::k_now;
using test::fake_gc::k_root_id;

// A tagged, prefixed branch created `age` seconds before k_now.
GcBranch tagged(const std::string& name, std::int64_t age) {
    Branch b;
    b.id = "id-" + name;
    b.name = name;
    b.parent_id = k_root_id;
    b.created_at = rfc3339_utc(k_now - age);
    BranchTag tag{"abcdefghij", std::nullopt, HookState::None, "", ""};
    b.description = encode_tag(tag);
    return {b, tag, true};
}

GcPolicyOptions orphans() {
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    o.orphans = true;
    o.grace = 60;
    return o;
}

EmptyListCheck check(const std::vector<GcBranch>& branches,
                     const std::vector<LiveSandbox>& sandboxes, const GcPolicyOptions& o) {
    return check_empty_sandbox_list(select_gc(branches, sandboxes, k_now, o), sandboxes, o);
}

TEST(GcEmptyList, AnEmptyListWithOrphansToDeleteIsRefused) {
    const auto r = check({tagged("sb-a", 3600), tagged("sb-b", 600)}, {}, orphans());
    EXPECT_TRUE(r.refuse);
    EXPECT_EQ(r.orphans, 2U);
    EXPECT_EQ(r.under_min_age, 2U);
    ASSERT_TRUE(r.youngest);
    EXPECT_EQ(*r.youngest, 600);
}

TEST(GcEmptyList, ConfirmedItIsTrusted) {
    auto o = orphans();
    o.trust_empty_sandbox_list = true;
    const auto r = check({tagged("sb-a", 3600)}, {}, o);
    EXPECT_FALSE(r.refuse);
    EXPECT_EQ(r.orphans, 1U);
}

TEST(GcEmptyList, TheAgeThresholdMustCoverEveryBranch) {
    auto o = orphans();
    o.empty_list_min_age = 7 * 86400;
    // One week old and one day old: the younger one keeps the doubt.
    auto r = check({tagged("sb-old", 8 * 86400), tagged("sb-new", 86400)}, {}, o);
    EXPECT_TRUE(r.refuse);
    EXPECT_EQ(r.under_min_age, 1U);
    // Exactly the threshold counts as old enough.
    r = check({tagged("sb-old", 8 * 86400), tagged("sb-week", 7 * 86400)}, {}, o);
    EXPECT_FALSE(r.refuse);
    EXPECT_EQ(r.under_min_age, 0U);
}

TEST(GcEmptyList, ANonEmptyListRaisesNoDoubt) {
    const auto r = check({tagged("sb-a", 3600)}, {LiveSandbox{"other", "rk1", {}}}, orphans());
    EXPECT_FALSE(r.refuse);
    EXPECT_EQ(r.orphans, 0U);  // not counted: the list is trusted
}

TEST(GcEmptyList, NothingTheOrphanRuleDeletesRaisesNoDoubt) {
    // Within the grace period, untagged, or the parent: nothing would go.
    Branch human;
    human.id = "id-h";
    human.name = "sb-human";
    human.parent_id = k_root_id;
    human.created_at = rfc3339_utc(k_now - 3600);
    human.description = "made by hand";
    const auto r = check({tagged("sb-young", 10), {human, std::nullopt, true}}, {}, orphans());
    EXPECT_FALSE(r.refuse);
    EXPECT_EQ(r.orphans, 0U);
    EXPECT_FALSE(r.youngest);
}

TEST(GcEmptyList, OtherRulesAloneRaiseNoDoubt) {
    auto o = orphans();
    o.orphans = false;
    o.older_than = 0;
    const auto r = check({tagged("sb-a", 3600)}, {}, o);
    EXPECT_FALSE(r.refuse);
    EXPECT_EQ(r.orphans, 0U);
}

TEST(GcEmptyList, ExpiredBranchesAreNotOrphansButTheRefusalCoversTheRun) {
    auto o = orphans();
    o.expired = true;
    auto expired = tagged("sb-exp", 3600);
    expired.tag->expires_at = k_now - 60;
    expired.branch.description = encode_tag(*expired.tag);
    // Only an expired branch: the list does not matter for it.
    EXPECT_FALSE(check({expired}, {}, o).refuse);
    // With an orphan beside it, the whole run is refused.
    const auto r = check({expired, tagged("sb-orphan", 3600)}, {}, o);
    EXPECT_TRUE(r.refuse);
    EXPECT_EQ(r.orphans, 1U);
}

}  // namespace
}  // namespace xbranch
