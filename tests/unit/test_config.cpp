#include <gtest/gtest.h>

#include "xbranch/config.hpp"
#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"
#include "xbranch/redact.hpp"

using namespace xbranch;
using std::chrono::milliseconds;

namespace {

const char* k_key = "xau_abcdefghijklmnopqrstuvwxyz012345";

MapEnvironment base_env() {
    return MapEnvironment(std::map<std::string, std::string>{{"XATA_API_KEY", k_key},
                                                             {"XATA_ORGANIZATION_ID", "envorg"},
                                                             {"XATA_PROJECT_ID", "prj_env"}});
}

Error api_error(const GlobalFlags& flags, const Environment& env) {
    try {
        (void)resolve_api_config(flags, env);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "resolve_api_config did not throw";
    return Error(ErrorKind::Internal, "no throw");
}

Error target_error(const IdentityFlags& flags, const Environment& env, bool require) {
    try {
        (void)resolve_branch_target(flags, env, require);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "resolve_branch_target did not throw";
    return Error(ErrorKind::Internal, "no throw");
}

}  // namespace

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override { clear_secrets(); }
    void TearDown() override { clear_secrets(); }
};

TEST_F(ConfigTest, ResolveSettingPrecedence) {
    MapEnvironment env(
        std::map<std::string, std::string>{{"A", "from-a"}, {"B", "from-b"}, {"EMPTY", ""}});
    EXPECT_EQ(
        resolve_setting(std::string("flag"), "--x", env, {"A", "B"}, std::string("def")).value,
        "flag");
    EXPECT_EQ(resolve_setting(std::string("flag"), "--x", env, {"A"}).origin, "flag --x");
    EXPECT_EQ(resolve_setting(std::nullopt, "--x", env, {"A", "B"}, std::string("def")).value,
              "from-a");
    EXPECT_EQ(resolve_setting(std::nullopt, "--x", env, {"A", "B"}).origin, "env A");
    EXPECT_EQ(resolve_setting(std::nullopt, "--x", env, {"NOPE", "B"}).value, "from-b");
    // An empty flag or variable counts as unset.
    EXPECT_EQ(resolve_setting(std::string(""), "--x", env, {"EMPTY", "B"}).value, "from-b");
    const auto d = resolve_setting(std::nullopt, "--x", env, {"NOPE"}, std::string("def"));
    EXPECT_EQ(d.value, "def");
    EXPECT_EQ(d.origin, "default");
    const auto u = resolve_setting(std::nullopt, "--x", env, {"NOPE"});
    EXPECT_TRUE(u.empty());
}

TEST_F(ConfigTest, ApiConfigDefaults) {
    const auto c = resolve_api_config(GlobalFlags{}, base_env());
    EXPECT_EQ(c.api_key.value, k_key);
    EXPECT_TRUE(c.api_key.secret);
    EXPECT_EQ(c.base_url.value, "https://api.xata.tech");
    EXPECT_EQ(c.base_url.origin, "default");
    EXPECT_EQ(c.organization.value, "envorg");
    EXPECT_EQ(c.organization.origin, "env XATA_ORGANIZATION_ID");
    EXPECT_EQ(c.project.value, "prj_env");
    EXPECT_TRUE(c.cacert.empty());
    EXPECT_EQ(c.connect_timeout, milliseconds{10000});
    EXPECT_EQ(c.request_timeout, milliseconds{30000});
}

TEST_F(ConfigTest, ApiConfigFlagBeatsEnvBeatsDefault) {
    auto env = base_env();
    env.set("XATA_API_BASE_URL", "http://127.0.0.1:9999");
    env.set("CURL_CA_BUNDLE", "/env/ca.pem");
    env.set("SSL_CERT_FILE", "/env/ssl.pem");
    auto c = resolve_api_config(GlobalFlags{}, env);
    EXPECT_EQ(c.base_url.value, "http://127.0.0.1:9999");
    EXPECT_EQ(c.base_url.origin, "env XATA_API_BASE_URL");
    EXPECT_EQ(c.cacert.value, "/env/ca.pem");

    GlobalFlags f;
    f.base_url = "https://flag.example";
    f.organization = "flagorg";
    f.project = "prj_flag";
    f.cacert = "/flag/ca.pem";
    f.connect_timeout_s = 2.5;
    f.request_timeout_s = 0.3;
    c = resolve_api_config(f, env);
    EXPECT_EQ(c.base_url.value, "https://flag.example");
    EXPECT_EQ(c.base_url.origin, "flag --base-url");
    EXPECT_EQ(c.organization.value, "flagorg");
    EXPECT_EQ(c.organization.origin, "flag --org");
    EXPECT_EQ(c.project.value, "prj_flag");
    EXPECT_EQ(c.cacert.value, "/flag/ca.pem");
    EXPECT_EQ(c.connect_timeout, milliseconds{2500});
    EXPECT_EQ(c.request_timeout, milliseconds{300});
}

TEST_F(ConfigTest, CacertFallsBackToSslCertFile) {
    auto env = base_env();
    env.set("SSL_CERT_FILE", "/env/ssl.pem");
    EXPECT_EQ(resolve_api_config(GlobalFlags{}, env).cacert.value, "/env/ssl.pem");
}

TEST_F(ConfigTest, LegacyEnvSpellings) {
    MapEnvironment env(std::map<std::string, std::string>{{"XATA_API_KEY", k_key},
                                                          {"XATA_ORGANIZATIONID", "legacyorg"},
                                                          {"XATA_PROJECTID", "prj_legacy"}});
    auto c = resolve_api_config(GlobalFlags{}, env);
    EXPECT_EQ(c.organization.value, "legacyorg");
    EXPECT_EQ(c.organization.origin, "env XATA_ORGANIZATIONID");
    EXPECT_EQ(c.project.value, "prj_legacy");
    // The snake_case name wins when both are set.
    env.set("XATA_ORGANIZATION_ID", "neworg");
    env.set("XATA_PROJECT_ID", "prj_new");
    c = resolve_api_config(GlobalFlags{}, env);
    EXPECT_EQ(c.organization.value, "neworg");
    EXPECT_EQ(c.project.value, "prj_new");
}

TEST_F(ConfigTest, MissingKeyOrgProjectIsUsageWithHint) {
    MapEnvironment no_key(std::map<std::string, std::string>{{"XATA_ORGANIZATION_ID", "o"},
                                                             {"XATA_PROJECT_ID", "p"}});
    auto e = api_error(GlobalFlags{}, no_key);
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("XATA_API_KEY"), std::string::npos);
    EXPECT_FALSE(e.hint().empty());

    MapEnvironment no_org(
        std::map<std::string, std::string>{{"XATA_API_KEY", k_key}, {"XATA_PROJECT_ID", "p"}});
    e = api_error(GlobalFlags{}, no_org);
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("--org"), std::string::npos);
    EXPECT_FALSE(e.hint().empty());

    MapEnvironment no_project(
        std::map<std::string, std::string>{{"XATA_API_KEY", k_key}, {"XATA_ORGANIZATION_ID", "o"}});
    e = api_error(GlobalFlags{}, no_project);
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("--project"), std::string::npos);
    EXPECT_FALSE(e.hint().empty());

    // An empty key counts as missing.
    MapEnvironment empty_key(std::map<std::string, std::string>{
        {"XATA_API_KEY", ""}, {"XATA_ORGANIZATION_ID", "o"}, {"XATA_PROJECT_ID", "p"}});
    EXPECT_EQ(api_error(GlobalFlags{}, empty_key).kind(), ErrorKind::Usage);
}

TEST_F(ConfigTest, BadBaseUrlAndTimeoutsAreUsage) {
    GlobalFlags f;
    f.base_url = "ftp://x";
    EXPECT_EQ(api_error(f, base_env()).kind(), ErrorKind::Usage);
    GlobalFlags t;
    t.connect_timeout_s = 0;
    EXPECT_EQ(api_error(t, base_env()).kind(), ErrorKind::Usage);
    GlobalFlags t2;
    t2.request_timeout_s = -1;
    EXPECT_EQ(api_error(t2, base_env()).kind(), ErrorKind::Usage);
}

TEST_F(ConfigTest, ApiKeyIsRegisteredAsSecret) {
    (void)resolve_api_config(GlobalFlags{}, base_env());
    EXPECT_EQ(redact(std::string("key=") + k_key), "key=********");
}

TEST_F(ConfigTest, BranchTargetDefaultsAndDerivation) {
    MapEnvironment env(std::map<std::string, std::string>{{"SIGNADOT_SANDBOX_NAME", "feat"}});
    const auto t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.prefix.value, "sb-");
    EXPECT_EQ(t.prefix.origin, "default");
    EXPECT_EQ(t.name.value, derive_branch_name({"feat", "", ""}, "sb-"));
    EXPECT_EQ(t.parent.setting.value, "main");
    EXPECT_EQ(t.parent.setting.origin, "default");
    EXPECT_FALSE(t.parent.is_id);
    EXPECT_TRUE(t.branch_id.empty());
}

TEST_F(ConfigTest, BranchTargetFlagBeatsEnv) {
    MapEnvironment env(std::map<std::string, std::string>{{"SIGNADOT_SANDBOX_NAME", "envsb"},
                                                          {"SIGNADOT_SANDBOX_ID", "envid"},
                                                          {"SIGNADOT_RESOURCE_NAME", "envres"},
                                                          {"XBRANCH_PREFIX", "env-"},
                                                          {"XATA_BRANCH_NAME", "envparent"}});
    auto t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.sandbox.value, "envsb");
    EXPECT_EQ(t.sandbox_id.value, "envid");
    EXPECT_EQ(t.resource.value, "envres");
    EXPECT_EQ(t.prefix.value, "env-");
    EXPECT_EQ(t.parent.setting.value, "envparent");
    EXPECT_EQ(t.name.value, derive_branch_name({"envsb", "envid", "envres"}, "env-"));

    IdentityFlags f;
    f.sandbox = "flagsb";
    f.sandbox_id = "flagid";
    f.resource = "flagres";
    f.prefix = "flag-";
    f.parent = "flagparent";
    t = resolve_branch_target(f, env, true);
    EXPECT_EQ(t.sandbox.value, "flagsb");
    EXPECT_EQ(t.sandbox.origin, "flag --sandbox");
    EXPECT_EQ(t.sandbox_id.value, "flagid");
    EXPECT_EQ(t.resource.value, "flagres");
    EXPECT_EQ(t.prefix.value, "flag-");
    EXPECT_EQ(t.parent.setting.value, "flagparent");
    EXPECT_EQ(t.name.value, derive_branch_name({"flagsb", "flagid", "flagres"}, "flag-"));

    f.branch = "Explicit_Name.1";
    t = resolve_branch_target(f, env, true);
    EXPECT_EQ(t.name.value, "Explicit_Name.1");
    EXPECT_EQ(t.name.origin, "flag --branch");
}

TEST_F(ConfigTest, SandboxIdFallsBackToRoutingKey) {
    MapEnvironment env(std::map<std::string, std::string>{{"SIGNADOT_SANDBOX_NAME", "s"},
                                                          {"SIGNADOT_SANDBOX_ROUTING_KEY", "rk1"}});
    EXPECT_EQ(resolve_branch_target(IdentityFlags{}, env, true).sandbox_id.value, "rk1");
    env.set("SIGNADOT_SANDBOX_ID", "id1");
    EXPECT_EQ(resolve_branch_target(IdentityFlags{}, env, true).sandbox_id.value, "id1");
}

TEST_F(ConfigTest, ParentFromEnvIdBeatsNameAndLegacySpellings) {
    const std::string id = "e80atan1sl5khdkr8pkc33fovk";
    MapEnvironment env(std::map<std::string, std::string>{{"SIGNADOT_SANDBOX_NAME", "s"},
                                                          {"XATA_BRANCHNAME", "legacyname"}});
    auto t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.parent.setting.value, "legacyname");
    EXPECT_FALSE(t.parent.is_id);

    env.set("XATA_BRANCH_NAME", "newname");
    t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.parent.setting.value, "newname");

    env.set("XATA_BRANCHID", "v0000000000000000000000000");
    t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.parent.setting.value, "v0000000000000000000000000");
    EXPECT_TRUE(t.parent.is_id);

    env.set("XATA_BRANCH_ID", id);
    t = resolve_branch_target(IdentityFlags{}, env, true);
    EXPECT_EQ(t.parent.setting.value, id);
    EXPECT_EQ(t.parent.setting.origin, "env XATA_BRANCH_ID");
    EXPECT_TRUE(t.parent.is_id);

    IdentityFlags f;
    f.parent = "staging";
    t = resolve_branch_target(f, env, true);
    EXPECT_EQ(t.parent.setting.value, "staging");
    EXPECT_FALSE(t.parent.is_id);
    f.parent = id;
    t = resolve_branch_target(f, env, true);
    EXPECT_TRUE(t.parent.is_id);
}

TEST_F(ConfigTest, BranchTargetErrors) {
    MapEnvironment empty;
    EXPECT_EQ(target_error(IdentityFlags{}, empty, true).kind(), ErrorKind::Usage);
    // Without require_name, nothing to derive is fine.
    EXPECT_TRUE(resolve_branch_target(IdentityFlags{}, empty, false).name.empty());

    IdentityFlags bad_prefix;
    bad_prefix.sandbox = "s";
    bad_prefix.prefix = "Bad_";
    EXPECT_EQ(target_error(bad_prefix, empty, true).kind(), ErrorKind::Usage);

    MapEnvironment env_bad_prefix(std::map<std::string, std::string>{
        {"XBRANCH_PREFIX", "9x"}, {"SIGNADOT_SANDBOX_NAME", "s"}});
    auto e = target_error(IdentityFlags{}, env_bad_prefix, true);
    EXPECT_NE(std::string(e.what()).find("XBRANCH_PREFIX"), std::string::npos) << e.what();

    IdentityFlags bad_branch;
    bad_branch.branch = "-nope";
    EXPECT_EQ(target_error(bad_branch, empty, true).kind(), ErrorKind::Usage);

    IdentityFlags bad_id;
    bad_id.branch_id = "not-an-id";
    EXPECT_EQ(target_error(bad_id, empty, false).kind(), ErrorKind::Usage);

    IdentityFlags good_id;
    good_id.branch_id = "e80atan1sl5khdkr8pkc33fovk";
    EXPECT_EQ(resolve_branch_target(good_id, empty, false).branch_id.value,
              "e80atan1sl5khdkr8pkc33fovk");

    IdentityFlags junk;
    junk.sandbox = "___";
    EXPECT_EQ(target_error(junk, empty, true).kind(), ErrorKind::Usage);
}

TEST(LooksLikeBranchId, Table) {
    EXPECT_TRUE(looks_like_branch_id("e80atan1sl5khdkr8pkc33fovk"));
    EXPECT_TRUE(looks_like_branch_id("a0000000000000000000000000"));
    EXPECT_TRUE(looks_like_branch_id("vvvvvvvvvvvvvvvvvvvvvvvvvv"));
    EXPECT_FALSE(looks_like_branch_id("main"));
    EXPECT_FALSE(looks_like_branch_id(""));
    EXPECT_FALSE(looks_like_branch_id("0e80atan1sl5khdkr8pkc33fov"));   // starts with a digit
    EXPECT_FALSE(looks_like_branch_id("e80atan1sl5khdkr8pkc33fov"));    // 25
    EXPECT_FALSE(looks_like_branch_id("e80atan1sl5khdkr8pkc33fovkk"));  // 27
    EXPECT_FALSE(looks_like_branch_id("E80ATAN1SL5KHDKR8PKC33FOVK"));   // upper case
    EXPECT_FALSE(looks_like_branch_id("w80atan1sl5khdkr8pkc33fovk"));   // w is not base32hex
    EXPECT_FALSE(looks_like_branch_id("e80atan1sl5khdkr8pkc33fovz"));
    EXPECT_FALSE(looks_like_branch_id("e80atan1sl5khdkr-pkc33fovk"));
}

TEST(ParseDuration, Table) {
    struct Case {
        const char* in;
        std::optional<long long> ms;
    };
    const Case cases[] = {
        {"10m", 600000},
        {"90s", 90000},
        {"1500ms", 1500},
        {"1h", 3600000},
        {"45", 45000},
        {"2m", 120000},
        {"0", 0},
        {"1.5s", 1500},
        {"0.25", 250},
        {"1d", 86400000},
        {"", std::nullopt},
        {"abc", std::nullopt},
        {"10x", std::nullopt},
        {"-5s", std::nullopt},
        {"s", std::nullopt},
        {"ms", std::nullopt},
        {"1.2.3s", std::nullopt},
        {"10 m", std::nullopt},
        {"10M", std::nullopt},
        {"5m30s", std::nullopt},
    };
    for (const auto& c : cases) {
        const auto got = parse_duration(c.in);
        if (c.ms) {
            ASSERT_TRUE(got.has_value()) << c.in;
            EXPECT_EQ(got->count(), *c.ms) << c.in;
        } else {
            EXPECT_FALSE(got.has_value()) << c.in << " gave " << got->count();
        }
    }
}

TEST_F(ConfigTest, DescribeSettingsMasksSecrets) {
    const auto c = resolve_api_config(GlobalFlags{}, base_env());
    clear_secrets();  // the mask must come from Setting::secret, not the registry
    const auto lines = describe_settings(
        {{"api key", c.api_key}, {"organization", c.organization}, {"cacert", c.cacert}});
    ASSERT_EQ(lines.size(), 3U);
    for (const auto& l : lines) {
        EXPECT_EQ(l.find(k_key), std::string::npos) << l;
        EXPECT_EQ(l.find("abcdefghijklmnop"), std::string::npos) << l;
    }
    EXPECT_EQ(lines[0], "api key = ******** (env XATA_API_KEY)");
    EXPECT_EQ(lines[1], "organization = envorg (env XATA_ORGANIZATION_ID)");
    EXPECT_EQ(lines[2], "cacert = (unset) (unset)");
}
