// XataClient::describe_branches over a fake transport that overrides
// send_many: answers in the ids' order whatever order they complete in,
// bounded batches, describe_branch's statuses and retries per branch, a
// 429 slowing the rest, a cancel stopping all, per-branch failures.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <map>
#include <set>

#include "fakes.hpp"
#include "xbranch/xata_client.hpp"

using namespace xbranch;
using namespace xbranch::test;

namespace {

using fake_project::k_project_url;

// One send_many call as the transport saw it.
struct Batch {
    std::size_t size = 0;
    std::size_t max_in_flight = 0;
    ms at{0};
    std::optional<ms> time_left;
};

// Answers each request of a batch through `handler`, last one first (as
// if they completed in reverse order), and records every batch.
class BatchTransport final : public HttpTransport {
  public:
    explicit BatchTransport(FakeClock& clock) : m_clock(clock) {}

    HttpOutcome send(const HttpRequest& request, const CallLimits& /*limits*/) override {
        ADD_FAILURE() << "send instead of send_many: " << request.url;
        return dropped();
    }
    std::vector<HttpOutcome> send_many(const std::vector<HttpRequest>& requests,
                                       const CallLimits& limits,
                                       std::size_t max_in_flight) override {
        batches.push_back({requests.size(), max_in_flight, m_clock.elapsed(), limits.time_left});
        if (on_batch) {
            on_batch(batches.size());
        }
        std::vector<HttpOutcome> out(requests.size());
        for (std::size_t i = requests.size(); i-- > 0;) {
            if (limits.cancel != nullptr && limits.cancel->cancelled()) {
                out[i] = failure(TransportError::Kind::Cancelled, true, "cancelled");
                continue;
            }
            urls.push_back(requests[i].url);
            out[i] = handler(requests[i]);
        }
        return out;
    }

    std::function<HttpOutcome(const HttpRequest&)> handler;
    std::function<void(std::size_t)> on_batch;  // with the batch's number, from 1
    std::vector<Batch> batches;
    std::vector<std::string> urls;

  private:
    FakeClock& m_clock;
};

std::string id_of(int i) {
    std::string s = std::to_string(i);
    return "br" + std::string(24 - s.size(), '0') + s;
}

std::vector<std::string> ids(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(id_of(i));
    }
    return out;
}

// The id in a describe URL.
std::string id_in(const HttpRequest& r) {
    return r.url.substr(r.url.rfind('/') + 1);
}

HttpOutcome described(const std::string& id) {
    return answer(200, details_json(id, "name-" + id, "a0000000000000000000000001",
                                    "STATUS_TYPE_HEALTHY", 1, 1));
}

class DescribeManyTest : public ::testing::Test {
  protected:
    void SetUp() override { spdlog::set_level(spdlog::level::off); }

    FakeClock clock;
    BatchTransport transport{clock};
    XataClient client{transport, clock,
                      ApiTarget{"https://api.example.test", "xau_key0123456789", "org1", "prj_1"},
                      RetryPolicy{}, 7};
    Limits limits;
};

}  // namespace

TEST_F(DescribeManyTest, AnswersKeepTheIdsOrderAcrossRounds) {
    std::map<std::string, int> seen;
    transport.handler = [&](const HttpRequest& r) {
        const std::string id = id_in(r);
        const int n = ++seen[id];
        if (id == id_of(3) && n == 1) {
            return answer(503, R"({"message":"busy"})");
        }
        if (id == id_of(7)) {
            return branch_not_found(id);
        }
        return described(id);
    };
    const auto want = ids(20);
    const auto got = client.describe_branches(want, limits, 8);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (i == 7) {
            EXPECT_TRUE(got[i].gone());
            EXPECT_FALSE(got[i].ok());
            continue;
        }
        ASSERT_TRUE(got[i].ok()) << i;
        EXPECT_EQ(got[i].details->branch.id, want[i]);
        EXPECT_EQ(got[i].details->branch.name, "name-" + want[i]);
        EXPECT_EQ(got[i].details->status.type, StatusType::Healthy);
    }
    // One round of 20 at 8 in flight, then the 503 alone; 21 requests.
    ASSERT_EQ(transport.batches.size(), 2U);
    EXPECT_EQ(transport.batches[0].size, 20U);
    EXPECT_EQ(transport.batches[0].max_in_flight, 8U);
    EXPECT_EQ(transport.batches[1].size, 1U);
    EXPECT_GE(transport.batches[1].at, ms{150});  // the policy's backoff, on the fake clock
    EXPECT_EQ(client.request_count(), 21);
}

TEST_F(DescribeManyTest, BatchesAreBoundedAndNothingIsAskedTwice) {
    transport.handler = [](const HttpRequest& r) { return described(id_in(r)); };
    const auto got = client.describe_branches(ids(100), limits, 3);
    ASSERT_EQ(got.size(), 100U);
    for (const auto& b : transport.batches) {
        EXPECT_EQ(b.max_in_flight, 3U);
        EXPECT_LE(b.size, 12U);  // a chunk is four waves
    }
    EXPECT_EQ(transport.urls.size(), 100U);
    EXPECT_EQ(std::set<std::string>(transport.urls.begin(), transport.urls.end()).size(), 100U);
    EXPECT_EQ(clock.elapsed(), ms{0});  // no wait without a refusal
    // In-flight 0 means 1, and an empty list asks nothing.
    transport.batches.clear();
    client.describe_branches(ids(2), limits, 0);
    EXPECT_EQ(transport.batches.at(0).max_in_flight, 1U);
    EXPECT_TRUE(client.describe_branches({}, limits).empty());
    EXPECT_EQ(transport.batches.size(), 1U);
}

TEST_F(DescribeManyTest, RequestsHaveDescribeBranchsShape) {
    FakeTransport plain(&clock);  // the interface's default send_many: one after another
    XataClient c{plain, clock,
                 ApiTarget{"https://api.example.test", "xau_key0123456789", "org1", "prj_1"},
                 RetryPolicy{}, 7};
    plain.handler = [](const HttpRequest& r) { return described(id_in(r)); };
    const auto got = c.describe_branches({id_of(1), id_of(2)}, limits);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(got[1].details->branch.id, id_of(2));
    EXPECT_EQ(plain.calls(k_project_url),
              (std::vector<std::string>{"GET /branches/" + id_of(1), "GET /branches/" + id_of(2)}));
    const HttpRequest& r = plain.requests[0].request;
    EXPECT_EQ(r.headers.at("Authorization"), "Bearer xau_key0123456789");
    EXPECT_EQ(r.headers.at("Accept"), "application/json");
    EXPECT_TRUE(r.body.empty());
}

// A 429 with Retry-After 2 in the first chunk: the rest of the round goes
// one at a time, each start at least the pacer's gap after the last.
TEST_F(DescribeManyTest, A429SlowsAllTheRest) {
    bool refused_once = false;
    transport.handler = [&](const HttpRequest& r) {
        if (id_in(r) == id_of(0) && !refused_once) {
            refused_once = true;
            return answer(429, R"({"message":"too many requests"})", {{"retry-after", "2"}});
        }
        return described(id_in(r));
    };
    const auto got = client.describe_branches(ids(40), limits, 8);
    for (const auto& g : got) {
        EXPECT_TRUE(g.ok());
    }
    ASSERT_GE(transport.batches.size(), 3U);
    EXPECT_EQ(transport.batches[0].size, 32U);
    for (std::size_t i = 1; i < transport.batches.size(); ++i) {
        EXPECT_EQ(transport.batches[i].size, 1U) << i;
        // The pacer's gap: the Retry-After within +-25% (>= 1.5 s), shrinking
        // a tenth per answer (>= 0.72 s after 7 of them).
        EXPECT_GE(transport.batches[i].at - transport.batches[i - 1].at, ms{700}) << i;
    }
    EXPECT_EQ(transport.urls.size(), 41U);
    EXPECT_GE(clock.elapsed(), ms{8 * 1000});
}

// Set during the second chunk: the transport stops its requests, nothing
// more is sent, and the call throws Interrupted with the signal.
TEST_F(DescribeManyTest, ACancelStopsThemAll) {
    CancelToken token;
    limits.cancel = &token;
    transport.handler = [](const HttpRequest& r) { return described(id_in(r)); };
    transport.on_batch = [&](std::size_t n) {
        if (n == 2) {
            token.cancel(SIGINT);
        }
    };
    const Error e = caught([&] { client.describe_branches(ids(100), limits, 4); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_NE(std::string(e.what()).find("signal 2"), std::string::npos);
    EXPECT_EQ(transport.batches.size(), 2U);
    EXPECT_EQ(transport.urls.size(), 16U);  // the first chunk only
}

// A cancel while the round waits for its retries: no further round.
TEST_F(DescribeManyTest, ACancelDuringTheRetryWaitStopsThemAll) {
    CancelToken token;
    limits.cancel = &token;
    transport.handler = [](const HttpRequest& r) {
        return id_in(r) == id_of(2) ? answer(500, "{}") : described(id_in(r));
    };
    clock.on_sleep = [&](ms) { token.cancel(SIGTERM); };
    const Error e = caught([&] { client.describe_branches(ids(5), limits); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(transport.batches.size(), 1U);
}

// Each branch ends as describe_branch would have: done, gone, refused for
// good at once, retried until the attempts ran out, a bad body asked again.
TEST_F(DescribeManyTest, FailuresArePerBranch) {
    std::map<std::string, int> seen;
    transport.handler = [&](const HttpRequest& r) {
        const std::string id = id_in(r);
        const int n = ++seen[id];
        if (id == id_of(1)) {
            return answer(401, R"({"message":"invalid API key"})");
        }
        if (id == id_of(2)) {
            return answer(500, R"({"message":"boom"})");
        }
        if (id == id_of(3)) {
            return failure(TransportError::Kind::Tls, false, "certificate verify failed");
        }
        if (id == id_of(4) && n == 1) {
            return answer(200, R"({"id":"trunc)");
        }
        if (id == id_of(5) && n <= 2) {
            return timed_out();
        }
        return described(id);
    };
    const auto got = client.describe_branches(ids(6), limits);
    ASSERT_EQ(got.size(), 6U);
    EXPECT_TRUE(got[0].ok());
    ASSERT_TRUE(got[1].error);
    EXPECT_EQ(got[1].error->kind(), ErrorKind::Auth);
    EXPECT_EQ(got[1].error->operation(), "describe branch " + id_of(1));
    ASSERT_TRUE(got[2].error);
    EXPECT_EQ(got[2].error->kind(), ErrorKind::Unavailable);
    EXPECT_EQ(got[2].error->http_status(), 500);
    ASSERT_TRUE(got[3].error);
    EXPECT_EQ(got[3].error->reason(), ErrorReason::TlsVerify);
    EXPECT_TRUE(got[4].ok());
    EXPECT_TRUE(got[5].ok());
    EXPECT_EQ(seen[id_of(1)], 1);  // 401: no retry
    EXPECT_EQ(seen[id_of(2)], RetryPolicy{}.max_attempts);
    EXPECT_EQ(seen[id_of(3)], 1);  // a certificate failure is final
    EXPECT_EQ(seen[id_of(4)], 2);
    EXPECT_EQ(seen[id_of(5)], 3);
}

// The deadline ends the retries: the branches still busy carry the last
// answer's error and say the time ran out; the others are done.
TEST_F(DescribeManyTest, TheDeadlineEndsTheRetriesPerBranch) {
    limits.deadline = Deadline::in(clock, ms{1000});
    limits.request_cap = ms{400};
    transport.handler = [](const HttpRequest& r) {
        return id_in(r) == id_of(1) ? answer(503, R"({"message":"busy"})") : described(id_in(r));
    };
    const auto got = client.describe_branches(ids(3), limits);
    EXPECT_TRUE(got[0].ok());
    EXPECT_TRUE(got[2].ok());
    ASSERT_TRUE(got[1].error);
    EXPECT_EQ(got[1].error->kind(), ErrorKind::Unavailable);
    EXPECT_NE(got[1].error->hint().find("time limit ran out"), std::string::npos);
    EXPECT_LE(clock.elapsed(), ms{1000});
    ASSERT_FALSE(transport.batches.empty());
    EXPECT_EQ(transport.batches[0].time_left, ms{400});  // min(deadline, cap)
}
