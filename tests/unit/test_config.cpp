#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "settings.hpp"
#include "xbranch/config.hpp"
#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/signadot_client.hpp"

using namespace xbranch;
using namespace xbranch::cli;
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
    void SetUp() override {
        clear_secrets();
        forget_resolved_settings();
    }
    void TearDown() override {
        clear_secrets();
        forget_resolved_settings();
    }
};

TEST_F(ConfigTest, ResolvePrecedenceFlagEnvDefault) {
    MapEnvironment env(std::map<std::string, std::string>{
        {"XATA_ORGANIZATIONID", "legacy"}, {"XATA_ORG_ID", "alias"}, {"XBRANCH_PREFIX", ""}});
    EXPECT_EQ(resolve(SettingId::Organization, env, std::string("flag")).value, "flag");
    EXPECT_EQ(resolve(SettingId::Organization, env, std::string("flag")).origin, "flag --org");
    const auto legacy = resolve(SettingId::Organization, env);
    EXPECT_EQ(legacy.value, "legacy");
    EXPECT_EQ(legacy.origin, "env XATA_ORGANIZATIONID");
    // An empty flag or variable counts as unset.
    EXPECT_EQ(resolve(SettingId::Organization, env, std::string("")).value, "legacy");
    const auto d = resolve(SettingId::Prefix, env);
    EXPECT_EQ(d.value, "sb-");
    EXPECT_EQ(d.origin, "default");
    EXPECT_TRUE(resolve(SettingId::Sandbox, env).empty());
    EXPECT_EQ(resolve(SettingId::Sandbox, env).origin, "unset");
}

TEST_F(ConfigTest, OrgIdAliasComesAfterTheOfficialNames) {
    MapEnvironment env(std::map<std::string, std::string>{
        {"XATA_API_KEY", k_key}, {"XATA_ORG_ID", "tutorial-org"}, {"XATA_PROJECT_ID", "prj"}});
    auto c = resolve_api_config(GlobalFlags{}, env);
    EXPECT_EQ(c.organization.value, "tutorial-org");
    EXPECT_EQ(c.organization.origin, "env XATA_ORG_ID");
    env.set("XATA_ORGANIZATIONID", "legacy");
    EXPECT_EQ(resolve_api_config(GlobalFlags{}, env).organization.value, "legacy");
    env.set("XATA_ORGANIZATION_ID", "official");
    EXPECT_EQ(resolve_api_config(GlobalFlags{}, env).organization.value, "official");
}

TEST_F(ConfigTest, EveryRowHasANameAndEnvOrFlag) {
    std::set<std::string_view> names;
    for (const auto& row : setting_rows()) {
        EXPECT_FALSE(row.name.empty());
        EXPECT_TRUE(!row.env.empty() || !row.flag.empty()) << row.name;
        EXPECT_TRUE(names.insert(row.name).second) << row.name;
    }
    for (const char* env : {"XATA_API_KEY",
                            "XATA_API_BASE_URL",
                            "XATA_ORGANIZATION_ID",
                            "XATA_ORGANIZATIONID",
                            "XATA_ORG_ID",
                            "XATA_PROJECT_ID",
                            "XATA_PROJECTID",
                            "XATA_BRANCH_ID",
                            "XATA_BRANCHID",
                            "XATA_BRANCH_NAME",
                            "XATA_BRANCHNAME",
                            "XBRANCH_PREFIX",
                            "XBRANCH_SSLMODE",
                            "XBRANCH_LOG_FORMAT",
                            "NO_COLOR",
                            "TERM",
                            "CURL_CA_BUNDLE",
                            "SSL_CERT_FILE",
                            "SIGNADOT_SANDBOX_NAME",
                            "SIGNADOT_SANDBOX_ID",
                            "SIGNADOT_SANDBOX_ROUTING_KEY",
                            "SIGNADOT_RESOURCE_NAME",
                            "SIGNADOT_API_KEY"}) {
        bool found = false;
        for (const auto& row : setting_rows()) {
            for (auto e : row.env) {
                found = found || e == env;
            }
        }
        EXPECT_TRUE(found) << env << " is not in the settings table";
    }
}

TEST_F(ConfigTest, ApiKeyWhitespaceIsTrimmedControlCharsRefused) {
    auto env = base_env();
    env.set("XATA_API_KEY", std::string("  ") + k_key + "\n");
    EXPECT_EQ(resolve_api_config(GlobalFlags{}, env).api_key.value, k_key);
    for (const std::string& bad :
         {std::string("xau_abcdef\r\nX-Injected: 1"), std::string("xau_abc\x01") + "def",
          std::string("xau_abc\x7f"), std::string("xau_a\tb")}) {
        env.set("XATA_API_KEY", bad);
        const auto e = api_error(GlobalFlags{}, env);
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        const std::string all = std::string(e.what()) + e.hint();
        EXPECT_NE(all.find("XATA_API_KEY"), std::string::npos) << all;
        EXPECT_EQ(all.find("xau_a"), std::string::npos) << all;
    }
}

TEST_F(ConfigTest, SignadotKeyUsesTheSameCheck) {
    MapEnvironment env(std::map<std::string, std::string>{{"SIGNADOT_API_KEY", "sig-key\n"}});
    const auto s = resolve(SettingId::SignadotApiKey, env);
    EXPECT_EQ(s.value, "sig-key");
    EXPECT_TRUE(s.secret);
    env.set("SIGNADOT_API_KEY", "sig\r\nkey");
    try {
        (void)resolve(SettingId::SignadotApiKey, env);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("SIGNADOT_API_KEY"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("sig"), std::string::npos);
    }
    EXPECT_EQ(validate_secret_env("X", " \tv \r\n"), "v");
}

// A pasted "Bearer xau_...", a space or a non-ASCII byte inside: exit 2 naming
// the variable, never the value (it used to reach the header and come back 401).
TEST_F(ConfigTest, KeysWithSpacesNonAsciiOrBearerAreUsage) {
    for (const char* bad : {"Bearer xau_secretvalue", "xau_secret value", "xau_secret\xc3\xa9"}) {
        try {
            (void)validate_secret_env("XATA_API_KEY", bad);
            ADD_FAILURE() << "no error for " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Usage);
            EXPECT_NE(std::string(e.what()).find("XATA_API_KEY"), std::string::npos);
            EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
            EXPECT_EQ(e.hint().find("secret"), std::string::npos) << e.hint();
        }
    }
    EXPECT_EQ(validate_secret_env("XATA_API_KEY", "xau_Abc123_x"), "xau_Abc123_x");
}

TEST_F(ConfigTest, MalformedBaseUrlsAreUsage) {
    for (const char* bad :
         {"https://api.xata.tech ", "https://api.xata.tech\n", " https://api.xata.tech",
          "https://api.xata.tech:65536", "https://api.xata.tech:0", "https://api.xata.tech:x",
          "https://", "https://:443/", "ftp://api.xata.tech", "api.xata.tech",
          "https://user:pw@api.xata.tech", "https://[::1", "https://api.xata.tech:80:90",
          "https://api.xata.tech:", "https://[::1]x", "https://[zz::1]/"}) {
        GlobalFlags f;
        f.base_url = bad;
        const auto e = api_error(f, base_env());
        EXPECT_EQ(e.kind(), ErrorKind::Usage) << bad;
    }
    for (const char* good :
         {"https://api.xata.tech", "https://api.xata.tech:8443/", "http://127.0.0.1:9999",
          "http://localhost:1/x", "http://[::1]:80", "https://[2001:db8::1]:443"}) {
        GlobalFlags f;
        f.base_url = good;
        EXPECT_EQ(resolve_api_config(f, base_env()).base_url.value, good);
    }
}

TEST_F(ConfigTest, PlainHttpToARemoteHostNeedsTheFlag) {
    GlobalFlags f;
    f.base_url = "http://api.example.com";
    const auto e = api_error(f, base_env());
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.hint().find("--allow-insecure-http"), std::string::npos);
    f.allow_insecure_http = true;
    EXPECT_EQ(resolve_api_config(f, base_env()).base_url.value, "http://api.example.com");
    std::string problem;
    EXPECT_TRUE(check_base_url("http://127.8.9.10", problem)->loopback);
    EXPECT_FALSE(check_base_url("http://127.0.0.1.example.com", problem)->loopback);
    EXPECT_FALSE(check_base_url("http://10.0.0.1", problem)->loopback);
    EXPECT_TRUE(check_base_url("http://[::1]:8080/x", problem)->loopback);
    const auto v6 = check_base_url("https://[2001:db8::1]:8443/v1", problem);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "2001:db8::1");
    EXPECT_EQ(v6->port, 8443);
    EXPECT_TRUE(v6->https);
    EXPECT_EQ(check_base_url("https://api.xata.tech/", problem)->port, 0);
    EXPECT_FALSE(check_base_url("https://api.xata.tech:0", problem));
    EXPECT_NE(problem.find("1 to 65535"), std::string::npos) << problem;
    EXPECT_FALSE(check_base_url("https://", problem));
    EXPECT_NE(problem.find("no host"), std::string::npos) << problem;
}

TEST_F(ConfigTest, SslmodeIsValidated) {
    MapEnvironment env;
    EXPECT_EQ(resolve(SettingId::SslMode, env).value, "require");
    for (const char* ok :
         {"disable", "allow", "prefer", "require", "verify-ca", "verify-full", "none"}) {
        EXPECT_EQ(resolve(SettingId::SslMode, env, std::string(ok)).value, ok);
    }
    try {
        (void)resolve(SettingId::SslMode, env, std::string("requre"));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("--sslmode"), std::string::npos);
    }
    env.set("XBRANCH_SSLMODE", "Require");
    try {
        (void)resolve(SettingId::SslMode, env);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("XBRANCH_SSLMODE"), std::string::npos);
    }
}

TEST_F(ConfigTest, EarlyLogFormatReadsArgvThenEnv) {
    MapEnvironment env;
    const char* a1[] = {"xbranch", "--log-format", "json", "create", "--bogus"};
    EXPECT_TRUE(early_json_logs(5, a1, env));
    const char* a2[] = {"xbranch", "create", "--log-format=json"};
    EXPECT_TRUE(early_json_logs(3, a2, env));
    const char* a3[] = {"xbranch", "create"};
    EXPECT_FALSE(early_json_logs(2, a3, env));
    env.set("XBRANCH_LOG_FORMAT", "json");
    EXPECT_TRUE(early_json_logs(2, a3, env));
    const char* a4[] = {"xbranch", "--log-format", "text"};
    EXPECT_FALSE(early_json_logs(3, a4, env));
}

TEST_F(ConfigTest, AnEmptyTimeoutFlagIsAnErrorNotTheDefault) {
    MapEnvironment env = base_env();
    GlobalFlags request;
    request.request_timeout = "";
    const Error r = api_error(request, env);
    EXPECT_EQ(r.kind(), ErrorKind::Usage);
    EXPECT_EQ(std::string(r.what()), "--request-timeout is empty: give a duration from 1ms to 1d");
    EXPECT_NE(r.hint().find("leave the flag out (default 30s)"), std::string::npos) << r.hint();
    GlobalFlags connect;
    connect.connect_timeout = "";
    const Error c = api_error(connect, env);
    EXPECT_EQ(std::string(c.what()), "--connect-timeout is empty: give a duration from 1ms to 1d");
    EXPECT_NE(c.hint().find("(default 10s)"), std::string::npos) << c.hint();
    GlobalFlags unset;  // no flag at all: the defaults
    EXPECT_EQ(resolve_api_config(unset, env).request_timeout, milliseconds(30000));
    EXPECT_EQ(resolve_api_config(unset, env).connect_timeout, milliseconds(10000));
}

TEST(DurationCheck, TimeoutsBelowOneMillisecondAreRefused) {
    auto check = [](const char* text) {
        return checked_duration("--request-timeout", text, milliseconds(1), std::chrono::hours(24));
    };
    for (const char* bad : {"0", "0.0004", "0ms", "0.4ms", "25h", "soon", "-1", "23h61m"}) {
        EXPECT_THROW((void)check(bad), Error) << bad;
    }
    for (const char* ok : {"1ms", "0.001", "90s", "10m", "1h", "24h", "1500ms", "5", "23h59m"}) {
        EXPECT_NO_THROW((void)check(ok)) << ok;
    }
}

TEST(DurationCheck, EveryDurationErrorNamesTheFlagTheQuotedValueTheRangeAndAnExample) {
    struct Case {
        const char* what;
        const char* text;
        milliseconds min;
        milliseconds max;
        const char* message;
    };
    const Case cases[] = {
        {"--timeout", "2d", milliseconds(1), std::chrono::hours(24),
         "invalid --timeout '2d': use a duration from 1ms to 1d"},
        {"--timeout", "soon", milliseconds(1), std::chrono::hours(24),
         "invalid --timeout 'soon': not a duration (from 1ms to 1d)"},
        {"--ttl", "0s", std::chrono::seconds(1), std::chrono::hours(24 * 3650),
         "invalid --ttl '0s': use a duration from 1s to 3650d"},
        {"--connect-timeout", "25h", milliseconds(1), std::chrono::hours(24),
         "invalid --connect-timeout '25h': use a duration from 1ms to 1d"},
        {"--older-than", "7days\x1b", milliseconds(0), std::chrono::hours(24 * 3650),
         "invalid --older-than '7days\\x1b': not a duration (from 0s to 3650d)"},
    };
    for (const auto& c : cases) {
        try {
            (void)checked_duration(c.what, c.text, c.min, c.max);
            ADD_FAILURE() << c.text << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Usage);
            EXPECT_EQ(std::string(e.what()), c.message);
            EXPECT_EQ(e.hint().rfind(std::string("e.g. ") + c.what + " 1h30m;", 0), 0u) << e.hint();
        }
    }
}

TEST(DurationCheck, EveryDurationFlagHasAMaximumThatItsErrorNames) {
    const std::pair<const char*, const char*> expected[] = {
        {"--timeout", "1ms to 1d"},
        {"--request-timeout", "1ms to 1d"},
        {"--connect-timeout", "1ms to 1d"},
        {"--ttl", "1s to 3650d"},
        {"--older-than", "0s to 3650d"},
        {"--grace", "0s to 30d"},
        {"--empty-sandbox-list-older-than", "0s to 3650d"}};
    EXPECT_EQ(duration_ranges().size(), std::size(expected));
    for (const auto& [flag, range] : expected) {
        EXPECT_EQ(duration_range_text(flag), range) << flag;
        // The largest value parse_duration reads (~11,574 days) is refused.
        try {
            (void)flag_duration(flag, "11574d");
            ADD_FAILURE() << flag << " took 11574d";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Usage);
            EXPECT_EQ(std::string(e.what()),
                      std::string("invalid ") + flag + " '11574d': use a duration from " + range);
        }
        const DurationRange& r = duration_range(flag);
        EXPECT_EQ(flag_duration(flag, format_duration(r.max)), r.max) << flag;
        EXPECT_LE(r.max, std::chrono::hours(24 * 3650)) << flag;
    }
    EXPECT_THROW((void)duration_range("--nonsense"), Error);
}

TEST(FormatDuration, ShortestExactSpellingThatParsesBack) {
    for (const auto& [ms, text] : {std::pair<long long, const char*>{1, "1ms"},
                                   {90'000, "1m30s"},
                                   {5'400'000, "1h30m"},
                                   {86'400'000, "1d"},
                                   {0, "0s"},
                                   {1500, "1s500ms"}}) {
        EXPECT_EQ(format_duration(milliseconds(ms)), text);
        EXPECT_EQ(parse_duration(text), milliseconds(ms)) << text;
    }
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
    f.connect_timeout = "2.5";
    f.request_timeout = "300ms";
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
    t.connect_timeout = "0";
    EXPECT_EQ(api_error(t, base_env()).kind(), ErrorKind::Usage);
    GlobalFlags t2;
    t2.request_timeout = "0.0004";  // would reach libcurl as 0: no timeout at all
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
        {"5m30s", 330000},
        {"1h30m", 5400000},
        {"2m30s", 150000},
        {"1m0.5s", 60500},
        {"1d12h", 129600000},
        {"1h30", std::nullopt},
        {"30 s", std::nullopt},
        {"1h-30m", std::nullopt},
        {"h30m", std::nullopt},
        {"1hh", std::nullopt},
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

TEST_F(ConfigTest, DescribeSettingsShowsEveryRowWithSecretsMasked) {
    auto env = base_env();
    env.set("SIGNADOT_API_KEY", "signadot-secret-key");
    env.set("XBRANCH_SSLMODE", "disable");
    env.set("NO_COLOR", "1");
    (void)resolve_api_config(GlobalFlags{}, env);
    clear_secrets();  // the mask must come from the row, not the registry
    const auto lines = describe_settings(env);
    EXPECT_EQ(lines.size(), setting_rows().size());
    std::string all;
    for (const auto& l : lines) {
        EXPECT_EQ(l.find(k_key), std::string::npos) << l;
        EXPECT_EQ(l.find("signadot-secret-key"), std::string::npos) << l;
        all += l + "\n";
    }
    EXPECT_NE(all.find("api key = ******** (env XATA_API_KEY)\n"), std::string::npos) << all;
    EXPECT_NE(all.find("organization = envorg (env XATA_ORGANIZATION_ID)\n"), std::string::npos);
    EXPECT_NE(all.find("ca file = (unset) (unset)\n"), std::string::npos);
    EXPECT_NE(all.find("sslmode = disable (env XBRANCH_SSLMODE)\n"), std::string::npos) << all;
    EXPECT_NE(all.find("no color = 1 (env NO_COLOR)\n"), std::string::npos) << all;
    EXPECT_NE(all.find("log format = text (default)\n"), std::string::npos) << all;
    EXPECT_NE(all.find("signadot api key = ******** (env SIGNADOT_API_KEY)\n"), std::string::npos);
}

namespace {

bool has_raw_control(const std::string& text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

}  // namespace

TEST_F(ConfigTest, DescribeSettingsEscapesValuesAndMasksUrlPasswords) {
    auto env = base_env();
    env.set("XATA_BRANCH_NAME", "a\x1b[31mb\nc");
    env.set("SIGNADOT_API_URL", "http://user:hunter2@127.0.0.1:1/");
    std::string all;
    for (const auto& l : describe_settings(env)) {
        EXPECT_FALSE(has_raw_control(l)) << l;
        all += l + "\n";
    }
    EXPECT_NE(all.find("parent = a\\x1b[31mb\\nc (env XATA_BRANCH_NAME)\n"), std::string::npos)
        << all;
    EXPECT_EQ(all.find("hunter2"), std::string::npos) << all;
    EXPECT_NE(all.find("signadot api url = http://" + std::string(k_mask) + "@127.0.0.1:1/"),
              std::string::npos)
        << all;
}

TEST(EscapeInput, EscapesLikeQuoteInputWithoutQuotesOrCut) {
    EXPECT_EQ(escape_input("a\x1b\n'b\\"), "a\\x1b\\n'b\\\\");
    EXPECT_EQ(escape_input(std::string(100, 'x')), std::string(100, 'x'));
}

TEST(QuoteInput, EscapesControlAndNonAsciiBytesAndCapsTheLength) {
    EXPECT_EQ(quote_input("sb-"), "'sb-'");
    EXPECT_EQ(quote_input(""), "''");
    EXPECT_EQ(quote_input("\x1b[31mred\n"), "'\\x1b[31mred\\n'");
    EXPECT_EQ(quote_input("a\tb\rc\x7f"), "'a\\tb\\rc\\x7f'");
    EXPECT_EQ(quote_input("it's \\"), "'it\\'s \\\\'");
    EXPECT_EQ(quote_input("\xc3\xa9"), "'\\xc3\\xa9'");
    const std::string quoted = quote_input(std::string(1000, 'x'));
    EXPECT_EQ(quoted, "'" + std::string(64, 'x') + "'...");
}

TEST_F(ConfigTest, RejectedEnvValuesAreQuotedWithoutRawControlCharacters) {
    const std::string evil = "ab\x1b]0;owned\x07\ncd";
    struct Case {
        const char* env;
        SettingId id;
    };
    const Case cases[] = {
        {"XBRANCH_PREFIX", SettingId::Prefix},
        {"XBRANCH_SSLMODE", SettingId::SslMode},
        {"XBRANCH_LOG_FORMAT", SettingId::LogFormat},
        {"XATA_DATABASE_NAME", SettingId::Database},
        {"XATA_ORGANIZATION_ID", SettingId::Organization},
        {"XATA_PROJECT_ID", SettingId::Project},
        {"XATA_BRANCH_ID", SettingId::ParentId},
    };
    for (const auto& c : cases) {
        MapEnvironment env(std::map<std::string, std::string>{{c.env, evil}});
        try {
            (void)resolve(c.id, env);
            ADD_FAILURE() << c.env << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Usage) << c.env;
            const std::string text = e.describe() + e.hint();
            EXPECT_FALSE(has_raw_control(text)) << c.env << ": " << text;
            EXPECT_NE(text.find("\\x1b]0;owned\\x07\\ncd"), std::string::npos) << text;
            EXPECT_NE(text.find(c.env), std::string::npos) << text;
        }
    }
    // The base URL, and the sandbox name and the prefix the core refuses.
    auto env = base_env();
    env.set("XATA_API_BASE_URL", "http://127.0.0.1:1/" + evil);
    const Error url = api_error(GlobalFlags{}, env);
    EXPECT_FALSE(has_raw_control(url.describe())) << url.describe();
    EXPECT_NE(url.describe().find("\\x1b"), std::string::npos) << url.describe();
    for (const auto& [sandbox, prefix] : {std::pair<std::string, std::string>{"\x1b\n", "sb-"},
                                          std::pair<std::string, std::string>{"ok", evil}}) {
        try {
            (void)derive_branch_name({sandbox, "", ""}, prefix);
            ADD_FAILURE() << "derived a name";
        } catch (const Error& e) {
            EXPECT_FALSE(has_raw_control(e.describe())) << e.describe();
            EXPECT_NE(e.describe().find("\\x1b"), std::string::npos) << e.describe();
        }
    }
    try {
        validate_signadot_target({"ftp://" + evil, "key", "org"});
        ADD_FAILURE() << "accepted the Signadot URL";
    } catch (const Error& e) {
        EXPECT_FALSE(has_raw_control(e.describe())) << e.describe();
    }
    try {
        validate_signadot_target({"https://api.signadot.com", "key", evil});
        ADD_FAILURE() << "accepted the Signadot org";
    } catch (const Error& e) {
        EXPECT_FALSE(has_raw_control(e.describe())) << e.describe();
    }
}

TEST_F(ConfigTest, RejectedSecretsAreNeverQuoted) {
    const std::string key = std::string(k_key) + "\x1b[2J";
    for (const char* name : {"XATA_API_KEY", "SIGNADOT_API_KEY"}) {
        MapEnvironment env(std::map<std::string, std::string>{{name, key}});
        try {
            (void)resolve(
                std::string(name) == "XATA_API_KEY" ? SettingId::ApiKey : SettingId::SignadotApiKey,
                env);
            ADD_FAILURE() << name << " was accepted";
        } catch (const Error& e) {
            const std::string text = e.describe() + e.hint();
            EXPECT_EQ(text.find(k_key), std::string::npos) << text;
            EXPECT_EQ(text.find("xau_"), std::string::npos) << text;
            EXPECT_FALSE(has_raw_control(text)) << text;
        }
    }
}

// An id is one path step of the API's URLs: "." or ".." would climb out of
// /organizations/ORG/projects/PROJECT (percent-encoding keeps dots as they
// are), and / \ ? # % would end or re-encode the segment.
TEST_F(ConfigTest, IdsThatAreNotOneSafePathSegmentAreUsage) {
    struct Case {
        const char* env;
        SettingId id;
    };
    const Case cases[] = {
        {"XATA_ORGANIZATION_ID", SettingId::Organization},
        {"XATA_ORG_ID", SettingId::Organization},
        {"XATA_PROJECT_ID", SettingId::Project},
        {"XATA_BRANCH_ID", SettingId::ParentId},
    };
    for (const auto& c : cases) {
        for (const std::string bad :
             {".", "..", " .. \n", "a/b", "..\\x", "prj?x", "p#1", "p%2e"}) {
            MapEnvironment env(std::map<std::string, std::string>{{c.env, bad}});
            try {
                (void)resolve(c.id, env);
                ADD_FAILURE() << c.env << "=" << bad << " was accepted";
            } catch (const Error& e) {
                EXPECT_EQ(e.kind(), ErrorKind::Usage) << c.env << "=" << bad;
                EXPECT_EQ(exit_code(e.kind()), 2);
                const std::string text = e.describe() + e.hint();
                EXPECT_NE(text.find(c.env), std::string::npos) << text;
                EXPECT_NE(text.find("path"), std::string::npos) << text;
            }
        }
        for (const std::string good : {"ux5pxp", "prj_abc-1", "a.b", "org:x~y", "...x"}) {
            MapEnvironment env(std::map<std::string, std::string>{{c.env, good}});
            EXPECT_EQ(resolve(c.id, env).value, good) << c.env;
        }
    }
    GlobalFlags flags;
    flags.project = "..";
    const Error e = api_error(flags, base_env());
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.describe().find("--project"), std::string::npos) << e.describe();

    std::string problem;
    EXPECT_FALSE(check_path_segment("..", problem));
    EXPECT_FALSE(problem.empty());
    EXPECT_FALSE(check_path_segment("", problem));
    EXPECT_TRUE(check_path_segment("prj_1", problem));
}

// A Kubernetes Secret made with --from-file holds the file's trailing
// newline: ids are trimmed like the keys, not refused.
TEST_F(ConfigTest, IdsAreTrimmedLikeKeys) {
    MapEnvironment env(
        std::map<std::string, std::string>{{"XATA_API_KEY", std::string(k_key) + "\n"},
                                           {"XATA_ORG_ID", "ux5pxp\n"},
                                           {"XATA_PROJECT_ID", " prj_abc\r\n"},
                                           {"XATA_BRANCH_ID", "\tbr_x \n"}});
    const ApiSettings c = resolve_api_config(GlobalFlags{}, env);
    EXPECT_EQ(c.api_key.value, k_key);
    EXPECT_EQ(c.organization.value, "ux5pxp");
    EXPECT_EQ(c.project.value, "prj_abc");
    EXPECT_EQ(resolve(SettingId::ParentId, env).value, "br_x");
    GlobalFlags flags;
    flags.organization = "ux5pxp\n";
    EXPECT_EQ(resolve_api_config(flags, env).organization.value, "ux5pxp");
    EXPECT_EQ(trim_space(" \t a b \r\n\v\f"), "a b");
    // Only the ends: a line break inside is still refused.
    env.set("XATA_PROJECT_ID", "prj\nabc\n");
    EXPECT_EQ(api_error(GlobalFlags{}, env).kind(), ErrorKind::Usage);
    // Only whitespace is as good as unset.
    env.set("XATA_PROJECT_ID", " \n");
    const Error unset = api_error(GlobalFlags{}, env);
    EXPECT_NE(std::string(unset.what()).find("no project"), std::string::npos) << unset.what();
}
