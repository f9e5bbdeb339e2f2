#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>

#include "fakes.hpp"
#include "xbranch/lifecycle.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

using namespace xbranch;
using namespace xbranch::test;
using namespace xbranch::test::fake_project;  // k_base, k_project_url, k_parent, k_name, k_token

namespace {

const std::string k_other = "b0000000000000000000000002";
const std::string k_tag = "xb1 rruntoken01";          // its tag, as the POST sends it
const std::string k_foreign_tag = "xb1 rother00000";  // a concurrent run's

// A small stateful Xata API behind the FakeTransport.
struct FakeApi {
    struct B {
        std::string id, name, parent;
        ms created{0};
        std::string description;  // returned by describe only, like the real API
    };
    FakeClock& clock;
    std::vector<B> branches;
    // POST: answer given the request; by default creates k_id and answers 201.
    std::function<HttpOutcome(const std::string& name, const std::string& parent)> on_post;
    // statusType of k_id, given this API (clock, woken_at).
    std::function<std::string(const FakeApi&)> status = [](const FakeApi&) {
        return "STATUS_TYPE_HEALTHY";
    };
    std::optional<ms> woken_at;
    int patches = 0;
    int credentials_404 = 0;  // this many credential calls answer 404 first
    std::string credentials_body = R"({"username":"xata","password":"pw-core-1234"})";
    std::string describe_connection_string;
    std::string region = "us-east-1";
    std::string posted_description;  // of the POST being answered
    // The POST answers 400 "too many branches" at this many branches.
    std::optional<std::size_t> max_branches;
    // GET .../limits; by default 404, as on Xata Core.
    std::function<HttpOutcome()> on_limits = [] {
        return answer(404, R"({"message":"not found"})");
    };

    explicit FakeApi(FakeClock& c) : clock(c) {
        branches.push_back({k_parent, "main", "", ms{0}, ""});
        on_post = [this](const std::string& name, const std::string& parent) {
            return create(name, parent);
        };
    }

    HttpOutcome create(const std::string& name, const std::string& parent) {
        branches.push_back({k_id, name, parent, clock.elapsed(), posted_description});
        return answer(201, branch_json(k_id, name, parent, region));
    }
    B* find(const std::string& id) { return find_branch(branches, id); }
    ms since_created() const {
        for (const auto& b : branches) {
            if (b.id == k_id) {
                return clock.elapsed() - b.created;
            }
        }
        return ms{0};
    }

    HttpOutcome route(const HttpRequest& r) {
        if (r.url.rfind(k_project_url, 0) != 0) {
            ADD_FAILURE() << "bad url " << r.url;
            return answer(400);
        }
        std::string path = r.url.substr(k_project_url.size());
        if (path == "/branches") {
            if (r.method == "GET") {
                std::vector<std::string> items;
                for (const auto& b : branches) {
                    items.push_back(branch_json(b.id, b.name, b.parent, region));
                }
                return answer(200, list_json(items));
            }
            if (r.method == "POST") {
                if (max_branches && branches.size() >= *max_branches) {
                    return answer(
                        400, R"({"id":"r1","message":"project [prj_1] has too many branches"})");
                }
                const auto j = nlohmann::json::parse(r.body);
                posted_description = j.value("description", "");
                return on_post(j.at("name").get<std::string>(),
                               j.at("parentID").get<std::string>());
            }
        }
        if (path == "/limits" && r.method == "GET") {
            return on_limits();
        }
        const std::string prefix = "/branches/";
        if (path.rfind(prefix, 0) != 0) {
            return answer(404);
        }
        path = path.substr(prefix.size());
        const auto slash = path.find('/');
        const std::string id = path.substr(0, slash);
        B* b = find(id);
        if (b == nullptr) {
            return branch_not_found(id);
        }
        if (slash != std::string::npos) {
            EXPECT_EQ(path.substr(slash), "/credentials?username=xata");
            if (credentials_404 > 0) {
                --credentials_404;
                return answer(404, R"({"id":"x","message":"Branch [)" + id + R"(]: not found"})");
            }
            return answer(200, credentials_body);
        }
        if (r.method == "GET") {
            std::string st = id == k_id ? status(*this) : "STATUS_TYPE_HEALTHY";
            int inst = st == "STATUS_TYPE_HIBERNATED" ? 0 : 1;
            int ready = st == "STATUS_TYPE_HEALTHY" ? 1 : 0;
            std::string body = details_json(b->id, b->name, b->parent, st, inst, ready,
                                            describe_connection_string, region);
            if (!b->description.empty()) {
                body.insert(body.size() - 1, R"(,"description":")" + b->description + "\"");
            }
            return answer(200, body);
        }
        if (r.method == "PATCH") {
            EXPECT_EQ(r.body, R"({"hibernate":false})");
            ++patches;
            if (!woken_at) {
                woken_at = clock.elapsed();
            }
            return answer(200, branch_json(b->id, b->name, b->parent, region));
        }
        if (r.method == "DELETE") {
            branches.erase(branches.begin() + (b - branches.data()));
            return answer(204);
        }
        return answer(405);
    }
};

class LifecycleTest : public ::testing::Test {
  protected:
    void SetUp() override {
        spdlog::set_level(spdlog::level::off);
        clear_secrets();
        transport.handler = [this](const HttpRequest& r) { return api.route(r); };
    }
    void TearDown() override { clear_secrets(); }

    CreateRequest request() const {
        CreateRequest r;
        r.branch_name = k_name;
        r.parent = "main";
        r.timeout = std::chrono::seconds{60};
        r.run_token = k_token;
        return r;
    }
    std::vector<std::string> calls() const { return transport.calls(k_project_url); }
    // The body of the (first) POST /branches.
    nlohmann::json posted_body() const {
        for (const auto& r : transport.requests) {
            if (r.request.method == "POST") {
                return nlohmann::json::parse(r.request.body);
            }
        }
        ADD_FAILURE() << "no POST";
        return {};
    }
    bool has_call(const std::string& c) const {
        const auto all = calls();
        return std::find(all.begin(), all.end(), c) != all.end();
    }

    FakeClock clock;
    FakeTransport transport{&clock};
    FakeApi api{clock};
    XataClient client{transport, clock, ApiTarget{k_base, "xau_lifecycleKey12345", "org1", "prj_1"},
                      RetryPolicy{}, 7};
    NullProgress progress;
    Lifecycle lifecycle{client, clock, progress};

    const std::string list = "GET /branches";
    const std::string limits = "GET /limits";  // 404 here, as on Xata Core
    const std::string post = "POST /branches";
    const std::string describe = "GET /branches/" + k_id;
    const std::string creds = "GET /branches/" + k_id + "/credentials?username=xata";
    const std::string del = "DELETE /branches/" + k_id;
    const std::string patch = "PATCH /branches/" + k_id;
};

}  // namespace

TEST_F(LifecycleTest, CreateHappyPath) {
    const auto r = lifecycle.create(request());
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, describe, creds}));
    EXPECT_EQ(r.branch.id, k_id);
    EXPECT_EQ(r.branch.name, k_name);
    EXPECT_EQ(r.parent_id, k_parent);
    EXPECT_FALSE(r.adopted);
    EXPECT_TRUE(r.created_by_us);
    EXPECT_EQ(r.status.type, StatusType::Healthy);
    EXPECT_EQ(r.connection.username, "xata");
    EXPECT_EQ(r.connection.password, "pw-core-1234");
    EXPECT_EQ(r.connection.sslmode, "require");
    const auto body = posted_body();
    EXPECT_EQ(body, nlohmann::json({{"name", k_name},
                                    {"mode", "inherit"},
                                    {"parentID", k_parent},
                                    {"description", k_tag}}));
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(LifecycleTest, ParentGivenAsIdSkipsTheList) {
    auto req = request();
    req.parent = k_parent;
    req.parent_is_id = true;
    const auto r = lifecycle.create(req);
    EXPECT_EQ(calls(), (std::vector<std::string>{post, describe, creds}));
    EXPECT_EQ(r.parent_id, k_parent);
}

TEST_F(LifecycleTest, UnknownParentNameIsNotFound) {
    auto req = request();
    req.parent = "staging";
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_EQ(transport.count("POST"), 0);
}

TEST_F(LifecycleTest, BranchNamedLikeTheParentIsRefused) {
    auto req = request();
    req.branch_name = "main";
    EXPECT_EQ(caught([&] { (void)lifecycle.create(req); }).kind(), ErrorKind::Conflict);
    EXPECT_EQ(transport.count("POST"), 0);
}

TEST_F(LifecycleTest, TtlIsRecordedInThePostedTagAsAWholeMinuteExpiry) {
    auto req = request();
    req.description = "my note";
    req.ttl = std::chrono::seconds{90};
    const auto wall = [] {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    const auto before = wall();
    (void)lifecycle.create(req);
    const auto after = wall();
    const auto body = posted_body();
    const auto tag = decode_tag(body.at("description").get<std::string>());
    ASSERT_TRUE(tag) << body.dump();
    EXPECT_EQ(tag->token, k_token);
    EXPECT_EQ(tag->note, "my note");
    ASSERT_TRUE(tag->expires_at);
    EXPECT_EQ(*tag->expires_at % 60, 0);
    EXPECT_GE(*tag->expires_at, before + 90);
    EXPECT_LE(*tag->expires_at, round_up_to_minute(after + 90));
}

TEST_F(LifecycleTest, TtlWithoutARunTokenIsABug) {
    auto req = request();
    req.run_token.clear();
    req.ttl = std::chrono::seconds{60};
    EXPECT_EQ(caught([&] { (void)lifecycle.create(req); }).kind(), ErrorKind::Internal);
    EXPECT_EQ(transport.count("POST"), 0);
}

TEST_F(LifecycleTest, AdoptedBranchKeepsItsOwnExpiry) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, "xb1 rother00000 e209912312359"});
    auto req = request();
    req.ttl = std::chrono::seconds{60};
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(r.adopted);
    EXPECT_EQ(transport.count("POST"), 0);
    EXPECT_EQ(transport.count("PATCH"), 0);  // its description (and expiry) untouched
    EXPECT_EQ(api.find(k_id)->description, "xb1 rother00000 e209912312359");
}

// ---- quota awareness

TEST_F(LifecycleTest, AtTheBranchCapTheRefusedPostNamesTheCapAndTheOldest) {
    api.branches.push_back({"c0000000000000000000000003", "sb-old-1", k_parent, ms{0}, ""});
    api.branches.push_back({"c0000000000000000000000004", "manual", k_parent, ms{0}, ""});
    api.max_branches = 3;
    api.on_limits = [] { return answer(200, R"({"maxBranchesPerProject":3})"); };
    auto req = request();
    req.prefix = "sb-";
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(exit_code(e.kind()), 12);
    EXPECT_EQ(e.reason(), ErrorReason::QuotaReached);
    // The POST is the check: the limits call only after its refusal, to name the cap.
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, limits}));
    const std::string m = e.what();
    EXPECT_NE(m.find("3 branches, its cap is 3"), std::string::npos) << m;
    EXPECT_NE(m.find("sb-old-1 (2025-05-01T10:20:30Z)"), std::string::npos) << m;
    EXPECT_EQ(m.find("manual"), std::string::npos) << m;  // not ours: gc cannot free it
    EXPECT_NE(e.hint().find("too many branches"), std::string::npos) << e.hint();
    EXPECT_EQ(e.cleanup(), CleanupState::None);
}

TEST_F(LifecycleTest, UnderTheCapNoLimitsCallIsMade) {
    api.on_limits = [] { return answer(200, R"({"maxBranchesPerProject":3})"); };
    (void)lifecycle.create(request());
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, describe, creds}));
}

TEST_F(LifecycleTest, QuotaLineCountsOneBranchInTheSingular) {
    api.max_branches = 1;
    api.on_limits = [] { return answer(200, R"({"maxBranchesPerProject":1})"); };
    std::ostringstream out;
    const auto before = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(out)));
    spdlog::set_level(spdlog::level::info);
    const Error e = caught([&] { (void)lifecycle.create(request()); });  // only the root
    spdlog::set_default_logger(before);
    spdlog::set_level(spdlog::level::off);
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_NE(out.str().find("quota check after the server's refusal: 1 active branch, cap 1 "
                             "(cost 1 request: limits)"),
              std::string::npos)
        << out.str();
}

TEST_F(LifecycleTest, LimitsWithTheParentAsIdListOnceForTheCount) {
    api.branches.push_back({"c0000000000000000000000003", "sb-old-1", k_parent, ms{0}, ""});
    api.max_branches = 2;
    api.on_limits = [] { return answer(200, R"({"maxBranchesPerProject":2})"); };
    auto req = request();
    req.parent = k_parent;
    req.parent_is_id = true;
    EXPECT_EQ(caught([&] { (void)lifecycle.create(req); }).kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(calls(), (std::vector<std::string>{post, limits, list}));
}

TEST_F(LifecycleTest, AnAdoptedBranchNeedsNoRoom) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    api.max_branches = 1;
    api.on_limits = [] { return answer(200, R"({"maxBranchesPerProject":1})"); };
    EXPECT_TRUE(lifecycle.create(request()).adopted);
    EXPECT_FALSE(has_call(limits));
}

TEST_F(LifecycleTest, AFailingLimitsCallAfterARefusalLeavesTheServersError) {
    api.max_branches = 1;
    int asked = 0;
    api.on_limits = [&asked] {
        ++asked;
        return answer(503, R"({"message":"busy"})");
    };
    Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_EQ(asked, 1);
    api.on_limits = [] { return answer(200, "not json"); };
    e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(e.http_status(), 400);
}

TEST_F(LifecycleTest, ASilentLimitsCallTakesAtMostAQuarterOfTheTimeLeft) {
    api.max_branches = 1;
    transport.handler = [this](const HttpRequest& r) {
        if (r.url == k_project_url + "/limits") {
            clock.advance(*transport.requests.back().limits.time_left);
            return timed_out();
        }
        return api.route(r);
    };
    auto req = request();
    req.timeout = ms{8000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(e.http_status(), 400);
    ASSERT_EQ(transport.requests.size(), 3U);
    EXPECT_EQ(transport.requests[2].limits.time_left, ms{2000});
}

TEST_F(LifecycleTest, TheServersTooManyBranchesIsQuotaExceededNamingTheOldest) {
    api.branches.push_back({"c0000000000000000000000003", "sb-old-1", k_parent, ms{0}, ""});
    api.on_post = [](const std::string&, const std::string&) {
        return answer(400, R"({"id":"r1","message":"project [prj_1] has too many branches"})");
    };
    auto req = request();
    req.prefix = "sb-";
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(e.reason(), ErrorReason::QuotaReached);
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_NE(e.hint().find("oldest of ours: sb-old-1"), std::string::npos) << e.hint();
    EXPECT_EQ(transport.count("POST"), 1);  // a refusal is not retried
    EXPECT_EQ(e.cleanup(), CleanupState::None);
}

TEST_F(LifecycleTest, TheServersHourlyRefusalIsQuotaExceeded) {
    api.on_post = [](const std::string&, const std::string&) {
        return answer(403,
                      R"({"message":"project [prj_1] may create at most 2 branches per hour"})");
    };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(e.http_status(), 403);
    EXPECT_EQ(transport.count("POST"), 1);
}

TEST_F(LifecycleTest, ExistingBranchWithSameParentIsAdoptedWithoutPost) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    const auto r = lifecycle.create(request());
    EXPECT_EQ(calls(), (std::vector<std::string>{list, describe, creds}));
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.created_by_us);
}

TEST_F(LifecycleTest, ConflictOnPostWithSameParentIsAdopted) {
    // Someone else made it between our list and our POST.
    api.on_post = [this](const std::string& name, const std::string& parent) {
        api.branches.push_back({k_id, name, parent, clock.elapsed(), ""});
        return answer(409, R"({"id":"r","message":"branch [)" + name + R"(] already exists"})");
    };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, list, describe, describe, creds}));
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.created_by_us);
    EXPECT_EQ(r.branch.id, k_id);
}

TEST_F(LifecycleTest, ConflictWithForeignParentIsConflict) {
    api.branches.push_back({k_other, "other-parent", "", ms{0}, ""});
    api.on_post = [this](const std::string& name, const std::string&) {
        api.branches.push_back({k_id, name, k_other, clock.elapsed(), ""});
        return answer(409, R"({"message":"branch already exists"})");
    };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Conflict);
    EXPECT_FALSE(has_call(creds));
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_EQ(transport.count("POST"), 1);
    EXPECT_EQ(e.reason(), ErrorReason::BranchInTheWay);
    EXPECT_EQ(e.branch_id(), k_id);
}

TEST_F(LifecycleTest, ListedWithForeignParentIsConflictWithoutPost) {
    api.branches.push_back({k_id, k_name, k_other, ms{0}, ""});
    EXPECT_EQ(caught([&] { (void)lifecycle.create(request()); }).kind(), ErrorKind::Conflict);
    EXPECT_EQ(transport.count("POST"), 0);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

TEST_F(LifecycleTest, DroppedPostThatCreatedTheBranchIsSettledByName) {
    api.on_post = [this](const std::string& name, const std::string& parent) {
        (void)api.create(name, parent);
        return dropped();
    };
    const auto r = lifecycle.create(request());
    // The found branch is described once to read its tag.
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, list, describe, describe, creds}));
    EXPECT_EQ(r.branch.id, k_id);
    EXPECT_TRUE(r.created_by_us);  // its tag is this run's, so a failure later would delete it
    EXPECT_FALSE(r.adopted);
    EXPECT_EQ(transport.count("POST"), 1);
}

TEST_F(LifecycleTest, DroppedPostThatDidNothingIsSentAgainAfterALookup) {
    int posts = 0;
    api.on_post = [this, &posts](const std::string& name, const std::string& parent) {
        return ++posts == 1 ? dropped() : api.create(name, parent);
    };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.branch.id, k_id);
    EXPECT_TRUE(r.created_by_us);
    EXPECT_EQ(transport.count("POST"), 2);
    // Never two POSTs without a lookup in between.
    bool lookup_since_post = true;
    for (const auto& c : calls()) {
        if (c == post) {
            EXPECT_TRUE(lookup_since_post) << "POST sent again without looking the name up";
            lookup_since_post = false;
        } else if (c == list) {
            lookup_since_post = true;
        }
    }
    EXPECT_FALSE(clock.sleeps.empty());
}

TEST_F(LifecycleTest, PostTimingOutEveryTimeGivesUp) {
    api.on_post = [](const std::string&, const std::string&) { return timed_out(); };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(transport.count("POST"), client.policy().max_attempts);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

TEST_F(LifecycleTest, EarlyHibernatedThenHealthyNeedsNoWake) {
    api.status = [](const FakeApi& a) {
        const auto t = a.since_created();
        return t < ms{800}    ? "STATUS_TYPE_HIBERNATED"
               : t < ms{1500} ? "STATUS_TYPE_TRANSIENT"
                              : "STATUS_TYPE_HEALTHY";
    };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.status.type, StatusType::Healthy);
    EXPECT_EQ(transport.count("PATCH"), 0);
    EXPECT_GE(clock.elapsed(), ms{1500});
    EXPECT_LT(clock.elapsed(), ms{1700});  // polled often enough to notice within ~0.2 s
}

TEST_F(LifecycleTest, StayingHibernatedIsWokenExactlyOnce) {
    api.status = [](const FakeApi& a) {
        if (!a.woken_at) {
            return "STATUS_TYPE_HIBERNATED";
        }
        return a.clock.elapsed() - *a.woken_at < ms{2000} ? "STATUS_TYPE_TRANSIENT"
                                                          : "STATUS_TYPE_HEALTHY";
    };
    auto req = request();
    req.wake_after = ms{3000};
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.status.type, StatusType::Healthy);
    EXPECT_EQ(api.patches, 1);
    ASSERT_TRUE(api.woken_at);
    EXPECT_GE(*api.woken_at, ms{3000});
    EXPECT_LT(*api.woken_at, ms{3400});
}

TEST_F(LifecycleTest, StillHibernatedIsWokenAgainEvery30s) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_HIBERNATED"; };
    auto req = request();
    req.timeout = ms{70000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(api.patches, 3);  // ~3 s, ~33 s, ~63 s
}

TEST_F(LifecycleTest, AdoptedHibernatedBranchIsWokenAtOnce) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    api.status = [](const FakeApi& a) {
        return a.woken_at ? "STATUS_TYPE_HEALTHY" : "STATUS_TYPE_HIBERNATED";
    };
    const auto r = lifecycle.create(request());
    EXPECT_TRUE(r.adopted);
    EXPECT_EQ(calls(), (std::vector<std::string>{list, describe, patch, describe, creds}));
}

// --timeout bounds the whole command, the delete of the branch this run
// made included: against an API that takes 700 ms per answer, a branch that
// never gets ready is deleted and the command ends within 0.5 s of the limit
// (it overran by the delete's time, 0.7 s and more, before).
TEST_F(LifecycleTest, TheDeleteAfterTheTimeLimitFitsWithinHalfASecondOfIt) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    for (const ms latency : {ms{300}, ms{700}, ms{1500}}) {
        SCOPED_TRACE(latency.count());
        api.branches.resize(1);
        transport.requests.clear();
        transport.handler = [this, latency](const HttpRequest& r) {
            const auto& call = transport.requests.back().limits;
            const ms cost = call.time_left ? std::min(latency, *call.time_left) : latency;
            clock.advance(cost);
            if (cost < latency) {
                HttpOutcome o;
                o.error = TransportError{TransportError::Kind::Timeout, "timed out", true};
                return o;
            }
            return api.route(r);
        };
        auto req = request();
        req.timeout = std::chrono::seconds{10};
        const auto start = clock.elapsed();
        const Error e = caught([&] { (void)lifecycle.create(req); });
        EXPECT_EQ(e.kind(), ErrorKind::Timeout);
        EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
        EXPECT_EQ(transport.count("DELETE"), 1);
        EXPECT_LE(clock.elapsed() - start, ms{10500});
    }
}

TEST_F(LifecycleTest, FaultDeletesTheBranchWeCreated) {
    api.status = [](const FakeApi& a) {
        return a.since_created() < ms{500} ? "STATUS_TYPE_TRANSIENT" : "STATUS_TYPE_FAULT";
    };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Fault);
    EXPECT_NE(std::string(e.what()).find("Unable to create required cluster objects"),
              std::string::npos);
    EXPECT_EQ(calls().back(), del);
    EXPECT_FALSE(has_call(creds));
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(e.cleanup_branch_id(), k_id);
    EXPECT_EQ(api.find(k_id), nullptr);
}

TEST_F(LifecycleTest, FaultKeepsTheBranchWithKeepOnFailure) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_FAULT"; };
    auto req = request();
    req.keep_on_failure = true;
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Fault);
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_EQ(e.cleanup(), CleanupState::Kept);
}

TEST_F(LifecycleTest, TimeoutDeletesTheBranchWeCreated) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    auto req = request();
    req.timeout = ms{5000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(calls().back(), del);
    EXPECT_GE(clock.elapsed(), ms{5000});
    EXPECT_LT(clock.elapsed(), ms{6000});
}

TEST_F(LifecycleTest, AdoptedBranchIsNeverDeletedOnFailure) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    api.status = [](const FakeApi&) { return "STATUS_TYPE_FAULT"; };
    EXPECT_EQ(caught([&] { (void)lifecycle.create(request()); }).kind(), ErrorKind::Fault);
    EXPECT_EQ(transport.count("DELETE"), 0);

    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    auto req = request();
    req.timeout = ms{2000};
    EXPECT_EQ(caught([&] { (void)lifecycle.create(req); }).kind(), ErrorKind::Timeout);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

TEST_F(LifecycleTest, CredentialsNotFoundAtFirstAreRetried) {
    api.credentials_404 = 2;
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.connection.password, "pw-core-1234");
    EXPECT_EQ(calls(), (std::vector<std::string>{list, post, describe, creds, creds, creds}));
    EXPECT_EQ(clock.sleeps.size(), 2U);
}

TEST_F(LifecycleTest, WithoutALagWaitCredentialsAreAskedOnce) {
    // url and shell: no wait for a lagging password, one request, bounded
    // by the run's token (no deadline).
    (void)lifecycle.create(request());
    transport.requests.clear();
    const BranchDetails d = client.describe_branch(k_id, {});
    const ConnectionInfo info = lifecycle.connection_for(d, Endpoint::ReadWrite, "require",
                                                         Deadline{}, /*wait_for_lag=*/false);
    EXPECT_EQ(info.password, "pw-core-1234");
    EXPECT_EQ(calls(), (std::vector<std::string>{describe, creds}));

    api.credentials_404 = 1;  // a lagging password is not waited for
    EXPECT_EQ(caught([&] {
                  (void)lifecycle.connection_for(d, Endpoint::ReadWrite, "require", Deadline{},
                                                 /*wait_for_lag=*/false);
              }).kind(),
              ErrorKind::NotFound);
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST_F(LifecycleTest, ADeadlineAlreadyPassedEndsTheCredentialsStepWithoutARequest) {
    // create: a readiness poll answered after the deadline leaves no time
    // for the credentials; the one deadline holds (no request past it).
    (void)lifecycle.create(request());
    transport.requests.clear();
    const BranchDetails d = client.describe_branch(k_id, {});
    transport.requests.clear();
    EXPECT_EQ(caught([&] {
                  (void)lifecycle.connection_for(d, Endpoint::ReadWrite, "require",
                                                 Deadline::at(clock.now()));
              }).kind(),
              ErrorKind::Timeout);
    EXPECT_TRUE(calls().empty());
}

TEST_F(LifecycleTest, CredentialsWithoutPasswordFailAndCleanUp) {
    api.credentials_body = R"({"username":"xata"})";  // never a password
    EXPECT_EQ(caught([&] { (void)lifecycle.create(request()); }).kind(), ErrorKind::Protocol);
    EXPECT_EQ(calls().back(), del);
}

TEST_F(LifecycleTest, ConnectionFromHostedCredentials) {
    api.credentials_body =
        R"({"username":"xata","password":"p","hostname":")" + k_id +
        R"(.eu-central-1.xata.tech","port":6543,"dbname":"appdb","connectionString":null})";
    api.describe_connection_string =
        "postgresql://xata:p@" + k_id + "-deprecated.us-east-1.xata.invalid:1/x";
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.connection.host, k_id + ".eu-central-1.xata.tech");
    EXPECT_EQ(r.connection.port, 6543);
    EXPECT_EQ(r.connection.database, "appdb");
}

TEST_F(LifecycleTest, ConnectionFromCredentialsConnectionString) {
    api.credentials_body =
        R"({"username":"xata","password":"p","connectionString":"postgresql://xata:p@h.example:7000/dbx"})";
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.connection.host, "h.example");
    EXPECT_EQ(r.connection.port, 7000);
    EXPECT_EQ(r.connection.database, "dbx");
}

TEST_F(LifecycleTest, ConnectionFromDescribeConnectionString) {
    api.describe_connection_string =
        "postgresql://xata:p@" + k_id + ".gw.example:7654/xata?sslmode=require";
    auto req = request();
    req.sslmode = "verify-full";
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.connection.host, k_id + ".gw.example");
    EXPECT_EQ(r.connection.port, 7654);
    EXPECT_EQ(r.connection.database, "xata");
    EXPECT_EQ(r.connection.sslmode, "verify-full");
    EXPECT_EQ(r.connection.password, "pw-core-1234");
}

TEST_F(LifecycleTest, ConnectionFromRegionFallbackWithEndpoints) {
    struct Case {
        Endpoint e;
        std::string host;
    };
    const Case cases[] = {{Endpoint::ReadWrite, k_id + ".us-east-1.xata.tech"},
                          {Endpoint::Read, k_id + "-r.us-east-1.xata.tech"},
                          {Endpoint::ReadOnly, k_id + "-ro.us-east-1.xata.tech"},
                          {Endpoint::Pooler, k_id + "-pooler.us-east-1.xata.tech"}};
    for (const auto& c : cases) {
        api.branches.resize(1);  // only main
        auto req = request();
        req.endpoint = c.e;
        const auto r = lifecycle.create(req);
        EXPECT_EQ(r.connection.host, c.host);
        EXPECT_EQ(r.connection.port, 5432);
        EXPECT_EQ(r.connection.database, "xata");
    }
}

TEST_F(LifecycleTest, NoHostAndNoRegionIsProtocol) {
    api.region = "";
    EXPECT_EQ(caught([&] { (void)lifecycle.create(request()); }).kind(), ErrorKind::Protocol);
    EXPECT_EQ(calls().back(), del);
}

TEST_F(LifecycleTest, RemoveById) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    Lifecycle::DeleteRequest req;
    req.id = k_id;
    req.parent = "main";
    req.prefix = "sb-";
    const auto r = lifecycle.remove(req);
    EXPECT_TRUE(r.deleted);
    EXPECT_EQ(r.name, k_name);
    EXPECT_EQ(calls(), (std::vector<std::string>{describe, list, del}));  // list: its children
}

TEST_F(LifecycleTest, RemoveByName) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    Lifecycle::DeleteRequest req;
    req.name = k_name;
    req.parent = "main";
    req.prefix = "sb-";
    const auto r = lifecycle.remove(req);
    EXPECT_TRUE(r.deleted);
    EXPECT_EQ(r.id, k_id);
    EXPECT_EQ(calls(), (std::vector<std::string>{list, del}));
}

TEST_F(LifecycleTest, RemoveWhenAlreadyGone) {
    Lifecycle::DeleteRequest by_id;
    by_id.id = k_id;
    by_id.parent = "main";
    by_id.prefix = "sb-";
    EXPECT_FALSE(lifecycle.remove(by_id).deleted);
    Lifecycle::DeleteRequest by_name;
    by_name.name = k_name;
    by_name.parent = "main";
    by_name.prefix = "sb-";
    EXPECT_FALSE(lifecycle.remove(by_name).deleted);
    EXPECT_EQ(transport.count("DELETE"), 0);

    // Listed, but gone by the time DELETE arrives.
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    transport.handler = [this](const HttpRequest& r) {
        return r.method == "DELETE" ? answer(404, R"({"message":"branch [x] not found"})")
                                    : api.route(r);
    };
    EXPECT_FALSE(lifecycle.remove(by_name).deleted);
    EXPECT_EQ(transport.count("DELETE"), 1);
}

TEST_F(LifecycleTest, RemoveRefusesTheParent) {
    Lifecycle::DeleteRequest by_name;
    by_name.name = "main";
    by_name.parent = "main";
    by_name.prefix = "sb-";
    by_name.force = true;
    EXPECT_EQ(caught([&] { (void)lifecycle.remove(by_name); }).kind(), ErrorKind::Conflict);

    Lifecycle::DeleteRequest by_id;
    by_id.id = k_parent;
    by_id.parent = k_parent;
    by_id.parent_is_id = true;
    by_id.prefix = "sb-";
    by_id.force = true;
    EXPECT_EQ(caught([&] { (void)lifecycle.remove(by_id); }).kind(), ErrorKind::Conflict);

    // The parent named by name, the target given by id.
    Lifecycle::DeleteRequest mixed;
    mixed.id = k_parent;
    mixed.parent = "main";
    mixed.prefix = "sb-";
    mixed.force = true;
    EXPECT_EQ(caught([&] { (void)lifecycle.remove(mixed); }).kind(), ErrorKind::Conflict);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

TEST_F(LifecycleTest, RemoveRefusesNamesWithoutPrefixUnlessForced) {
    api.branches.push_back({k_id, "feature-x", k_parent, ms{0}, ""});
    Lifecycle::DeleteRequest req;
    req.name = "feature-x";
    req.parent = "main";
    req.prefix = "sb-";
    const Error e = caught([&] { (void)lifecycle.remove(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_EQ(e.reason(), ErrorReason::NeedsForce);
    EXPECT_EQ(transport.count("DELETE"), 0);
    req.force = true;
    EXPECT_TRUE(lifecycle.remove(req).deleted);
}

TEST_F(LifecycleTest, RemoveRefusesTheParentOfLiveBranchesEvenForced) {
    api.branches.push_back({k_id, k_name, k_parent, ms{0}, ""});
    api.branches.push_back({k_other, "sb-child-1", k_id, ms{0}, ""});
    for (const bool by_id : {false, true}) {
        for (const bool force : {false, true}) {
            Lifecycle::DeleteRequest req;
            if (by_id) {
                req.id = k_id;
            } else {
                req.name = k_name;
            }
            req.parent = "main";
            req.prefix = "sb-";
            req.force = force;
            const Error e = caught([&] { (void)lifecycle.remove(req); });
            EXPECT_EQ(e.kind(), ErrorKind::Conflict);
            EXPECT_EQ(exit_code(e.kind()), 5);
            const std::string m = e.what();
            EXPECT_NE(m.find("parent of 1 live branch, e.g. 'sb-child-1' (id " + k_other + ")"),
                      std::string::npos)
                << m;
        }
    }
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_EQ(transport.count("GET"), 6);  // a list each (and a describe by id): one list only
    // Once the child is gone, the branch goes.
    api.branches.pop_back();
    Lifecycle::DeleteRequest req;
    req.name = k_name;
    req.parent = "main";
    req.prefix = "sb-";
    EXPECT_TRUE(lifecycle.remove(req).deleted);
}

TEST_F(LifecycleTest, RemoveWithNothingIsUsage) {
    EXPECT_EQ(caught([&] { (void)lifecycle.remove({}); }).kind(), ErrorKind::Usage);
}

// ---- ownership: a run claims only a branch whose tag carries its token

TEST_F(LifecycleTest, UncertainPostThenAConcurrentRunsBranchIsAdoptedAndNeverDeleted) {
    // Our POST answers 503 (outcome unknown) while a concurrent run's POST made
    // the branch, tagged with its own token, and handed it to its sandbox.
    api.on_post = [this](const std::string& name, const std::string& parent) {
        api.branches.push_back({k_id, name, parent, clock.elapsed(), k_foreign_tag});
        return answer(503, R"({"message":"unavailable"})");
    };
    api.status = [](const FakeApi&) { return "STATUS_TYPE_FAULT"; };  // then this run fails late
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Fault);
    EXPECT_EQ(transport.count("DELETE"), 0) << "deleted another run's branch";
    EXPECT_EQ(e.cleanup(), CleanupState::None);
    EXPECT_NE(api.find(k_id), nullptr);

    api.status = [](const FakeApi&) { return "STATUS_TYPE_HEALTHY"; };
    const auto r = lifecycle.create(request());
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.created_by_us);
}

TEST_F(LifecycleTest, UncertainPostThatMadeOurBranchIsOursAndCleanedUp) {
    api.on_post = [this](const std::string& name, const std::string& parent) {
        (void)api.create(name, parent);  // carries our tag
        return answer(502);
    };
    api.status = [](const FakeApi&) { return "STATUS_TYPE_FAULT"; };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Fault);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(api.find(k_id), nullptr);
}

TEST_F(LifecycleTest, TheUsersDescriptionIsTheTagsNote) {
    auto req = request();
    req.description = "ci run 42";
    (void)lifecycle.create(req);
    const auto body = posted_body();
    EXPECT_EQ(body.at("description"), k_tag + " - ci run 42");
}

// ---- cancellation with an injected token (no signals, no sleeps)

class CancelTest : public LifecycleTest {
  protected:
    CancelToken run;
    CancelToken cleanup;
    Lifecycle cancellable{client, clock, progress, RunControl{&run, &cleanup}};
};

TEST_F(CancelTest, CancelDuringThePostDeletesOurBranchAlsoWithTheParentGivenAsId) {
    api.on_post = [this](const std::string& name, const std::string& parent) {
        (void)api.create(name, parent);
        run.cancel(15);  // SIGTERM while the answer is pending
        return failure(TransportError::Kind::Cancelled, true, "Callback aborted");
    };
    auto req = request();
    req.parent = k_parent;
    req.parent_is_id = true;
    const Error e = caught([&] { (void)cancellable.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(exit_code(e.kind(), e.signal_number()), 143);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(calls(), (std::vector<std::string>{post, list, describe, del}));
    EXPECT_EQ(api.find(k_id), nullptr);
    // The cleanup ran under its own token and budget.
    EXPECT_EQ(transport.requests.back().limits.cancel, &cleanup);
    EXPECT_LE(*transport.requests.back().limits.time_left, ms{3000});
}

TEST_F(CancelTest, CancelDuringThePostLeavesAnotherRunsBranchAlone) {
    api.on_post = [this](const std::string& name, const std::string& parent) {
        api.branches.push_back({k_id, name, parent, clock.elapsed(), k_foreign_tag});
        run.cancel(2);
        return failure(TransportError::Kind::Cancelled, true, "Callback aborted");
    };
    const Error e = caught([&] { (void)cancellable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_EQ(e.cleanup(), CleanupState::None);
}

TEST_F(CancelTest, CancelWhileWaitingDeletesOurBranch) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    clock.on_sleep = [this](ms) {
        if (clock.elapsed() >= ms{1000}) {
            run.cancel(1);  // SIGHUP
        }
    };
    const Error e = caught([&] { (void)cancellable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(exit_code(e.kind(), e.signal_number()), 129);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(calls().back(), del);
}

TEST_F(CancelTest, CancelDuringADescribeOfTheWaitNamesTheWaitNotTheUrl) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    int describes = 0;
    transport.handler = [&](const HttpRequest& r) {
        if (r.method == "GET" &&
            r.url.find("/branches/" + std::string(k_id)) != std::string::npos &&
            r.url.find("credentials") == std::string::npos && ++describes == 2) {
            run.cancel(2);  // Ctrl-C while the poll is in flight
            return failure(TransportError::Kind::Cancelled, true, "Callback aborted");
        }
        return api.route(r);
    };
    const Error e = caught([&] { (void)cancellable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(e.operation(), "wait for branch " + request().branch_name);
    EXPECT_EQ(e.describe(),
              "wait for branch " + request().branch_name + ": interrupted by signal 2");
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

TEST_F(CancelTest, FrozenApiDuringCleanupEndsWithinTheBudgetAndNamesTheBranch) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    clock.on_sleep = [this](ms) { run.cancel(15); };
    transport.handler = [this](const HttpRequest& r) {
        if (!run.cancelled()) {
            return api.route(r);
        }
        // The API stopped answering: every request runs into its time limit.
        clock.advance(*transport.requests.back().limits.time_left);
        return timed_out();
    };
    const ms before = clock.elapsed();
    const Error e = caught([&] { (void)cancellable.create(request()); });
    const ms took = clock.elapsed() - before;
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(e.cleanup(), CleanupState::Left);
    EXPECT_EQ(e.cleanup_branch_id(), k_id);
    EXPECT_LE(took, ms{10500});
    EXPECT_GE(transport.count("DELETE"), 2);  // retried within the budget
    for (const auto& r : transport.requests) {
        if (r.request.method == "DELETE") {
            EXPECT_LE(*r.limits.time_left, ms{3000});
        }
    }
}

TEST_F(CancelTest, ASecondSignalEndsTheCleanupAtOnce) {
    api.status = [](const FakeApi&) { return "STATUS_TYPE_TRANSIENT"; };
    clock.on_sleep = [this](ms) {
        run.cancel(2);
        cleanup.cancel(2);  // Ctrl-C twice
    };
    const Error e = caught([&] { (void)cancellable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(e.cleanup(), CleanupState::Left);
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_NE(api.find(k_id), nullptr);
}

// ---- the command's time limit

TEST_F(LifecycleTest, SilentApiEndsAtTheTimeLimit) {
    transport.handler = [this](const HttpRequest&) {
        clock.advance(*transport.requests.back().limits.time_left);
        return timed_out();
    };
    auto req = request();
    req.timeout = ms{5000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(e.reason(), ErrorReason::DeadlineReached);
    EXPECT_EQ(clock.elapsed(), ms{5000});
}

TEST_F(LifecycleTest, SilentPostEndsAtTheTimeLimitAndNamesWhatMayExist) {
    transport.handler = [this](const HttpRequest&) {
        clock.advance(*transport.requests.back().limits.time_left);
        return timed_out();
    };
    auto req = request();
    req.parent = k_parent;
    req.parent_is_id = true;
    req.timeout = ms{5000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(clock.elapsed(), ms{5000});  // no lookup past the time limit
    EXPECT_EQ(calls(), (std::vector<std::string>{post}));
    EXPECT_EQ(e.cleanup(), CleanupState::Unknown);
    EXPECT_EQ(e.cleanup_branch_name(), k_name);
}

TEST_F(LifecycleTest, PostRetryAfterIsCappedByTheTimeLimit) {
    api.on_post = [](const std::string&, const std::string&) {
        return answer(503, R"({"message":"branch creation is disabled"})", {{"retry-after", "30"}});
    };
    auto req = request();
    req.timeout = ms{5000};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);  // the API answered, busy
    EXPECT_LE(clock.elapsed(), ms{5000});
    EXPECT_EQ(transport.count("POST"), 1);
}

// ---- wake: temporary refusals never cost a healthy branch

TEST_F(LifecycleTest, WakeRefusalsNeverDeleteAHealthyBranch) {
    // Stays hibernated until 15 s (polls at 3.3 s and 10.5 s wake it), then
    // turns healthy on its own; every wake meets 503, 409 or the temporary
    // 403 after all its retries.
    api.status = [](const FakeApi& a) {
        return a.since_created() < ms{15000} ? "STATUS_TYPE_HIBERNATED" : "STATUS_TYPE_HEALTHY";
    };
    int patches = 0;
    transport.handler = [&](const HttpRequest& r) {
        if (r.method != "PATCH") {
            return api.route(r);
        }
        switch (patches++ % 3) {
            case 0:
                return answer(503, R"({"message":"unavailable"})");
            case 1:
                return answer(
                    409, R"({"message":"branch [x] was modified concurrently, please retry"})");
            default:
                return answer(403, R"({"message":"Branch [x] update is temporarily unavailable"})");
        }
    };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.status.type, StatusType::Healthy);
    EXPECT_GT(patches, 4);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

TEST_F(LifecycleTest, AnyExceptionAfterCreatingCleansUp) {
    transport.handler = [this](const HttpRequest& r) -> HttpOutcome {
        if (r.url.find("/credentials") != std::string::npos) {
            throw std::runtime_error("library trouble");
        }
        return api.route(r);
    };
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(api.find(k_id), nullptr);
}

// ---- delete by id: 404 is "already gone" only when the project answers

TEST_F(LifecycleTest, RemoveByIdInAnUnreachableProjectIsNotFound) {
    transport.handler = [](const HttpRequest&) {
        return answer(404, R"({"message":"project [prj_wrong] not found"})");
    };
    Lifecycle::DeleteRequest req;
    req.id = k_id;
    req.parent = "main";
    req.prefix = "sb-";
    const Error e = caught([&] { (void)lifecycle.remove(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_EQ(exit_code(e.kind()), 4);
    EXPECT_EQ(e.reason(), ErrorReason::ProjectNotFound);
    EXPECT_EQ(transport.count("DELETE"), 0);
}
