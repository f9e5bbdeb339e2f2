// The Signadot client over a scripted transport: the request it sends, the
// strict parsing of the list, and every untrusted answer as an Error.
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/signadot_client.hpp"

namespace xbranch {
namespace {

using test::answer;
using test::caught;

const std::string k_key = "sd-secret-key-0123456789";

struct SignadotFixture : ::testing::Test {
    test::FakeClock clock;
    test::FakeTransport transport;
    SignadotClient client{transport, clock, {"https://api.example.test/", k_key, "my-org"}};
    Limits limits;

    void TearDown() override { clear_secrets(); }
};

TEST_F(SignadotFixture, SendsOneGetWithTheKeyHeader) {
    transport.script.push_back(answer(200, "[]"));
    EXPECT_TRUE(client.list_sandboxes(limits).empty());
    ASSERT_EQ(transport.requests.size(), 1U);
    const auto& r = transport.requests[0].request;
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, "https://api.example.test/api/v2/orgs/my-org/sandboxes");
    EXPECT_EQ(r.headers.at("signadot-api-key"), k_key);
    EXPECT_EQ(r.headers.count("Authorization"), 0U);
    EXPECT_EQ(client.request_count(), 1);
}

TEST_F(SignadotFixture, ParsesNamesRoutingKeysAndResources) {
    transport.script.push_back(answer(200, R"([
      {"name":"a","routingKey":"rk1","spec":{"cluster":"c","resources":[{"name":"db","plugin":"xata-branch"},{"plugin":"x"}]},"status":{"ready":true}},
      {"name":"b"},
      {"name":"c","routingKey":null,"spec":{"resources":null}}])"));
    auto list = client.list_sandboxes(limits);
    ASSERT_EQ(list.size(), 3U);
    EXPECT_EQ(list[0], (LiveSandbox{"a", "rk1", {"db"}}));
    EXPECT_EQ(list[1], (LiveSandbox{"b", "", {}}));
    EXPECT_EQ(list[2], (LiveSandbox{"c", "", {}}));
}

TEST_F(SignadotFixture, TheKeyIsASecret) {
    EXPECT_EQ(redact("key " + k_key), "key " + std::string(k_mask));
}

TEST_F(SignadotFixture, EveryUntrustedAnswerThrows) {
    const std::vector<std::pair<HttpOutcome, std::pair<ErrorKind, std::string>>> cases = {
        {answer(401, R"({"code":16,"error":"invalid api key","requestId":"rq-401"})"),
         {ErrorKind::Auth, "HTTP 401 (request id rq-401)"}},
        {answer(403, R"({"error":"forbidden"})", {{"x-request-id", "hdr-403"}}),
         {ErrorKind::Auth, "request id hdr-403"}},
        {answer(404, R"({"code":5,"error":"org not found","requestId":"rq-404"})"),
         {ErrorKind::NotFound, "no such Signadot organization: org not found"}},
        {answer(500, "<html>oops</html>"), {ErrorKind::Unavailable, "HTTP 500"}},
        {answer(502, R"({"code":14,"error":"bad gateway","requestId":"rq-502"})"),
         {ErrorKind::Unavailable, "rq-502"}},
        {answer(429, ""), {ErrorKind::Unavailable, "HTTP 429"}},
        {answer(400, R"({"error":"bad"})"), {ErrorKind::Protocol, "HTTP 400"}},
        {test::timed_out(), {ErrorKind::Unavailable, "no answer from the Signadot API"}},
        {test::refused(), {ErrorKind::Unavailable, "connection failed"}},
        // An answer, just not one we can use: "unexpected API answer" (10), not 8.
        {test::failure(TransportError::Kind::TooLarge, true, "the answer is larger than 8 MiB"),
         {ErrorKind::Protocol, "larger than 8 MiB"}},
        {answer(200, R"({"sandboxes":[]})"), {ErrorKind::Protocol, "not a JSON array"}},
        {answer(200, R"([{"name":"a"},{"na)"), {ErrorKind::Protocol, "not valid JSON"}},
        {answer(200, ""), {ErrorKind::Protocol, "not valid JSON"}},
        {answer(200, "null"), {ErrorKind::Protocol, "not a JSON array"}},
        {answer(200, R"(["a"])"), {ErrorKind::Protocol, "not an object"}},
        {answer(200, R"([{"routingKey":"x"}])"), {ErrorKind::Protocol, "has no name"}},
        {answer(200, R"([{"name":""}])"), {ErrorKind::Protocol, "has no name"}},
        {answer(200, R"([{"name":7}])"), {ErrorKind::Protocol, "not a string"}},
        {answer(200, R"([{"name":"a","routingKey":5}])"), {ErrorKind::Protocol, "not a string"}},
        {answer(200, R"([{"name":"a","spec":[]}])"), {ErrorKind::Protocol, "non-object spec"}},
        {answer(200, R"([{"name":"a","spec":{"resources":{}}}])"),
         {ErrorKind::Protocol, "not an array"}},
        {answer(200, R"([{"name":"a","spec":{"resources":[3]}}])"),
         {ErrorKind::Protocol, "not an object"}},
        {answer(200, R"([{"name":"a","spec":{"resources":[{"name":1}]}}])"),
         {ErrorKind::Protocol, "not a string"}},
    };
    for (const auto& [outcome, expected] : cases) {
        transport.script.push_back(outcome);
        Error e = caught([&] { client.list_sandboxes(limits); });
        EXPECT_EQ(e.kind(), expected.first) << e.describe();
        EXPECT_NE(e.describe().find(expected.second), std::string::npos) << e.describe();
        EXPECT_NE(e.describe().find("list Signadot sandboxes"), std::string::npos);
        EXPECT_EQ(e.describe().find(k_key), std::string::npos);
    }
    // One request per call: never retried.
    EXPECT_EQ(client.request_count(), static_cast<int>(cases.size()));
}

TEST_F(SignadotFixture, AnErrorTextEchoingTheKeyIsRedacted) {
    transport.script.push_back(answer(401, R"({"error":"bad key sd-secret-key-0123456789"})"));
    Error e = caught([&] { client.list_sandboxes(limits); });
    EXPECT_EQ(e.describe().find(k_key), std::string::npos);
    EXPECT_NE(e.describe().find(std::string(k_mask)), std::string::npos);
}

TEST(SignadotTarget, ValidatesUrlKeyAndOrg) {
    EXPECT_NO_THROW(validate_signadot_target({"http://127.0.0.1:1", "k", "org_1.a-b"}));
    // Credentials in the URL would go out as basic auth and show in -v.
    const Error userinfo = caught([] {
        validate_signadot_target({"http://u:pw@127.0.0.1:1/x", "k", "o"});
    });
    EXPECT_EQ(userinfo.kind(), ErrorKind::Usage);
    EXPECT_EQ(userinfo.describe().find("pw"), std::string::npos);
    EXPECT_NO_THROW(validate_signadot_target({"https://x/path@v2", "k", "o"}));
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"ftp://x", "k", "o"});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x y", "k", "o"});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x", "", "o"});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x", "a\r\nX-Evil: 1", "o"});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x", "k", "a/b"});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x", "k", ".."});
              }).kind(),
              ErrorKind::Usage);
    EXPECT_EQ(caught([] {
                  validate_signadot_target({"https://x", "k", ""});
              }).kind(),
              ErrorKind::Usage);
    test::FakeTransport t;
    test::FakeClock clock;
    EXPECT_EQ(caught([&] {
                  SignadotClient c(t, clock, {"https://x", "k", "a?b"});
              }).kind(),
              ErrorKind::Usage);
    clear_secrets();
}

}  // namespace
}  // namespace xbranch
