#include <gtest/gtest.h>

#include "xbranch/hooks.hpp"
#include "xbranch/tag.hpp"

namespace xbranch {
namespace {

ConnectionInfo info() {
    ConnectionInfo i;
    i.host = "abc.us-east-1.xata.tech";
    i.port = 5432;
    i.database = "app";
    i.username = "xata";
    i.password = "p@ss word";
    i.sslmode = "require";
    return i;
}

TEST(HookEnvironment, CarriesTheConnectionAndTheBranch) {
    const auto env = hook_environment(info(), "sb-foo-1a2b3c4", "bid123", "main");
    const EnvVars want = {
        {"DATABASE_URL",
         "postgresql://xata:p%40ss%20word@abc.us-east-1.xata.tech:5432/app?sslmode=require"},
        {"PGHOST", "abc.us-east-1.xata.tech"},
        {"PGPORT", "5432"},
        {"PGDATABASE", "app"},
        {"PGUSER", "xata"},
        {"PGPASSWORD", "p@ss word"},  // raw: libpq reads it as is
        {"PGSSLMODE", "require"},
        {"XBRANCH_BRANCH_NAME", "sb-foo-1a2b3c4"},
        {"XBRANCH_BRANCH_ID", "bid123"},
        {"XBRANCH_PARENT", "main"},
    };
    EXPECT_EQ(env, want);
}

TEST(HookEnvironment, DatabaseUrlIsTheOutputsConnectionString) {
    const auto env = hook_environment(info(), "b", "i", "p");
    EXPECT_EQ(env[0].second, build_connection_string(info()));
}

TEST(HookEnvironment, NoSslmodeLeavesPgsslmodeOut) {
    for (const char* mode : {"", "none"}) {
        auto i = info();
        i.sslmode = mode;
        const auto env = hook_environment(i, "b", "i", "p");
        for (const auto& [name, value] : env) {
            EXPECT_NE(name, "PGSSLMODE") << "sslmode '" << mode << "'";
        }
        EXPECT_EQ(env[0].second.find("sslmode"), std::string::npos) << env[0].second;
        EXPECT_EQ(env.size(), 9U);
    }
}

TEST(HookFingerprint, ContentHashIsStableAndSensitive) {
    EXPECT_EQ(content_hash(""), "cbf29ce484222325");   // FNV-1a offset basis
    EXPECT_EQ(content_hash("a"), "af63dc4c8601ec8c");  // published FNV-1a 64 vector
    EXPECT_NE(content_hash("INSERT 1"), content_hash("INSERT 2"));
}

HookSpec sql(std::string path, std::string content) {
    return {HookSpec::Kind::Sql, std::move(path), std::move(content)};
}
HookSpec exec(std::string cmd) {
    return {HookSpec::Kind::Exec, std::move(cmd), ""};
}

TEST(HookFingerprint, InputListsEveryHookInOrder) {
    const auto in = fingerprint_input({sql("seed.sql", "a"), exec("./post.sh --x")});
    EXPECT_EQ(in,
              (std::vector<std::string>{"sql seed.sql af63dc4c8601ec8c", "exec ./post.sh --x"}));
}

TEST(HookFingerprint, ChangesWithContentOrderAndSetButNotOtherwise) {
    const std::vector<HookSpec> base = {sql("seed.sql", "INSERT 1;"), exec("make seed")};
    const auto fp = hook_set_fingerprint(base);
    EXPECT_EQ(fp.size(), k_fingerprint_length);
    EXPECT_EQ(fp, hook_set_fingerprint(base));
    EXPECT_EQ(fp, hooks_fingerprint(fingerprint_input(base)));
    EXPECT_NE(fp, hook_set_fingerprint({sql("seed.sql", "INSERT 2;"), exec("make seed")}));
    EXPECT_NE(fp, hook_set_fingerprint({exec("make seed"), sql("seed.sql", "INSERT 1;")}));
    EXPECT_NE(fp, hook_set_fingerprint({sql("seed.sql", "INSERT 1;")}));
    // An exec hook's "content" plays no part.
    EXPECT_EQ(hook_set_fingerprint({exec("x")}),
              hook_set_fingerprint({{HookSpec::Kind::Exec, "x", "ignored"}}));
}

TEST(HookFingerprint, AnEmptySetHasNone) {
    EXPECT_EQ(hook_set_fingerprint({}), "");
}

TEST(HookFingerprint, FitsTheTag) {
    BranchTag t;
    t.token = "k3j4h5g6f7";
    t.hooks = HookState::Done;
    t.hooks_fingerprint = hook_set_fingerprint({sql("seed.sql", "x")});
    const auto back = decode_tag(encode_tag(t));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->hooks_fingerprint, t.hooks_fingerprint);
}

}  // namespace
}  // namespace xbranch
