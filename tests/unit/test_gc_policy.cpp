// gc's selection: every rule of issue 11, including "any live sandbox could
// own it", over plain data (no transport needed: the policy is pure).
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/gc_policy.hpp"
#include "xbranch/naming.hpp"

namespace xbranch {
namespace {

using test::fake_gc::k_now;
using test::fake_gc::k_root_id;

Branch make(const std::string& name, const std::string& created = "2025-05-01T09:00:00Z",
            std::optional<std::string> parent = k_root_id, const std::string& id = {}) {
    Branch b;
    b.id = id.empty() ? "id-" + name : id;
    b.name = name;
    b.parent_id = std::move(parent);
    b.created_at = created;
    return b;
}

// A branch xbranch made, its description read: `tag` (default: a tag with
// a token only) or, when the description is set, what it decodes to.
GcBranch g(Branch b, std::optional<BranchTag> tag = std::nullopt) {
    if (!tag && b.description.empty()) {
        tag = BranchTag{"abcdefghij", std::nullopt, HookState::None, "", ""};
    }
    if (tag && b.description.empty()) {
        b.description = encode_tag(*tag);
    } else if (!tag) {
        tag = decode_tag(b.description);
    }
    return {std::move(b), std::move(tag), true};
}

// A branch whose read description is `description`, decoded or not.
GcBranch described(Branch b, const std::string& description) {
    b.description = description;
    auto tag = decode_tag(description);
    return {std::move(b), std::move(tag), true};
}

// A branch as the list answers it: no description read.
GcBranch unread(Branch b) {
    return {std::move(b), std::nullopt, false};
}

std::string derived(const std::string& sandbox, const std::string& id = {},
                    const std::string& resource = {}) {
    return derive_branch_name({sandbox, id, resource}, "sb-");
}

GcPolicyOptions opts() {
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    return o;
}

const GcCandidate* find(const std::vector<GcCandidate>& out, const std::string& name) {
    for (const auto& c : out) {
        if (c.branch.name == name) {
            return &c;
        }
    }
    return nullptr;
}

std::vector<std::string> deleted(const std::vector<GcCandidate>& out) {
    std::vector<std::string> names;
    for (const auto& c : out) {
        if (c.deletes()) {
            names.push_back(c.branch.name);
        }
    }
    return names;
}

BranchTag tag_expiring(std::int64_t at) {
    BranchTag t;
    t.token = "abcdefghij";
    t.expires_at = at;
    return t;
}

// ------------------------------------------------------------ always-rules

TEST(GcPolicy, OnlyPrefixedBranchesAreCandidates) {
    auto o = opts();
    o.older_than = 0;
    auto out = select_gc({g(make("main", "2025-01-01T00:00:00Z", std::nullopt)), g(make("manual")),
                          g(make("xsb-foo")), g(make("sb-old"))},
                         {}, k_now, o);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].branch.name, "sb-old");
    EXPECT_EQ(out[0].reason, GcReason::OlderThan);
}

// `xbranch run` names its branches run-<8 characters> whatever the prefix:
// gc must see them too (issue 20), with the same tag rule.
TEST(GcPolicy, RunBranchesAreCandidatesWhateverThePrefix) {
    for (const std::string prefix : {"sb-", "pr-"}) {
        auto o = opts();
        o.prefix = prefix;
        o.older_than = 0;
        auto out = select_gc({g(make("run-ab12cd34")), described(make("run-byhand"), "mine"),
                              g(make("xrun-ab12cd34")), g(make("runner"))},
                             {}, k_now, o);
        ASSERT_EQ(out.size(), 2U) << prefix;
        EXPECT_EQ(deleted(out), std::vector<std::string>{"run-ab12cd34"}) << prefix;
        EXPECT_EQ(find(out, "run-byhand")->kept_why, "no xbranch tag") << prefix;
    }
}

TEST(GcPolicy, ExpiredAndOlderThanDeleteARunBranchOrphansNever) {
    auto o = opts();
    o.expired = true;
    auto out = select_gc({g(make("run-expired1"), tag_expiring(k_now - 60)),
                          g(make("run-later001"), tag_expiring(k_now + 60))},
                         {}, k_now, o);
    EXPECT_EQ(deleted(out), std::vector<std::string>{"run-expired1"});

    // No sandbox owns a run branch, and a live `xbranch run` may still use
    // an old one: --orphans keeps it, whatever its age.
    o = opts();
    o.orphans = true;
    out = select_gc({g(make("run-ab12cd34", "2025-01-01T00:00:00Z")), g(make("sb-orphan"))}, {},
                    k_now, o);
    EXPECT_EQ(deleted(out), std::vector<std::string>{"sb-orphan"});
    ASSERT_NE(find(out, "run-ab12cd34"), nullptr);
    EXPECT_NE(find(out, "run-ab12cd34")->kept_why.find("a run branch"), std::string::npos)
        << find(out, "run-ab12cd34")->kept_why;

    // Protected like any other: a run branch that is a parent stays.
    o = opts();
    o.older_than = 0;
    Branch child = make("sb-child");
    child.parent_id = "id-run-parent01";
    out = select_gc({g(make("run-parent01")), g(child)}, {}, k_now, o);
    EXPECT_EQ(find(out, "run-parent01")->kept_why, "parent of 1 live branch");
}

TEST(GcPolicy, EmptyPrefixSelectsNothing) {
    auto o = opts();
    o.prefix = "";
    o.older_than = 0;
    EXPECT_TRUE(select_gc({g(make("sb-a"))}, {}, k_now, o).empty());
}

TEST(GcPolicy, NeverTheParentByNameOrId) {
    auto o = opts();
    o.older_than = 0;
    o.parent_name = "sb-parent";
    o.parent_id = "pid00000000000000000000000";
    auto out = select_gc(
        {g(make("sb-parent")), g(make("sb-by-id", "2025-01-01T00:00:00Z", k_root_id, o.parent_id))},
        {}, k_now, o);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_FALSE(out[0].deletes());
    EXPECT_EQ(out[0].kept_why, "the parent branch");
    EXPECT_FALSE(out[1].deletes());
    EXPECT_EQ(out[1].kept_why, "the parent branch");
}

TEST(GcPolicy, NeverARootBranch) {
    auto o = opts();
    o.older_than = 0;
    o.expired = true;
    auto out = select_gc({g(make("sb-root", "2020-01-01T00:00:00Z", std::nullopt), tag_expiring(0)),
                          g(make("sb-root2", "2020-01-01T00:00:00Z", std::string{}))},
                         {}, k_now, o);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[0].kept_why, "a root branch");
    EXPECT_EQ(out[1].kept_why, "a root branch");
    EXPECT_TRUE(deleted(out).empty());
}

TEST(GcPolicy, NeverTheParentOfLiveBranches) {
    auto o = opts();
    o.older_than = 0;
    o.orphans = true;
    o.expired = true;
    Branch mid = make("sb-mid", "2020-01-01T00:00:00Z");
    Branch child = make("sb-child", "2020-01-01T00:00:00Z", mid.id);
    Branch other_child = make("manual-child", "2020-01-01T00:00:00Z", mid.id);
    auto out = select_gc({g(mid, tag_expiring(0)), g(child), g(other_child)}, {}, k_now, o);
    const auto* m = find(out, "sb-mid");
    ASSERT_NE(m, nullptr);
    EXPECT_FALSE(m->deletes());
    EXPECT_EQ(m->kept_why, "parent of 2 live branches");
    EXPECT_EQ(deleted(out), std::vector<std::string>{"sb-child"});
}

TEST(GcPolicy, NoModeSelectsNothing) {
    auto out = select_gc({g(make("sb-a"))}, {}, k_now, opts());
    ASSERT_EQ(out.size(), 1U);
    EXPECT_FALSE(out[0].deletes());
    EXPECT_EQ(out[0].kept_why, "no rule selected it");
}

// ------------------------------------------------------------ the xbranch tag

// The hostile test's case: a branch made by hand with the prefix.
TEST(GcPolicy, UntaggedPrefixedBranchIsKeptInEveryMode) {
    const Branch human = make("sb-human-work", "2020-01-01T00:00:00Z");
    const Branch gone = make(derived("gone", "rkgone001"), "2020-01-01T00:00:00Z");
    struct Mode {
        const char* name;
        bool orphans;
        bool expired;
        std::optional<std::int64_t> older_than;
        GcReason tagged_reason;
    };
    const Mode modes[] = {{"orphans", true, false, std::nullopt, GcReason::Orphan},
                          {"older-than", false, false, 0, GcReason::OlderThan},
                          {"expired", false, true, std::nullopt, GcReason::Expired},
                          {"all", true, true, 0, GcReason::Expired}};
    for (const auto& m : modes) {
        SCOPED_TRACE(m.name);
        auto o = opts();
        o.orphans = m.orphans;
        o.expired = m.expired;
        o.older_than = m.older_than;
        o.grace = 0;
        for (const char* text : {"my own branch", "", "xb", "sb human", "xbranch 0"}) {
            SCOPED_TRACE(text);
            auto out = select_gc({described(human, text), g(gone, tag_expiring(0))}, {}, k_now, o);
            ASSERT_EQ(out.size(), 2U);
            EXPECT_FALSE(out[0].deletes());
            EXPECT_EQ(out[0].kept_why, "no xbranch tag");
            EXPECT_FALSE(out[0].needs_tag);
            // A real xbranch orphan beside it still goes.
            EXPECT_EQ(out[1].reason, m.tagged_reason);
        }
    }
}

TEST(GcPolicy, ADamagedVersionOneTagIsKept) {
    // This build reads version 1: an "xb1" it cannot decode proves nothing.
    auto o = opts();
    o.orphans = true;
    o.older_than = 0;
    o.grace = 0;
    for (const char* text : {"xb1", "xb1 rshort", "xb1 - note", "xb1 rabcdefghij e2026"}) {
        SCOPED_TRACE(text);
        auto out = select_gc({described(make("sb-damaged"), text)}, {}, k_now, o);
        EXPECT_FALSE(out[0].deletes());
        EXPECT_EQ(out[0].kept_why, "unreadable tag");
    }
}

TEST(GcPolicy, AnotherVersionsMarkerIsStillXbranchs) {
    // A tag this build cannot read is still xbranch's own: orphans and
    // older-than may delete it (expired cannot: the expiry is unreadable).
    auto o = opts();
    o.orphans = true;
    o.grace = 0;
    auto out = select_gc({described(make("sb-newer"), "xb9 something")}, {}, k_now, o);
    EXPECT_EQ(out[0].reason, GcReason::Orphan);
    o.orphans = false;
    o.expired = true;
    out = select_gc({described(make("sb-newer"), "xb9 something")}, {}, k_now, o);
    EXPECT_EQ(out[0].kept_why, "unreadable tag");
}

TEST(GcPolicy, AnUnreadDescriptionIsKeptAndAskedFor) {
    auto o = opts();
    o.orphans = true;
    o.grace = 0;
    const std::string live_name = derived("alive");
    auto out = select_gc({unread(make("sb-a")), unread(make(live_name, "2025-05-01T10:20:30Z")),
                          unread(make("sb-root", "2020-01-01T00:00:00Z", std::nullopt))},
                         {{"alive", "", {}}}, k_now, o);
    ASSERT_EQ(out.size(), 3U);
    EXPECT_TRUE(deleted(out).empty());
    EXPECT_EQ(out[0].kept_why, "xbranch tag not read");
    EXPECT_TRUE(out[0].needs_tag);
    // Kept whatever its tag says: not worth a describe.
    EXPECT_FALSE(out[1].needs_tag);
    EXPECT_FALSE(out[2].needs_tag);
    // Once read, the same branch goes.
    Branch read = make("sb-a");
    read.description = "xb1 rabcdefghij";
    EXPECT_EQ(select_gc({{read, decode_tag(read.description), true}}, {}, k_now, o)[0].reason,
              GcReason::Orphan);
}

TEST(GcPolicy, ExpiredAsksForEveryUnreadTag) {
    auto o = opts();
    o.expired = true;
    o.orphans = true;
    auto out = select_gc({unread(make(derived("alive")))}, {{"alive", "", {}}}, k_now, o);
    EXPECT_FALSE(out[0].deletes());
    EXPECT_TRUE(out[0].needs_tag);
    EXPECT_EQ(out[0].kept_why, "xbranch tag not read; live sandbox 'alive'");
}

// ------------------------------------------------------------ keep-sandbox

TEST(GcPolicy, KeepSandboxMatchesExactlyNotByPrefix) {
    auto o = opts();
    o.older_than = 0;
    o.keep_sandboxes = {"demo"};
    const std::string keep = derived("demo");
    const std::string other = derived("demo-2");  // starts with "sb-demo-"
    const std::string other2 = derived("demonstration");
    auto out = select_gc({g(make(keep)), g(make(other)), g(make(other2))}, {}, k_now, o);
    EXPECT_EQ(find(out, keep)->kept_why, "sandbox 'demo' is kept");
    EXPECT_TRUE(find(out, other)->deletes());
    EXPECT_TRUE(find(out, other2)->deletes());
}

TEST(GcPolicy, KeepSandboxMatchesByUpperCaseOrSanitisedName) {
    // "Demo" and "demo" sanitise alike: the sanitised part is compared exactly.
    auto o = opts();
    o.older_than = 0;
    o.keep_sandboxes = {"Demo"};
    auto out = select_gc({g(make(derived("demo")))}, {}, k_now, o);
    EXPECT_FALSE(out[0].deletes());
}

TEST(GcPolicy, KeepSandboxUsesTheLiveSandboxsResourcesAndRoutingKey) {
    auto o = opts();
    o.older_than = 0;
    o.keep_sandboxes = {"demo"};
    const std::string with_res = derived("demo", "rk1234", "usersdb");
    const std::string res_only = derived("demo", "", "usersdb");
    // Another sandbox whose name looks like demo + a resource.
    const std::string lookalike = derived("demo-usersdb", "rk9999");
    std::vector<LiveSandbox> live = {{"demo", "rk1234", {"usersdb"}}};
    auto out =
        select_gc({g(make(with_res)), g(make(res_only)), g(make(lookalike))}, live, k_now, o);
    EXPECT_FALSE(find(out, with_res)->deletes());
    EXPECT_FALSE(find(out, res_only)->deletes());
    EXPECT_TRUE(find(out, lookalike)->deletes());
}

TEST(GcPolicy, KeepSandboxWithoutKnowledgeChecksTheHash) {
    // No live list: the resource/id split is verified by the name's hash.
    EXPECT_TRUE(keep_sandbox_matches("demo", {}, derived("demo", "", "usersdb"), "sb-"));
    EXPECT_TRUE(keep_sandbox_matches("demo", {}, derived("demo", "rk12345"), "sb-"));
    EXPECT_TRUE(keep_sandbox_matches("demo", {}, derived("demo", "rk1-x", "users-db"), "sb-"));
    EXPECT_TRUE(keep_sandbox_matches("demo", {}, derived("demo"), "sb-"));
    EXPECT_TRUE(keep_sandbox_matches("demo", {}, "sb-demo", "sb-"));
    // Look-alikes of other sandboxes: same readable text, another identity.
    EXPECT_FALSE(keep_sandbox_matches("demo", {}, derived("demo-usersdb"), "sb-"));
    EXPECT_FALSE(keep_sandbox_matches("demo", {}, derived("demo-usersdb", "rk9"), "sb-"));
    EXPECT_FALSE(keep_sandbox_matches("demo", {}, derived("demo-2", "", "db"), "sb-"));
    EXPECT_FALSE(keep_sandbox_matches("demo", {}, "sb-demo-usersdb-abcdefgh", "sb-"));
    EXPECT_FALSE(keep_sandbox_matches("demo", {}, "other-demo", "sb-"));
    EXPECT_FALSE(keep_sandbox_matches("!!!", {}, "sb--", "sb-"));
}

// ------------------------------------------------------------ orphans

TEST(GcPolicy, OrphanDeletedWhenNoLiveSandboxExplainsIt) {
    auto o = opts();
    o.orphans = true;
    const std::string live_name = derived("alive", "rkalive01", "db");
    const std::string gone = derived("gone", "rkgone001", "db");
    std::vector<LiveSandbox> live = {{"alive", "rkalive01", {"db"}}};
    auto out = select_gc({g(make(live_name)), g(make(gone))}, live, k_now, o);
    EXPECT_EQ(find(out, live_name)->kept_why, "live sandbox 'alive'");
    EXPECT_EQ(find(out, gone)->reason, GcReason::Orphan);
}

TEST(GcPolicy, AnyLiveSandboxCouldOwnIt) {
    // Each way one of several sandboxes can explain a branch keeps it.
    std::vector<LiveSandbox> live = {
        {"first", "rkfirst01", {}},
        {"second", "rkzz9x8y7", {"db", "cache"}},
        {"third-one", "", {}},
    };
    auto own = [&](const std::string& name) {
        for (const auto& s : live) {
            if (sandbox_could_own(s, name, "sb-")) {
                return true;
            }
        }
        return false;
    };
    // Derived from name + routing key + each resource, and without them.
    EXPECT_TRUE(own(derived("second", "rkzz9x8y7", "db")));
    EXPECT_TRUE(own(derived("second", "rkzz9x8y7", "cache")));
    EXPECT_TRUE(own(derived("second", "", "cache")));
    EXPECT_TRUE(own(derived("second", "rkzz9x8y7")));
    EXPECT_TRUE(own(derived("second")));
    // A name part equal to the sanitised name (another tool's sb-<name>).
    EXPECT_TRUE(own("sb-third-one"));
    EXPECT_TRUE(own("sb-third-one-extra-abcdefgh"));
    // Containing its routing key (a sandbox renamed, the id kept).
    EXPECT_TRUE(own(derived("renamed", "rkzz9x8y7", "db")));
    EXPECT_TRUE(own("sb-x-rkfirst01"));
    // None of them.
    EXPECT_FALSE(own(derived("fourth", "rk0000000")));
    EXPECT_FALSE(own("sb-thirdone"));
    EXPECT_FALSE(own("sb-secondary"));
    EXPECT_FALSE(own("other-second"));  // not prefixed
}

TEST(GcPolicy, ATruncatedLongSandboxNameIsStillOwned) {
    const std::string longname(80, 'q');
    const std::string name = derive_branch_name({longname, "rk1", "res"}, "sb-");
    ASSERT_EQ(name.size(), k_max_branch_name);
    EXPECT_TRUE(sandbox_could_own({longname, "", {}}, name, "sb-"));
}

TEST(GcPolicy, OrphanKeptWithinGrace) {
    auto o = opts();
    o.orphans = true;
    // 10 minutes old < 15 minutes grace.
    auto out = select_gc({g(make("sb-new-abcdefgh", "2025-05-01T10:10:30Z")),
                          g(make("sb-old-abcdefgh", "2025-05-01T10:05:29Z"))},
                         {}, k_now, o);
    EXPECT_FALSE(out[0].deletes());
    EXPECT_NE(out[0].kept_why.find("grace"), std::string::npos);
    EXPECT_TRUE(out[1].deletes());
    o.grace = 0;
    EXPECT_TRUE(
        select_gc({g(make("sb-new-abcdefgh", "2025-05-01T10:20:30Z"))}, {}, k_now, o)[0].deletes());
}

TEST(GcPolicy, OrphanWithUnreadableCreationTimeIsKept) {
    auto o = opts();
    o.orphans = true;
    auto out = select_gc({g(make("sb-x", "yesterday"))}, {}, k_now, o);
    EXPECT_FALSE(out[0].deletes());
    EXPECT_EQ(out[0].kept_why, "unreadable creation time");
    EXPECT_FALSE(out[0].age.has_value());
}

TEST(GcPolicy, OrphansWithNoLiveSandboxAtAllDeletesEveryOldPrefixedChild) {
    auto o = opts();
    o.orphans = true;
    auto out = select_gc({g(make("sb-a")), g(make("sb-b")), g(make("keep-me"))}, {}, k_now, o);
    EXPECT_EQ(deleted(out), (std::vector<std::string>{"sb-a", "sb-b"}));
}

// ------------------------------------------------------------ expiry

TEST(GcPolicy, ExpiredOnlyWithAValidTagWhoseExpiryPassed) {
    auto o = opts();
    o.expired = true;
    Branch foreign = make("sb-foreign");
    foreign.description = "made by hand";
    Branch future_tag = make("sb-xb9");
    future_tag.description = "xb9 something";
    BranchTag no_expiry;
    no_expiry.token = "abcdefghij";
    auto out = select_gc(
        {g(make("sb-past"), tag_expiring(k_now - 60)), g(make("sb-now"), tag_expiring(k_now)),
         g(make("sb-future"), tag_expiring(k_now + 60)), g(make("sb-noexp"), no_expiry), g(foreign),
         g(future_tag)},
        {}, k_now, o);
    EXPECT_EQ(deleted(out), (std::vector<std::string>{"sb-past", "sb-now"}));
    EXPECT_EQ(find(out, "sb-future")->kept_why, "not expired");
    EXPECT_EQ(find(out, "sb-noexp")->kept_why, "no expiry");
    EXPECT_EQ(find(out, "sb-foreign")->kept_why, "no xbranch tag");
    EXPECT_EQ(find(out, "sb-xb9")->kept_why, "unreadable tag");
    for (const auto& c : out) {
        if (c.deletes()) {
            EXPECT_EQ(c.reason, GcReason::Expired);
        }
    }
}

TEST(GcPolicy, ExpiredDeletesEvenALiveSandboxsBranchButNotAProtectedOne) {
    auto o = opts();
    o.expired = true;
    o.orphans = true;
    o.keep_sandboxes = {"kept"};
    std::vector<LiveSandbox> live = {{"alive", "", {}}, {"kept", "", {}}};
    auto out = select_gc(
        {g(make(derived("alive")), tag_expiring(0)), g(make(derived("kept")), tag_expiring(0))},
        live, k_now, o);
    EXPECT_EQ(out[0].reason, GcReason::Expired);
    EXPECT_FALSE(out[1].deletes());
}

TEST(GcPolicy, ExpiredAloneIgnoresAge) {
    auto o = opts();
    o.expired = true;
    auto out = select_gc({g(make("sb-ancient", "2000-01-01T00:00:00Z"))}, {}, k_now, o);
    EXPECT_FALSE(out[0].deletes());
}

// ------------------------------------------------------------ older-than

TEST(GcPolicy, OlderThanByCreatedAt) {
    auto o = opts();
    o.older_than = 3600;
    auto out = select_gc({g(make("sb-old", "2025-05-01T09:20:30Z")),     // exactly 1h
                          g(make("sb-young", "2025-05-01T09:20:31Z")),   // 1s short
                          g(make("sb-future", "2025-05-02T00:00:00Z")),  // clock skew: age 0
                          g(make("sb-bad", "garbage"))},
                         {}, k_now, o);
    EXPECT_EQ(deleted(out), std::vector<std::string>{"sb-old"});
    EXPECT_EQ(find(out, "sb-young")->kept_why, "younger than the age limit");
    EXPECT_EQ(find(out, "sb-future")->age, 0);
    EXPECT_EQ(find(out, "sb-old")->age, 3600);
    EXPECT_EQ(find(out, "sb-bad")->kept_why, "unreadable creation time");
}

TEST(GcPolicy, ReasonPrecedenceExpiredThenOrphanThenOlderThan) {
    auto o = opts();
    o.expired = true;
    o.orphans = true;
    o.older_than = 0;
    auto out =
        select_gc({g(make("sb-a"), tag_expiring(0)), g(make("sb-b")), g(make(derived("alive")))},
                  {{"alive", "", {}}}, k_now, o);
    EXPECT_EQ(out[0].reason, GcReason::Expired);
    EXPECT_EQ(out[1].reason, GcReason::Orphan);
    EXPECT_EQ(out[2].reason, GcReason::OlderThan);  // live, but older than asked for
}

TEST(GcPolicy, KeptWhyJoinsEveryModesReason) {
    auto o = opts();
    o.expired = true;
    o.orphans = true;
    auto out = select_gc({g(make(derived("alive")), tag_expiring(k_now + 600))},
                         {{"alive", "", {}}}, k_now, o);
    EXPECT_EQ(out[0].kept_why, "not expired; live sandbox 'alive'");
}

TEST(GcPolicy, DryRunDoesNotChangeTheVerdict) {
    auto o = opts();
    o.older_than = 0;
    auto wet = select_gc({g(make("sb-a"))}, {}, k_now, o);
    o.dry_run = true;
    auto dry = select_gc({g(make("sb-a"))}, {}, k_now, o);
    EXPECT_EQ(wet[0].reason, dry[0].reason);
}

TEST(GcPolicy, ReasonNames) {
    EXPECT_STREQ(gc_reason_name(GcReason::Orphan), "orphan");
    EXPECT_STREQ(gc_reason_name(GcReason::Expired), "expired");
    EXPECT_STREQ(gc_reason_name(GcReason::OlderThan), "older-than");
}

}  // namespace
}  // namespace xbranch

namespace xbranch {
namespace {

// The tag reaches the policy through the description of describe answers.
TEST(GcPolicyInput, DescriptionIsParsedWhenPresent) {
    const std::string with =
        R"({"id":"i","name":"n","parentID":"p","createdAt":"2025-05-01T10:20:30Z","description":"xb1 rabcdefghij e202612011530","status":{"statusType":"STATUS_TYPE_HEALTHY"}})";
    const auto d = parse_branch_details(with);
    EXPECT_EQ(d.branch.description, "xb1 rabcdefghij e202612011530");
    ASSERT_TRUE(decode_tag(d.branch.description));
    EXPECT_TRUE(decode_tag(d.branch.description)->expires_at);
    EXPECT_EQ(parse_branch_list(R"({"branches":[{"id":"i","name":"n"}]})")[0].description, "");
}

}  // namespace
}  // namespace xbranch

namespace xbranch {
namespace {

TEST(GcPolicyInput, Rfc3339Utc) {
    EXPECT_EQ(rfc3339_utc(1746094830), "2025-05-01T10:20:30Z");
    EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace xbranch
