#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/xata_client.hpp"

using namespace xbranch;
using namespace xbranch::test;

namespace {

const std::string k_key = "xau_unitTestKey0123456789";
using fake_project::k_id;
using fake_project::k_parent;
// The org and project hold characters that must be percent-encoded.
const std::string k_encoded_project_url =
    "https://api.example.test/organizations/org%201/projects/prj_a%2Fb";

class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        spdlog::set_level(spdlog::level::off);
        clear_secrets();
    }
    void TearDown() override { clear_secrets(); }

    FakeClock clock;
    FakeTransport transport{&clock};
    XataClient client{transport, clock,
                      ApiTarget{"https://api.example.test/", k_key, "org 1", "prj_a/b"},
                      RetryPolicy{}, 42};
    Limits limits;  // each call's: none unless a test sets them

    std::vector<std::string> calls() const { return transport.calls(k_encoded_project_url); }
};

}  // namespace

TEST_F(ClientTest, ListRequestShape) {
    transport.script.push_back(answer(200, list_json({branch_json(k_parent, "main", "")})));
    const auto list = client.list_branches(limits);
    ASSERT_EQ(list.size(), 1U);
    ASSERT_EQ(transport.requests.size(), 1U);
    const auto& r = transport.requests[0].request;
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.url, k_encoded_project_url + "/branches");
    EXPECT_EQ(r.headers.at("Authorization"), "Bearer " + k_key);
    EXPECT_EQ(r.headers.at("Accept"), "application/json");
    EXPECT_EQ(r.headers.count("Content-Type"), 0U);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(client.request_count(), 1);
}

TEST_F(ClientTest, CreateRequestShape) {
    transport.script.push_back(answer(201, branch_json(k_id, "sb-x", k_parent)));
    const auto o = client.create_branch("sb-x", k_parent, "by xbranch", limits);
    EXPECT_EQ(o.kind, CreateOutcome::Kind::Created);
    ASSERT_TRUE(o.branch);
    EXPECT_EQ(o.branch->id, k_id);
    const auto& r = transport.requests.at(0).request;
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, k_encoded_project_url + "/branches");
    EXPECT_EQ(r.headers.at("Content-Type"), "application/json");
    EXPECT_EQ(r.headers.at("Authorization"), "Bearer " + k_key);
    EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json({{"name", "sb-x"},
                                                             {"mode", "inherit"},
                                                             {"parentID", k_parent},
                                                             {"description", "by xbranch"}}));
}

TEST_F(ClientTest, DescribeWakeDeleteCredentialsShapes) {
    transport.script.push_back(
        answer(200, details_json(k_id, "sb-x", k_parent, "STATUS_TYPE_HEALTHY", 1, 1)));
    transport.script.push_back(answer(200, branch_json(k_id, "sb-x", k_parent)));
    transport.script.push_back(answer(204));
    transport.script.push_back(answer(200, R"({"username":"xata","password":"pw-abcdef"})"));
    EXPECT_EQ(client.describe_branch(k_id, limits).status.type, StatusType::Healthy);
    client.wake_branch(k_id, limits);
    EXPECT_TRUE(client.delete_branch(k_id, limits));
    EXPECT_EQ(client.credentials(k_id, limits).password, "pw-abcdef");
    EXPECT_EQ(calls(),
              (std::vector<std::string>{"GET /branches/" + k_id, "PATCH /branches/" + k_id,
                                        "DELETE /branches/" + k_id,
                                        "GET /branches/" + k_id + "/credentials?username=xata"}));
    EXPECT_EQ(transport.requests[1].request.body, R"({"hibernate":false})");
    EXPECT_EQ(transport.requests[1].request.headers.at("Content-Type"), "application/json");
    for (const auto& r : transport.requests) {
        EXPECT_EQ(r.request.headers.at("Authorization"), "Bearer " + k_key);
    }
    // The password is now a registered secret.
    EXPECT_EQ(redact("pw-abcdef"), "********");
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(ClientTest, BranchIdIsPercentEncoded) {
    EXPECT_EQ(client.branch_url("a/b?c"), k_encoded_project_url + "/branches/a%2Fb%3Fc");
}

TEST_F(ClientTest, StatusToErrorKind) {
    struct Case {
        long status;
        ErrorKind kind;
    };
    const Case cases[] = {{400, ErrorKind::Protocol},    {401, ErrorKind::Auth},
                          {403, ErrorKind::Auth},        {404, ErrorKind::NotFound},
                          {409, ErrorKind::Conflict},    {412, ErrorKind::Protocol},
                          {422, ErrorKind::Protocol},    {429, ErrorKind::Unavailable},
                          {500, ErrorKind::Unavailable}, {502, ErrorKind::Unavailable},
                          {503, ErrorKind::Unavailable}, {504, ErrorKind::Unavailable}};
    for (const auto& c : cases) {
        HttpResponse r;
        r.status = c.status;
        r.body = R"({"id":"body-id","message":"something went wrong"})";
        r.headers["x-request-id"] = "hdr-id-" + std::to_string(c.status);
        const Error e = XataClient::error_from_response("do thing", r);
        EXPECT_EQ(e.kind(), c.kind) << c.status;
        EXPECT_EQ(e.http_status(), c.status);
        EXPECT_EQ(e.describe(), "do thing: HTTP " + std::to_string(c.status) +
                                    " (request id hdr-id-" + std::to_string(c.status) +
                                    "): something went wrong");
    }
    // Without the header, the body's id is the request id.
    HttpResponse r;
    r.status = 401;
    r.body = R"({"id":"body-id","message":"invalid token"})";
    const Error e = XataClient::error_from_response("list branches", r);
    EXPECT_EQ(e.request_id(), "body-id");
    // The core names no env var: the CLI words the hint from the reason.
    EXPECT_EQ(e.reason(), ErrorReason::BadApiKey);
    EXPECT_EQ(e.hint().find("XATA_"), std::string::npos);
}

TEST_F(ClientTest, DefiniteErrorsThrowWithoutRetry) {
    for (long s : {400L, 401L, 403L, 404L, 412L}) {
        transport.requests.clear();
        transport.script.push_back(
            answer(s, R"({"id":"x","message":"nope"})", {{"x-request-id", "rid-7"}}));
        const Error e = caught([&] { (void)client.describe_branch(k_id, limits); });
        EXPECT_EQ(transport.requests.size(), 1U) << s;
        EXPECT_NE(e.describe().find("rid-7"), std::string::npos) << e.describe();
        EXPECT_NE(e.describe().find("describe branch " + k_id), std::string::npos) << e.describe();
    }
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(ClientTest, GetRetriesWithBackoffThenSucceeds) {
    transport.script.push_back(answer(503));
    transport.script.push_back(dropped());
    transport.script.push_back(timed_out());
    transport.script.push_back(answer(200, list_json({})));
    EXPECT_TRUE(client.list_branches(limits).empty());
    EXPECT_EQ(transport.requests.size(), 4U);
    ASSERT_EQ(clock.sleeps.size(), 3U);
    // Jittered exponential steps: [150,300], [300,600], [600,1200].
    EXPECT_GE(clock.sleeps[0].count(), 150);
    EXPECT_LE(clock.sleeps[0].count(), 300);
    EXPECT_GE(clock.sleeps[1].count(), 300);
    EXPECT_LE(clock.sleeps[1].count(), 600);
    EXPECT_GE(clock.sleeps[2].count(), 600);
    EXPECT_LE(clock.sleeps[2].count(), 1200);
    // Each retry is sent after its sleep.
    EXPECT_EQ(transport.requests[1].at, clock.sleeps[0]);
}

TEST_F(ClientTest, RetryAfterIsHonoured) {
    transport.script.push_back(answer(429, "Too Many Requests", {{"retry-after", "2"}}));
    transport.script.push_back(answer(503, R"({"message":"busy"})", {{"retry-after", "120"}}));
    transport.script.push_back(
        answer(200, details_json(k_id, "n", k_parent, "STATUS_TYPE_HEALTHY", 1, 1)));
    (void)client.describe_branch(k_id, limits);
    ASSERT_EQ(clock.sleeps.size(), 2U);
    // A 429's Retry-After is the floor, with up to as long again at random
    // (a crowd refused together spreads out); the 503's is taken as it is, capped.
    EXPECT_GE(clock.sleeps[0], ms{2000});
    EXPECT_LE(clock.sleeps[0], ms{4000});
    EXPECT_EQ(clock.sleeps[1], ms{30000});
}

TEST_F(ClientTest, GivesUpAfterMaxAttempts) {
    for (int i = 0; i < 4; ++i) {
        transport.script.push_back(
            answer(503, R"({"id":"r","message":"unavailable"})", {{"x-request-id", "last-503"}}));
    }
    const Error e = caught([&] { (void)client.list_branches(limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(transport.requests.size(), 4U);
    EXPECT_EQ(clock.sleeps.size(), 3U);
    EXPECT_NE(e.describe().find("last-503"), std::string::npos);

    transport.requests.clear();
    for (int i = 0; i < 4; ++i) {
        transport.script.push_back(refused());
    }
    const Error t = caught([&] { client.wake_branch(k_id, limits); });
    EXPECT_EQ(t.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(transport.requests.size(), 4U);
    EXPECT_EQ(t.reason(), ErrorReason::Connect);
}

TEST_F(ClientTest, DeleteAndPatchAreRetried) {
    transport.script.push_back(answer(502, "<html>bad gateway</html>"));
    transport.script.push_back(answer(204));
    EXPECT_TRUE(client.delete_branch(k_id, limits));
    EXPECT_EQ(transport.count("DELETE"), 2);

    transport.script.push_back(dropped());
    transport.script.push_back(answer(200, branch_json(k_id, "n", k_parent)));
    client.wake_branch(k_id, limits);
    EXPECT_EQ(transport.count("PATCH"), 2);
    EXPECT_EQ(clock.sleeps.size(), 2U);
}

TEST_F(ClientTest, DeleteOf404IsFalse) {
    transport.script.push_back(answer(404, R"({"id":"x","message":"branch [x] not found"})"));
    EXPECT_FALSE(client.delete_branch(k_id, limits));
    transport.script.push_back(answer(403, R"({"message":"access denied"})"));
    EXPECT_EQ(caught([&] { (void)client.delete_branch(k_id, limits); }).kind(), ErrorKind::Auth);
}

TEST_F(ClientTest, MalformedSuccessBodyOnGetIsRetried) {
    transport.script.push_back(answer(200, R"({"branches":[{"id":"x","na)"));
    transport.script.push_back(answer(200, "<html>oops</html>"));
    transport.script.push_back(answer(200, list_json({branch_json(k_parent, "main", "")})));
    EXPECT_EQ(client.list_branches(limits).size(), 1U);
    EXPECT_EQ(transport.requests.size(), 3U);
    EXPECT_EQ(clock.sleeps.size(), 2U);
}

TEST_F(ClientTest, MalformedBodyEveryTimeIsProtocol) {
    for (int i = 0; i < 4; ++i) {
        transport.script.push_back(
            answer(200, R"({"username":"xata"})", {{"x-request-id", "mal-1"}}));
    }
    const Error e = caught([&] { (void)client.credentials(k_id, limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Protocol);
    EXPECT_EQ(transport.requests.size(), 4U);
    EXPECT_NE(e.describe().find("mal-1"), std::string::npos);
}

TEST_F(ClientTest, PostIsNeverResent) {
    struct Case {
        HttpOutcome outcome;
        bool maybe_created;
    };
    std::vector<Case> cases = {{dropped(), true},   {timed_out(), true}, {refused(), false},
                               {answer(500), true}, {answer(502), true}, {answer(503), true},
                               {answer(504), true}, {answer(429), false}};
    for (auto& c : cases) {
        transport.requests.clear();
        transport.script.push_back(c.outcome);
        const auto o = client.create_branch("sb-x", k_parent, "", limits);
        EXPECT_EQ(o.kind, CreateOutcome::Kind::Uncertain);
        EXPECT_EQ(o.maybe_created, c.maybe_created);
        EXPECT_FALSE(o.detail.empty());
        EXPECT_EQ(transport.requests.size(), 1U);
    }
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(ClientTest, CreateOutcomes) {
    transport.script.push_back(
        answer(409, R"({"id":"r","message":"branch [sb-x] already exists"})"));
    auto o = client.create_branch("sb-x", k_parent, "", limits);
    EXPECT_EQ(o.kind, CreateOutcome::Kind::Conflict);
    EXPECT_NE(o.detail.find("already exists"), std::string::npos);

    transport.script.push_back(
        answer(503, R"({"message":"branch creation is disabled"})", {{"retry-after", "7"}}));
    o = client.create_branch("sb-x", k_parent, "", limits);
    EXPECT_EQ(o.kind, CreateOutcome::Kind::Uncertain);
    EXPECT_EQ(o.retry_after, ms{7000});
    ASSERT_TRUE(o.last_error);
    EXPECT_EQ(o.last_error->kind(), ErrorKind::Unavailable);

    // 2xx with a body we cannot read: it probably exists, settle by name.
    transport.script.push_back(answer(201, R"({"name":"sb-x"})"));
    o = client.create_branch("sb-x", k_parent, "", limits);
    EXPECT_EQ(o.kind, CreateOutcome::Kind::Uncertain);
    EXPECT_TRUE(o.maybe_created);

    transport.script.push_back(answer(201, "not json at all"));
    EXPECT_EQ(client.create_branch("sb-x", k_parent, "", limits).kind,
              CreateOutcome::Kind::Uncertain);
}

TEST_F(ClientTest, CreateDefiniteFailuresThrow) {
    struct Case {
        long status;
        ErrorKind kind;
    };
    for (const auto& c :
         {Case{400, ErrorKind::Protocol}, Case{401, ErrorKind::Auth}, Case{403, ErrorKind::Auth},
          Case{404, ErrorKind::NotFound}, Case{412, ErrorKind::Protocol}}) {
        transport.script.push_back(
            answer(c.status, R"({"id":"b","message":"m"})", {{"x-request-id", "cr-1"}}));
        const Error e = caught([&] { (void)client.create_branch("sb-x", k_parent, "", limits); });
        EXPECT_EQ(e.kind(), c.kind) << c.status;
        EXPECT_EQ(e.operation(), "create branch sb-x");
        EXPECT_EQ(e.request_id(), "cr-1");
    }
    EXPECT_EQ(transport.count("POST"), 5);
}

TEST_F(ClientTest, FindBranchByNameIsExact) {
    transport.script.push_back(
        answer(200, list_json({branch_json(k_parent, "main", ""),
                               branch_json(k_id, "sb-x-longer", k_parent)})));
    EXPECT_FALSE(client.find_branch_by_name("sb-x", limits).has_value());
    transport.script.push_back(answer(200, list_json({branch_json(k_id, "sb-x", k_parent)})));
    auto b = client.find_branch_by_name("sb-x", limits);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->id, k_id);
}

TEST_F(ClientTest, TransportErrorMapping) {
    const Error tls =
        XataClient::error_from_transport("list", {TransportError::Kind::Tls, "cert bad", false});
    EXPECT_EQ(tls.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(tls.reason(), ErrorReason::TlsVerify);
    const Error c =
        XataClient::error_from_transport("list", {TransportError::Kind::Connect, "refused", false});
    EXPECT_EQ(c.reason(), ErrorReason::Connect);
    for (const Error& e : {tls, c}) {
        EXPECT_EQ(e.hint().find("--"), std::string::npos) << e.hint();
        EXPECT_EQ(e.hint().find("XATA_"), std::string::npos) << e.hint();
    }
    const Error big = XataClient::error_from_transport(
        "list", {TransportError::Kind::TooLarge, "the answer is larger than 8 MiB", true});
    EXPECT_EQ(big.kind(), ErrorKind::Protocol);
    EXPECT_EQ(exit_code(big.kind()), 10);
    EXPECT_EQ(big.reason(), ErrorReason::ResponseTooLarge);
}

// ---- cancellation and the deadline, with an injected token (no signals, no sleeps)

TEST_F(ClientTest, CancelledTokenSendsNothing) {
    CancelToken token;
    token.cancel(15);
    limits = Limits{&token, {}, {}};
    const Error e = caught([&] { (void)client.list_branches(limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(e.operation(), "list branches");
    EXPECT_EQ(e.signal_number(), 15);
    EXPECT_EQ(exit_code(e.kind(), e.signal_number()), 143);
    EXPECT_TRUE(transport.requests.empty());
}

TEST_F(ClientTest, TransportCancelledIsInterruptedAndNotRetried) {
    std::unique_ptr<CancelToken> token;
    transport.handler = [&](const HttpRequest&) {
        token->cancel(2);  // the signal arrives while the request is in flight
        return failure(TransportError::Kind::Cancelled, true, "Callback aborted");
    };
    const std::string id = k_id;
    const std::vector<std::pair<std::string, std::function<void()>>> calls = {
        {"describe branch " + id, [&] { (void)client.describe_branch(k_id, limits); }},
        {"wake branch " + id, [&] { client.wake_branch(k_id, limits); }},
        {"delete branch " + id, [&] { (void)client.delete_branch(k_id, limits); }},
        {"create branch sb-x", [&] { (void)client.create_branch("sb-x", k_parent, "", limits); }},
        {"read project limits", [&] { (void)client.project_limits(limits); }}};
    for (const auto& [operation, call] : calls) {
        token = std::make_unique<CancelToken>();
        limits = Limits{token.get(), {}, {}};
        transport.requests.clear();
        const Error e = caught(call);
        EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
        // The operation, never the method and URL.
        EXPECT_EQ(e.operation(), operation);
        EXPECT_EQ(e.describe().find("http"), std::string::npos) << e.describe();
        EXPECT_EQ(e.signal_number(), 2);
        EXPECT_EQ(transport.requests.size(), 1U);
    }
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(ClientTest, CancelDuringBackoffEndsAtOnce) {
    CancelToken token;
    limits = Limits{&token, {}, {}};
    transport.script.push_back(answer(503));
    clock.on_sleep = [&](ms) { token.cancel(1); };  // SIGHUP during the wait
    const Error e = caught([&] { (void)client.list_branches(limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(exit_code(e.kind(), e.signal_number()), 129);
    EXPECT_EQ(transport.requests.size(), 1U);
}

TEST_F(ClientTest, EveryRequestGetsTheTokenAndTheTimeLeft) {
    CancelToken token;
    limits = Limits{&token, Deadline::in(clock, ms{5000}), {}};
    transport.script.push_back(answer(503));
    transport.script.push_back(answer(200, list_json({})));
    (void)client.list_branches(limits);
    ASSERT_EQ(transport.requests.size(), 2U);
    EXPECT_EQ(transport.requests[0].limits.cancel, &token);
    EXPECT_EQ(transport.requests[0].limits.time_left, ms{5000});
    EXPECT_EQ(transport.requests[1].limits.time_left, ms{5000} - clock.sleeps[0]);
    // A per-request cap (cleanup) is applied below the time left.
    limits = Limits{&token, Deadline::in(clock, ms{10000}), ms{3000}};
    transport.script.push_back(answer(204));
    (void)client.delete_branch(k_id, limits);
    EXPECT_EQ(transport.requests.back().limits.time_left, ms{3000});
}

TEST_F(ClientTest, SilentServerEndsAtTheDeadline) {
    // Every request times out at the time left: the call ends at the deadline
    // with exit 6, not after 4 x 30 s of request timeouts.
    limits = Limits{nullptr, Deadline::in(clock, ms{5000}), {}};
    transport.handler = [&](const HttpRequest&) {
        clock.advance(*transport.requests.back().limits.time_left);
        return timed_out();
    };
    const Error e = caught([&] { (void)client.list_branches(limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(e.reason(), ErrorReason::DeadlineReached);
    EXPECT_EQ(clock.elapsed(), ms{5000});
    EXPECT_EQ(transport.requests.size(), 1U);
    EXPECT_NE(e.describe().find("timeout"), std::string::npos) << e.describe();
}

TEST_F(ClientTest, RetryAfterIsCappedByTheDeadline) {
    limits = Limits{nullptr, Deadline::in(clock, ms{5000}), {}};
    transport.handler = [](const HttpRequest&) {
        return answer(503, R"({"message":"busy"})", {{"retry-after", "30"}});
    };
    const Error e = caught([&] { (void)client.describe_branch(k_id, limits); });
    // The API kept answering 503: "unavailable" (exit 8), not a silent timeout.
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(e.http_status(), 503);
    EXPECT_EQ(clock.sleeps, (std::vector<ms>{ms{5000}}));
}

TEST_F(ClientTest, PatchRetriesConcurrentModificationAndTemporaryRefusal) {
    transport.script.push_back(
        answer(409, R"({"message":"branch [x] was modified concurrently, please retry"})"));
    transport.script.push_back(
        answer(403, R"({"message":"Branch [x] update is temporarily unavailable"})"));
    transport.script.push_back(answer(200, branch_json(k_id, "n", k_parent)));
    client.wake_branch(k_id, limits);
    EXPECT_EQ(transport.count("PATCH"), 3);
    // A temporary 403 after all retries is "unavailable", not an auth failure.
    for (int i = 0; i < 4; ++i) {
        transport.script.push_back(
            answer(403, R"({"message":"Branch [x] update is temporarily unavailable"})"));
    }
    EXPECT_EQ(caught([&] { client.wake_branch(k_id, limits); }).kind(), ErrorKind::Unavailable);
    // GET and DELETE do not retry a 409.
    transport.script.push_back(answer(409, R"({"message":"conflict"})"));
    EXPECT_EQ(caught([&] { (void)client.delete_branch(k_id, limits); }).kind(),
              ErrorKind::Conflict);
}

TEST_F(ClientTest, DeleteWhoseAnswerWasLostIsStillDeleted) {
    // The first DELETE was performed but its answer dropped; the retry's 404
    // means this call deleted it, not "it was already gone".
    transport.script.push_back(dropped());
    transport.script.push_back(answer(404, R"({"message":"branch [x] not found"})"));
    EXPECT_TRUE(client.delete_branch(k_id, limits));
    transport.script.push_back(answer(502));
    transport.script.push_back(answer(404, R"({"message":"branch [x] not found"})"));
    EXPECT_TRUE(client.delete_branch(k_id, limits));
    // A refused connection surely deleted nothing.
    transport.script.push_back(refused());
    transport.script.push_back(answer(404, R"({"message":"branch [x] not found"})"));
    EXPECT_FALSE(client.delete_branch(k_id, limits));
}

TEST_F(ClientTest, RedirectShowsItsLocation) {
    transport.script.push_back(
        answer(301, "", {{"location", "https://elsewhere.example.test/organizations/x"}}));
    const Error e = caught([&] { (void)client.list_branches(limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Protocol);
    EXPECT_EQ(e.reason(), ErrorReason::Redirected);
    EXPECT_NE(e.describe().find("https://elsewhere.example.test/organizations/x"),
              std::string::npos)
        << e.describe();
}

TEST_F(ClientTest, DescribeCarriesTheDescription) {
    std::string body = details_json(k_id, "sb-x", k_parent, "STATUS_TYPE_HEALTHY", 1, 1);
    body.insert(body.size() - 1, R"(,"description":"xb1 rabcdefghij - note")");
    transport.script.push_back(answer(200, body));
    EXPECT_EQ(client.describe_branch(k_id, limits).description, "xb1 rabcdefghij - note");
}
