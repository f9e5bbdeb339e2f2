// Quota awareness: the limits answer (hosted and Core), the pure check at
// the cap, and the server's own refusals, all as QuotaExceeded (exit 12).
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/quota.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using test::answer;
using test::caught;

HttpResponse response(long status, std::string body) {
    return *answer(status, std::move(body)).response;
}

Branch make(const std::string& name, const std::string& created,
            std::optional<std::string> parent = std::string("root")) {
    Branch b;
    b.id = "id-" + name;
    b.name = name;
    b.parent_id = std::move(parent);
    b.created_at = created;
    return b;
}

TEST(Quota, ExitCodeTwelve) {
    EXPECT_EQ(exit_code(ErrorKind::QuotaExceeded), 12);
    EXPECT_STREQ(kind_name(ErrorKind::QuotaExceeded), "branch quota reached");
}

TEST(Quota, LimitsPath) {
    EXPECT_EQ(limits_path("org1", "prj_2"), "/organizations/org1/projects/prj_2/limits");
}

TEST(Quota, ParsesHostedLimitsFlatOrNested) {
    auto flat = limits_from_response(
        response(200, R"({"maxBranchesPerProject":100,"maxBranchesPerHour":20,"other":"x"})"));
    ASSERT_TRUE(flat);
    EXPECT_EQ(flat->max_branches_per_project, 100);
    EXPECT_EQ(flat->max_branches_per_hour, 20);
    auto nested = limits_from_response(response(200, R"({"limits":{"maxBranchesPerProject":7}})"));
    ASSERT_TRUE(nested);
    EXPECT_EQ(nested->max_branches_per_project, 7);
    EXPECT_FALSE(nested->max_branches_per_hour);
}

TEST(Quota, CoreAnswers404NoLimitsKnown) {
    EXPECT_FALSE(limits_from_response(response(404, R"({"message":"not found"})")));
}

TEST(Quota, BadLimitsAnswersThrow) {
    EXPECT_EQ(caught([] { limits_from_response(response(200, "not json")); }).kind(),
              ErrorKind::Protocol);
    EXPECT_EQ(caught([] {
                  limits_from_response(response(200, R"({"maxBranchesPerProject":"9"})"));
              }).kind(),
              ErrorKind::Protocol);
    EXPECT_EQ(caught([] {
                  limits_from_response(response(200, R"({"maxBranchesPerProject":-1})"));
              }).kind(),
              ErrorKind::Protocol);
    EXPECT_EQ(caught([] { limits_from_response(response(401, R"({"message":"no"})")); }).kind(),
              ErrorKind::Auth);
    EXPECT_EQ(caught([] { limits_from_response(response(503, "")); }).kind(),
              ErrorKind::Unavailable);
}

TEST(Quota, CheckAtCapListsTheOldestOfOurs) {
    std::vector<Branch> branches = {
        make("main", "2020-01-01T00:00:00Z", std::nullopt),
        make("sb-c", "2025-03-01T00:00:00Z"),
        make("manual", "2019-01-01T00:00:00Z"),
        make("sb-a", "2025-01-01T00:00:00Z"),
        make("sb-bad", "garbage"),
        make("sb-b", "2025-02-01T00:00:00Z"),
    };
    ProjectLimits limits;
    limits.max_branches_per_project = 6;
    auto c = check_quota(branches, limits, "sb-", 3);
    EXPECT_TRUE(c.at_cap);
    EXPECT_EQ(c.live, 6U);
    EXPECT_EQ(c.cap, 6);
    ASSERT_EQ(c.oldest.size(), 3U);
    EXPECT_EQ(c.oldest[0].name, "sb-a");
    EXPECT_EQ(c.oldest[1].name, "sb-b");
    EXPECT_EQ(c.oldest[2].name, "sb-c");

    limits.max_branches_per_project = 7;
    EXPECT_FALSE(check_quota(branches, limits, "sb-").at_cap);
    EXPECT_FALSE(check_quota(branches, std::nullopt, "sb-").at_cap);
    EXPECT_FALSE(check_quota(branches, ProjectLimits{}, "sb-").at_cap);
    // The unreadable time sorts last, after the readable ones.
    EXPECT_EQ(check_quota(branches, limits, "sb-").oldest.back().name, "sb-bad");
}

TEST(Quota, ErrorNamesCountCapOldestAndTheCommand) {
    ProjectLimits limits;
    limits.max_branches_per_project = 2;
    auto c =
        check_quota({make("sb-a", "2025-01-01T00:00:00Z"), make("sb-b", "2025-02-01T00:00:00Z")},
                    limits, "sb-");
    Error e = quota_error(c, "xbranch gc --orphans --expired");
    EXPECT_EQ(e.kind(), ErrorKind::QuotaExceeded);
    EXPECT_NE(e.describe().find("2 branches, its cap is 2"), std::string::npos) << e.describe();
    EXPECT_NE(e.describe().find("sb-a (2025-01-01T00:00:00Z), sb-b"), std::string::npos);
    EXPECT_EQ(e.hint(), "free room with `xbranch gc --orphans --expired`");
}

TEST(Quota, ErrorCountsOneBranchInTheSingular) {
    ProjectLimits limits;
    limits.max_branches_per_project = 1;
    const auto c = check_quota({make("main", "2025-01-01T00:00:00Z", std::nullopt)}, limits, "sb-");
    ASSERT_TRUE(c.at_cap);
    const std::string m = quota_error(c, "").describe();
    EXPECT_NE(m.find("the project has 1 branch, its cap is 1"), std::string::npos) << m;
}

TEST(Quota, ServerRefusalsMapToQuotaExceeded) {
    auto r400 = quota_refusal(
        response(400, R"({"id":"abc","message":"project [prj_1] has too many branches"})"));
    ASSERT_TRUE(r400);
    EXPECT_EQ(r400->kind(), ErrorKind::QuotaExceeded);
    EXPECT_EQ(r400->http_status(), 400);
    EXPECT_NE(r400->describe().find("too many branches"), std::string::npos);
    auto r403 =
        quota_refusal(response(403, R"({"message":"organization is over its branch allowance"})"));
    ASSERT_TRUE(r403);
    EXPECT_EQ(r403->kind(), ErrorKind::QuotaExceeded);
    // Not quota: a plain auth failure, another 400, a success.
    EXPECT_FALSE(quota_refusal(response(403, R"({"message":"missing scope branch:write"})")));
    EXPECT_FALSE(quota_refusal(response(400, R"({"message":"invalid name"})")));
    EXPECT_FALSE(quota_refusal(response(201, "{}")));
    EXPECT_FALSE(quota_refusal(response(409, R"({"message":"too many branches"})")));
    // The hourly cap, as the emulator words it; every refusal carries the reason.
    auto hourly = quota_refusal(
        response(403, R"({"message":"project [p] may create at most 5 branches per hour"})"));
    ASSERT_TRUE(hourly);
    EXPECT_EQ(hourly->reason(), ErrorReason::QuotaReached);
    EXPECT_NE(hourly->hint().find("per hour"), std::string::npos);
    EXPECT_EQ(r400->reason(), ErrorReason::QuotaReached);
    EXPECT_EQ(quota_error(QuotaCheck{}, "").reason(), ErrorReason::QuotaReached);
    EXPECT_EQ(quota_error(QuotaCheck{}, "").hint(), "");
}

}  // namespace
}  // namespace xbranch
