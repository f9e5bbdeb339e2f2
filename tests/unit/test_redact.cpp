#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "xbranch/error.hpp"
#include "xbranch/log.hpp"
#include "xbranch/redact.hpp"

using namespace xbranch;

class RedactTest : public ::testing::Test {
  protected:
    void SetUp() override { clear_secrets(); }
    void TearDown() override { clear_secrets(); }
};

TEST_F(RedactTest, RegisteredSecrets) {
    register_secret("hunter2-secret");
    EXPECT_EQ(redact("pw is hunter2-secret, again hunter2-secret."),
              "pw is ********, again ********.");
    // Too short to mask safely: ignored.
    register_secret("abc");
    EXPECT_EQ(redact("abc def"), "abc def");
    // A secret containing another is masked whole.
    register_secret("hunter2-secret-longer");
    EXPECT_EQ(redact("x hunter2-secret-longer y"), "x ******** y");
    clear_secrets();
    EXPECT_EQ(redact("hunter2-secret"), "hunter2-secret");
}

TEST_F(RedactTest, XataKeys) {
    EXPECT_EQ(redact("Authorization: Bearer xau_abcDEF123456789"),
              "Authorization: Bearer ********");
    EXPECT_EQ(redact("key=xao_ZZZZZZZZ_zz-9 end"), "key=******** end");
    EXPECT_EQ(redact("two: xau_aaaaaaaaaa,xao_bbbbbbbbbb"), "two: ********,********");
    // Not a key: too short, or inside a longer word.
    EXPECT_EQ(redact("xau_ab"), "xau_ab");
    EXPECT_EQ(redact("myxau_abcdefghijkl"), "myxau_abcdefghijkl");
}

TEST_F(RedactTest, UrlPasswords) {
    EXPECT_EQ(redact("postgresql://xata:s3cret@host:5432/db?sslmode=require"),
              "postgresql://xata:********@host:5432/db?sslmode=require");
    EXPECT_EQ(redact("connect to postgres://u:p%40ss@h/db failed"),
              "connect to postgres://u:********@h/db failed");
    EXPECT_EQ(redact("a postgresql://u:p1@h/d and b postgresql://v:p2@i/e"),
              "a postgresql://u:********@h/d and b postgresql://v:********@i/e");
    // No password: unchanged.
    EXPECT_EQ(redact("postgresql://user@host/db"), "postgresql://user@host/db");
    EXPECT_EQ(redact("https://api.xata.tech:443/organizations/o"),
              "https://api.xata.tech:443/organizations/o");
    EXPECT_EQ(mask_url_password("postgresql://u:x@h:1/d"), "postgresql://u:********@h:1/d");
}

TEST_F(RedactTest, JsonPasswords) {
    EXPECT_EQ(redact(R"({"username":"xata","password":"abc\"def"})"),
              R"({"username":"xata","password":"********"})");
    EXPECT_EQ(redact(R"({"Password" : "x"})"), R"({"Password" : "********"})");
    EXPECT_EQ(redact(R"({"passwordPolicy":"strong"})"), R"({"passwordPolicy":"strong"})");
}

TEST_F(RedactTest, LeavesOrdinaryTextAlone) {
    for (const char* s :
         {"create branch sb-foo-1a2b3c4d: HTTP 409 (request id abc): branch [x] already exists",
          "GET https://api.xata.tech/organizations/o/projects/prj_x/branches",
          "the password is masked", "time 10:20:30", "a@b.c", ""}) {
        EXPECT_EQ(redact(s), s);
    }
}

TEST_F(RedactTest, ErrorDescribeRedacts) {
    register_secret("topsecretvalue");
    Error e(ErrorKind::Unavailable,
            "could not reach postgresql://u:pw@h/d with topsecretvalue and xau_ABCDEFGHIJK");
    e.with_operation("create branch sb-x").with_http(503, "req-1");
    const std::string d = e.describe();
    EXPECT_EQ(d,
              "create branch sb-x: HTTP 503 (request id req-1): could not reach "
              "postgresql://u:********@h/d with "
              "******** and ********");
}

TEST(ErrorTest, ExitCodesAndDescribe) {
    EXPECT_EQ(exit_code(ErrorKind::Internal), 1);
    EXPECT_EQ(exit_code(ErrorKind::Usage), 2);
    EXPECT_EQ(exit_code(ErrorKind::Auth), 3);
    EXPECT_EQ(exit_code(ErrorKind::NotFound), 4);
    EXPECT_EQ(exit_code(ErrorKind::Conflict), 5);
    EXPECT_EQ(exit_code(ErrorKind::Timeout), 6);
    EXPECT_EQ(exit_code(ErrorKind::Fault), 7);
    EXPECT_EQ(exit_code(ErrorKind::Unavailable), 8);
    EXPECT_EQ(exit_code(ErrorKind::Io), 9);
    EXPECT_EQ(exit_code(ErrorKind::Protocol), 10);
    EXPECT_EQ(exit_code(ErrorKind::Interrupted, 2), 130);
    EXPECT_EQ(exit_code(ErrorKind::Interrupted, 15), 143);
    EXPECT_EQ(Error(ErrorKind::Usage, "plain").describe(), "plain");
    Error h(ErrorKind::Io, "x");
    h.with_hint("one").add_hint("two");
    EXPECT_EQ(h.hint(), "one. two");
}

TEST(ErrorTest, HintsAreJoinedCleanly) {
    Error a(ErrorKind::Io, "x");
    a.with_hint("fix the folder.").add_hint("the branch was deleted");
    EXPECT_EQ(a.hint(), "fix the folder. the branch was deleted");
    Error b(ErrorKind::Io, "x");
    b.with_hint("one. ").add_hint(". two.");
    EXPECT_EQ(b.hint(), "one. two.");
    Error c(ErrorKind::Io, "x");
    c.add_hint("only");
    EXPECT_EQ(c.hint(), "only");
    c.add_hint(" . ");
    EXPECT_EQ(c.hint(), "only");
    for (const auto* h : {a.hint().c_str(), b.hint().c_str()}) {
        EXPECT_EQ(std::string(h).find(". ."), std::string::npos) << h;
        EXPECT_EQ(std::string(h).find(".."), std::string::npos) << h;
    }
}

TEST_F(RedactTest, JsonPasswordEdgeCases) {
    // A key that is not followed by a string value stays as it is.
    EXPECT_EQ(redact(R"({"password": 5})"), R"({"password": 5})");
    EXPECT_EQ(redact(R"({"password":"unterminated)"), R"({"password":"unterminated)");
    // Two in one line, spaces around the colon, an escaped backslash at the end.
    EXPECT_EQ(redact(R"({"password" :  "a\\", "x":1, "PASSWORD":"b"})"),
              R"({"password" :  "********", "x":1, "PASSWORD":"********"})");
    // A key right after another key's closing quote.
    EXPECT_EQ(redact(R"("password""password":"z")"), R"("password""password":"********")");
}

TEST_F(RedactTest, LongInputsStayLinear) {
    // Inputs shaped to hit each pass hard: many "://", many "password" keys,
    // many key markers. Quadratic passes would take minutes at this size.
    const std::size_t n = 200000;
    std::string urls;
    std::string keys;
    std::string markers;
    for (std::size_t i = 0; i < n; ++i) {
        urls += "a:b://";
        keys += R"("password": 1,)";
        markers += "xau_ ";
    }
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(redact(urls) == urls);
    EXPECT_TRUE(redact(keys) == keys);
    EXPECT_TRUE(redact(markers) == markers);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(JsonLine, InvalidUtf8StillGivesValidJson) {
    const std::string bad = std::string("name \xff\xfe end \"q\" \n") + '\x01';
    const std::string line = json_line({{"msg", bad}});
    const auto parsed = nlohmann::json::parse(line);  // throws on invalid JSON
    EXPECT_EQ(parsed["msg"], "name \xEF\xBF\xBD\xEF\xBF\xBD end \"q\" \n\x01");
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

// Found by a hostile pass: a hook printing the password 8000 times without a
// newline had its 16 KiB pieces cut inside a password, and the fragments went
// out in clear. safe_cut never splits a registered secret.
TEST_F(RedactTest, SafeCutNeverSplitsARegisteredSecret) {
    register_secret("hunter2-secret");
    EXPECT_EQ(safe_cut("plain text only", 10), 10U);
    EXPECT_EQ(safe_cut("ab", 10), 2U);                     // want beyond the text
    EXPECT_EQ(safe_cut("xx hunter2-secret yy", 8), 3U);    // across the cut: before it
    EXPECT_EQ(safe_cut("xx hunter2-secret yy", 17), 17U);  // right after it: fine
    EXPECT_EQ(safe_cut("xx hunter", 9), 3U);               // the text ends by beginning one
    EXPECT_EQ(safe_cut("xx hunter2-secrethunter2-secret", 20), 17U);
    std::string many;
    for (int i = 0; i < 500; ++i) {
        many += "hunter2-secret";
    }
    for (std::size_t want : {100U, 1000U, 4095U}) {
        EXPECT_EQ(safe_cut(many, want) % 14, 0U) << want;
    }
}

// A hook may print the password the way its language encodes it for a URL:
// Python's urllib.parse.quote keeps '/', quote_plus turns a space into '+',
// xbranch's own URLs encode every reserved character. Each form is masked.
TEST_F(RedactTest, EveryEncodedFormOfARegisteredSecretIsMasked) {
    const std::string pw = "Ab1@:/?#%&+ '\"Zz9";
    register_secret(pw);
    const std::string xbranch_form = "Ab1%40%3A%2F%3F%23%25%26%2B%20%27%22Zz9";
    const std::string quote_form = "Ab1%40%3A/%3F%23%25%26%2B%20%27%22Zz9";
    const std::string quote_plus_form = "Ab1%40%3A%2F%3F%23%25%26%2B+%27%22Zz9";
    const std::string json_form = "Ab1@:/?#%&+ '\\\"Zz9";
    for (const std::string& form : {pw, xbranch_form, quote_form, quote_plus_form, json_form}) {
        EXPECT_EQ(redact("hook says " + form + " ok"), "hook says ******** ok") << form;
    }
    EXPECT_EQ(redact("postgresql://xata:" + xbranch_form + "@db.example:5432/app"),
              "postgresql://xata:********@db.example:5432/app");
    EXPECT_EQ(redact("DSN host=h password=" + quote_form), "DSN host=h password=********");
    const auto forms = secret_forms(pw);
    for (const std::string& form : {pw, xbranch_form, quote_form, quote_plus_form}) {
        EXPECT_NE(std::find(forms.begin(), forms.end(), form), forms.end()) << form;
    }
    // A plain secret has one form.
    EXPECT_EQ(secret_forms("plainSecret123"), std::vector<std::string>{"plainSecret123"});
}
