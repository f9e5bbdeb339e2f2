#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"

using namespace xbranch;

namespace {

bool dns_label(const std::string& s) {
    if (s.empty() || s.size() > k_max_branch_name || s.front() == '-' || s.back() == '-') {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

ErrorKind kind_of(const SandboxIdentity& id, std::string_view prefix) {
    try {
        (void)derive_branch_name(id, prefix);
    } catch (const Error& e) {
        return e.kind();
    }
    return ErrorKind::Internal;  // no throw
}

}  // namespace

TEST(SanitizeLabel, Table) {
    struct Case {
        const char* in;
        const char* out;
    };
    const Case cases[] = {
        {"foo", "foo"},
        {"Foo", "foo"},
        {"FOO-BAR", "foo-bar"},
        {"foo_bar", "foo-bar"},
        {"foo.bar", "foo-bar"},
        {"foo bar", "foo-bar"},
        {"foo__..--bar", "foo-bar"},
        {"--foo--", "foo"},
        {"__Foo.Bar__", "foo-bar"},
        {"  leading and trailing  ", "leading-and-trailing"},
        {"caf\xc3\xa9-au-lait", "caf-au-lait"},  // UTF-8 bytes fold into one dash
        {"\xe6\x97\xa5\xe6\x9c\xac", ""},        // only non-ASCII
        {"a\xe6\x97\xa5"
         "b",
         "a-b"},
        {"", ""},
        {"---", ""},
        {"_._", ""},
        {"123", "123"},
        {"a1-B2_c3", "a1-b2-c3"},
        {"pr/1234:feature", "pr-1234-feature"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(sanitize_label(c.in), c.out) << "input: " << c.in;
    }
}

TEST(ValidPrefix, Table) {
    EXPECT_TRUE(valid_prefix("sb-"));
    EXPECT_TRUE(valid_prefix("a-"));
    EXPECT_TRUE(valid_prefix("x1-"));
    EXPECT_TRUE(valid_prefix("pr-x-"));
    EXPECT_TRUE(valid_prefix(std::string(19, 'a') + "-"));
    EXPECT_FALSE(valid_prefix(std::string(20, 'a') + "-"));
    // No closing '-': "a" would match "analytics", "main" the parent.
    EXPECT_FALSE(valid_prefix("a"));
    EXPECT_FALSE(valid_prefix("sb"));
    EXPECT_FALSE(valid_prefix("main"));
    EXPECT_FALSE(valid_prefix(std::string(20, 'a')));
    EXPECT_FALSE(valid_prefix("-"));
    EXPECT_FALSE(valid_prefix(""));
    EXPECT_FALSE(valid_prefix("-sb"));
    EXPECT_FALSE(valid_prefix("1sb"));
    EXPECT_FALSE(valid_prefix("Sb-"));
    EXPECT_FALSE(valid_prefix("sb_"));
    EXPECT_FALSE(valid_prefix("sb."));
    EXPECT_FALSE(valid_prefix("s b"));
}

TEST(ValidBranchName, Table) {
    EXPECT_TRUE(valid_branch_name("main"));
    EXPECT_TRUE(valid_branch_name("Feature_1.2-x"));
    EXPECT_TRUE(valid_branch_name("9lives"));
    EXPECT_TRUE(valid_branch_name(std::string(63, 'a')));
    EXPECT_FALSE(valid_branch_name(std::string(64, 'a')));
    EXPECT_FALSE(valid_branch_name(""));
    EXPECT_FALSE(valid_branch_name("-x"));
    EXPECT_FALSE(valid_branch_name("_x"));
    EXPECT_FALSE(valid_branch_name(".x"));
    EXPECT_FALSE(valid_branch_name("a b"));
    EXPECT_FALSE(valid_branch_name("a/b"));
    EXPECT_FALSE(valid_branch_name("caf\xc3\xa9"));
}

TEST(ShortHash, EightBase32CharsAndDeterministic) {
    for (const char* s : {"", "a", "hello world", "xbranch"}) {
        const std::string h = short_hash(s);
        ASSERT_EQ(h.size(), 8U);
        for (char c : h) {
            EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'v')) << h;
        }
        EXPECT_EQ(h, short_hash(s));
    }
    EXPECT_NE(short_hash("a"), short_hash("b"));
}

TEST(DeriveBranchName, ShapeAndReadablePart) {
    const std::string n = derive_branch_name({"My_Feature.Sandbox", "", ""}, "sb-");
    EXPECT_TRUE(dns_label(n)) << n;
    EXPECT_EQ(n.rfind("sb-my-feature-sandbox-", 0), 0U) << n;
    EXPECT_EQ(n.size(), std::string("sb-my-feature-sandbox-").size() + 8);

    const std::string with_all = derive_branch_name({"feat", "ID_42", "orders-db"}, "sb-");
    EXPECT_EQ(with_all.rfind("sb-feat-orders-db-id-42-", 0), 0U) << with_all;
    EXPECT_TRUE(dns_label(with_all));

    const std::string other_prefix = derive_branch_name({"feat", "", ""}, "pr-");
    EXPECT_EQ(other_prefix.rfind("pr-feat-", 0), 0U);
}

TEST(DeriveBranchName, Deterministic) {
    const SandboxIdentity id{"Some Sandbox", "abc123", "db"};
    EXPECT_EQ(derive_branch_name(id, "sb-"), derive_branch_name(id, "sb-"));
}

// Values computed once with an independent Python FNV-1a (see the report).
// Pins the naming scheme: a branch made by one xbranch version must be found
// (and adopted or deleted) by the next, so any change to sanitising, hashing
// or layout must be deliberate. If this fails, you changed every existing
// sandbox's branch name.
TEST(DeriveBranchName, GoldenValues) {
    EXPECT_EQ(derive_branch_name({"foo", "", ""}, "sb-"), "sb-foo-jvr62ck8");
    EXPECT_EQ(derive_branch_name({"Feature_X", "k8s-routing-1", "orders"}, "sb-"),
              "sb-feature-x-orders-k8s-routing-1-8btcrbn8");
    EXPECT_EQ(short_hash("xbranch"), "nebrcktv");
}

TEST(DeriveBranchName, EmptyOrJunkSandboxIsUsage) {
    EXPECT_EQ(kind_of({"", "", ""}, "sb-"), ErrorKind::Usage);
    EXPECT_EQ(kind_of({"", "id1", "res"}, "sb-"), ErrorKind::Usage);
    EXPECT_EQ(kind_of({"---", "", ""}, "sb-"), ErrorKind::Usage);
    EXPECT_EQ(kind_of({"_._ ", "", ""}, "sb-"), ErrorKind::Usage);
    EXPECT_EQ(kind_of({"\xe6\x97\xa5\xe6\x9c\xac", "", ""}, "sb-"), ErrorKind::Usage);
}

TEST(DeriveBranchName, BadPrefixIsUsage) {
    for (const char* p : {"", "-x", "9x", "SB-", "sb_", "abcdefghijklmnopqrstu"}) {
        EXPECT_EQ(kind_of({"foo", "", ""}, p), ErrorKind::Usage) << p;
    }
}

TEST(DeriveBranchName, NamesThatSanitizeAlikeDiffer) {
    const auto a = derive_branch_name({"Foo_Bar", "", ""}, "sb-");
    const auto b = derive_branch_name({"foo-bar", "", ""}, "sb-");
    const auto c = derive_branch_name({"foo.bar", "", ""}, "sb-");
    const auto d = derive_branch_name({"FOO BAR", "", ""}, "sb-");
    EXPECT_EQ(std::set<std::string>({a, b, c, d}).size(), 4U);
    // Same readable part, only the hash differs.
    EXPECT_EQ(a.substr(0, a.size() - 8), b.substr(0, b.size() - 8));
}

TEST(DeriveBranchName, LongNamesThatTruncateAlikeDiffer) {
    const std::string base(70, 'x');
    const auto a = derive_branch_name({base + "a", "", ""}, "sb-");
    const auto b = derive_branch_name({base + "b", "", ""}, "sb-");
    const auto c = derive_branch_name({std::string(61, 'y') + "1", "", ""}, "sb-");
    const auto d = derive_branch_name({std::string(61, 'y') + "2", "", ""}, "sb-");
    EXPECT_NE(a, b);
    EXPECT_NE(c, d);
    for (const auto& n : {a, b, c, d}) {
        EXPECT_EQ(n.size(), k_max_branch_name) << n;
        EXPECT_TRUE(dns_label(n)) << n;
    }
}

TEST(DeriveBranchName, TruncationNeverLeavesDoubleOrTrailingDash) {
    // A dash lands exactly at the cut.
    for (std::size_t len = 40; len < 70; ++len) {
        std::string s(len, 'a');
        s += "-b";
        const auto n = derive_branch_name({s, "", ""}, "sb-");
        EXPECT_TRUE(dns_label(n)) << n;
        EXPECT_EQ(n.find("--"), std::string::npos) << n;
    }
}

TEST(DeriveBranchName, SandboxIdAndResourceMakeItDiffer) {
    const auto plain = derive_branch_name({"feat", "", ""}, "sb-");
    const auto id1 = derive_branch_name({"feat", "id1", ""}, "sb-");
    const auto id2 = derive_branch_name({"feat", "id2", ""}, "sb-");
    const auto res1 = derive_branch_name({"feat", "id1", "orders"}, "sb-");
    const auto res2 = derive_branch_name({"feat", "id1", "users"}, "sb-");
    // Fields shifted between slots must not collide either.
    const auto shifted = derive_branch_name({"feat", "orders", "id1"}, "sb-");
    EXPECT_EQ(std::set<std::string>({plain, id1, id2, res1, res2, shifted}).size(), 6U);
}

TEST(DeriveBranchName, LongSandboxIdsStillDiffer) {
    const std::string name(50, 'n');
    const auto a = derive_branch_name({name, std::string(40, 'i') + "1", ""}, "sb-");
    const auto b = derive_branch_name({name, std::string(40, 'i') + "2", ""}, "sb-");
    EXPECT_NE(a, b);
}

TEST(DeriveBranchName, AlwaysAValidLabelForGeneratedInputs) {
    std::mt19937 rng(12345);
    const std::string alphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. /:@\xc3\xa9\xff";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<int> len(0, 90);
    const char* prefixes[] = {"sb-", "a-", "preview-", "abcdefghijklmnopqrs-"};
    std::set<std::string> seen_inputs;
    std::set<std::string> seen_names;
    auto gen = [&] {
        std::string s;
        for (int i = len(rng); i > 0; --i) {
            s += alphabet[pick(rng)];
        }
        return s;
    };
    for (int i = 0; i < 3000; ++i) {
        SandboxIdentity id{gen(), gen(), gen()};
        const char* prefix = prefixes[i % 4];
        std::string name;
        try {
            name = derive_branch_name(id, prefix);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Usage);
            EXPECT_TRUE(sanitize_label(id.sandbox).empty()) << id.sandbox;
            continue;
        }
        EXPECT_LE(name.size(), k_max_branch_name);
        EXPECT_TRUE(dns_label(name)) << name;
        EXPECT_EQ(name.rfind(prefix, 0), 0U);
        if (seen_inputs
                .insert(id.sandbox + '\n' + id.sandbox_id + '\n' + id.resource + '\n' + prefix)
                .second) {
            EXPECT_TRUE(seen_names.insert(name).second) << "collision: " << name;
        }
    }
}
