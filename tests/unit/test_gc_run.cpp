// gc's procedure (gc_run) over a fake Xata project and a fake Signadot, on
// a fake clock: which requests it makes, what it deletes, and every way a
// run ends early. These were end-to-end cases (tests/e2e/test_gc_orphans.py)
// that took seconds each; here they take milliseconds.
#include <spdlog/spdlog.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "xbranch/gc_run.hpp"
#include "xbranch/naming.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using test::answer;
using test::caught;

using test::fake_gc::k_now;
const std::string k_base = "https://api.example.test";
const std::string k_project = k_base + "/organizations/org1/projects/prj_1";
const std::string k_root = "a0000000000000000000000001";
const std::string k_past = "xb1 rpasttoken1 e202001010000";    // expired on 2020-01-01
const std::string k_future = "xb1 rfuturetok1 e209912312359";  // expires in 2099

std::string tagged() {
    return encode_tag(BranchTag{"abcdefghij", std::nullopt, HookState::None, "", ""});
}

struct FakeBranch {
    std::string id;
    std::string name;
    std::string parent;
    std::string description;
    std::string created_at = "2025-05-01T09:00:00Z";  // 80 minutes before k_now
};

// A Xata project: list, describe and delete over a table of branches.
struct FakeXata {
    std::vector<FakeBranch> branches;
    std::map<std::string, HttpOutcome> describe_answers;  // id -> forced answer
    std::vector<std::string> deleted;

    static nlohmann::json body(const FakeBranch& b) {
        return {{"id", b.id},
                {"name", b.name},
                {"parentID", b.parent.empty() ? nlohmann::json() : nlohmann::json(b.parent)},
                {"region", "us-east-1"},
                {"createdAt", b.created_at},
                {"updatedAt", b.created_at},
                {"publicAccess", false},
                {"description", b.description}};
    }

    HttpOutcome serve(const HttpRequest& r) {
        const std::string path = r.url.substr(k_project.size());
        if (r.method == "GET" && path == "/branches") {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& b : branches) {
                nlohmann::json item = body(b);
                item.erase("description");  // the list answer carries none
                list.push_back(item);
            }
            return answer(200, nlohmann::json{{"branches", list}}.dump());
        }
        const std::string id = path.substr(std::string("/branches/").size());
        auto* b = test::find_branch(branches, id);
        if (r.method == "DELETE") {
            if (b == nullptr) {
                return test::branch_not_found(id);
            }
            deleted.push_back(b->name);
            branches.erase(branches.begin() + (b - branches.data()));
            return answer(204);
        }
        if (auto it = describe_answers.find(id); it != describe_answers.end()) {
            return it->second;
        }
        if (b == nullptr) {
            return test::branch_not_found(id);
        }
        nlohmann::json d = body(*b);
        d["status"] = {{"statusType", "STATUS_TYPE_HEALTHY"},
                       {"status", "Cluster in healthy state"},
                       {"instanceCount", 1},
                       {"instanceReadyCount", 1},
                       {"lastUpdated", b->created_at}};
        return answer(200, d.dump());
    }
};

class GcRunTest : public ::testing::Test {
  protected:
    void SetUp() override {
        spdlog::set_level(spdlog::level::off);
        xata.branches.push_back({k_root, "main", "", ""});
        transport.handler = [this](const HttpRequest& r) { return xata.serve(r); };
        sd_transport.handler = [this](const HttpRequest&) {
            ++sd_requests;
            return sd_answer;
        };
    }
    void TearDown() override { clear_secrets(); }

    void add(const std::string& name, const std::string& description = tagged(),
             const std::string& parent = k_root) {
        xata.branches.push_back({"id-" + name, name, parent, description});
    }
    std::string derived(const std::string& sandbox, const std::string& id = {},
                        const std::string& resource = {}) {
        return derive_branch_name({sandbox, id, resource}, "sb-");
    }
    static GcPolicyOptions orphans() {
        GcPolicyOptions o;
        o.prefix = "sb-";
        o.parent_name = "main";
        o.orphans = true;
        o.grace = 0;
        return o;
    }
    GcPlan plan(const GcPolicyOptions& o, bool with_signadot = true) {
        return plan_gc(
            client, with_signadot ? &signadot : nullptr, o.expired, o, [] { return k_now; },
            limits);
    }
    int xata_gets() const { return transport.count("GET"); }
    std::vector<std::string> actions(const GcReport& r) const {
        std::vector<std::string> out;
        for (const auto& row : r.rows) {
            out.push_back(row.candidate.branch.name + ": " + row.action);
        }
        return out;
    }

    test::FakeClock clock;
    test::FakeTransport transport{&clock};
    XataClient client{transport, clock,
                      ApiTarget{k_base + "/", "xau_key0123456789", "org1", "prj_1"}, RetryPolicy{},
                      7};
    FakeXata xata;
    test::FakeTransport sd_transport;
    SignadotClient signadot{
        sd_transport, clock, {"https://sd.example.test/", "sd-key-0123456789", "acme"}};
    Limits limits;  // the run's: what every call of the plan and the deletes gets
    HttpOutcome sd_answer = answer(200, "[]");
    int sd_requests = 0;
};

// From test_orphan_deleted_live_and_unprefixed_kept and
// test_verbose_reports_the_request_cost: one Signadot list, one Xata list,
// one describe (only the orphan's tag is read), one delete.
TEST_F(GcRunTest, OrphanDeletedLiveKeptAtTheRequestCost) {
    add(derived("alive", "rkalive001", "usersdb"));
    add(derived("alive-two", "rkalive002"));
    add(derived("gone", "rkgone0001", "usersdb"));
    add("manual-branch");
    sd_answer = answer(200, R"([{"name":"alive","routingKey":"rkalive001",
        "spec":{"resources":[{"name":"usersdb"}]}},{"name":"alive-two","routingKey":"rkalive002"}])");
    const GcPlan p = plan(orphans());
    EXPECT_EQ(p.signadot_requests, 1);
    EXPECT_EQ(xata_gets(), 2);  // the list and the orphan's describe
    const GcReport r = execute_gc(client, p, false, limits);
    EXPECT_EQ(xata.deleted, std::vector<std::string>{derived("gone", "rkgone0001", "usersdb")});
    EXPECT_EQ(r.deleted, 1);
    EXPECT_EQ(r.kept, 2);  // the live ones; main and manual-branch are no candidates
    EXPECT_EQ(r.failed, 0);
    EXPECT_FALSE(r.interrupted);
    EXPECT_NO_THROW(throw_if_incomplete(r, 0));
}

// From test_renamed_sandbox_still_owns_by_routing_key.
TEST_F(GcRunTest, ARenamedSandboxStillOwnsByRoutingKey) {
    add(derived("gone", "rkgone0001", "usersdb"));
    sd_answer = answer(200, R"([{"name":"gone-renamed","routingKey":"rkgone0001"}])");
    const GcReport r = execute_gc(client, plan(orphans()), false, limits);
    EXPECT_TRUE(xata.deleted.empty());
    EXPECT_EQ(r.deleted, 0);
    EXPECT_EQ(transport.count("GET"), 1);  // nothing selected: no describe
}

// From test_grace_keeps_young_orphans.
TEST_F(GcRunTest, GraceKeepsYoungOrphans) {
    add(derived("gone"));
    sd_answer = answer(200, R"([{"name":"other"}])");
    auto o = orphans();
    o.grace = 3 * 3600;  // the branch is 80 minutes old
    const GcReport r = execute_gc(client, plan(o), false, limits);
    EXPECT_TRUE(xata.deleted.empty());
    ASSERT_EQ(r.rows.size(), 1U);
    EXPECT_EQ(r.rows[0].detail, "no live sandbox, but within the grace period");
}

// From test_dry_run_and_json and test_expired_dry_run_json: a dry run
// deletes nothing and the JSON names reason, kept and expiry.
TEST_F(GcRunTest, DryRunJsonNamesReasonsAndExpiry) {
    add("sb-exp-past", k_past);
    add("sb-exp-future", k_future);
    add("sb-exp-none", "");
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    o.expired = true;
    o.dry_run = true;
    const GcReport r = execute_gc(client, plan(o, false), true, limits);
    EXPECT_EQ(transport.count("DELETE"), 0);
    const nlohmann::json doc = gc_report_json(r, true);
    EXPECT_TRUE(doc["dryRun"].get<bool>());
    EXPECT_EQ(doc["deleted"], 1);
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& c : doc["candidates"]) {
        by_name[c["name"].get<std::string>()] = c;
    }
    EXPECT_EQ(by_name["sb-exp-past"]["reason"], "expired");
    EXPECT_EQ(by_name["sb-exp-past"]["action"], "would delete");
    EXPECT_EQ(by_name["sb-exp-past"]["expiresAt"], "2020-01-01T00:00:00Z");
    EXPECT_TRUE(by_name["sb-exp-past"]["kept"].is_null());
    EXPECT_EQ(by_name["sb-exp-future"]["kept"], "not expired");
    EXPECT_EQ(by_name["sb-exp-future"]["expiresAt"], "2099-12-31T23:59:00Z");
    EXPECT_EQ(by_name["sb-exp-none"]["kept"], "no xbranch tag");
    EXPECT_TRUE(by_name["sb-exp-none"]["reason"].is_null());
    EXPECT_EQ(by_name["sb-exp-none"]["ageSeconds"], 4830);
}

// From test_orphans_keeps_the_untagged_and_deletes_the_orphan: a prefixed
// branch xbranch never made stays in every mode; 1 list + 4 describes.
TEST_F(GcRunTest, UntaggedPrefixedBranchesStayInEveryMode) {
    add("sb-human-work", "my own branch");
    add("sb-human-bare", "");
    add("sb-human-xb1", "xb1 not a tag");
    add(derived("gone", "rkgone0001"));
    sd_answer = answer(200, R"([{"name":"other","routingKey":"rkother001"}])");
    const GcPlan p = plan(orphans());
    EXPECT_EQ(xata_gets(), 5);
    const GcReport r = execute_gc(client, p, false, limits);
    EXPECT_EQ(xata.deleted, std::vector<std::string>{derived("gone", "rkgone0001")});
    std::map<std::string, std::string> kept;
    for (const auto& row : r.rows) {
        kept[row.candidate.branch.name] = row.candidate.kept_why;
    }
    EXPECT_EQ(kept["sb-human-work"], "no xbranch tag");
    EXPECT_EQ(kept["sb-human-bare"], "no xbranch tag");
    EXPECT_EQ(kept["sb-human-xb1"], "unreadable tag");

    // From test_older_than_keeps_the_untagged_and_deletes_the_old and
    // test_expired_and_all_modes_together: no Signadot without --orphans.
    for (const bool all_modes : {false, true}) {
        add(derived("gone-again"));
        GcPolicyOptions o = all_modes ? orphans() : GcPolicyOptions{};
        o.prefix = "sb-";
        o.parent_name = "main";
        o.older_than = 0;
        o.expired = all_modes;
        xata.deleted.clear();
        const int before = sd_requests;
        const GcReport again = execute_gc(client, plan(o, all_modes), false, limits);
        EXPECT_EQ(xata.deleted, std::vector<std::string>{derived("gone-again")}) << all_modes;
        EXPECT_EQ(sd_requests, before + (all_modes ? 1 : 0));
        EXPECT_EQ(again.deleted, 1);
    }
}

// From test_a_failed_describe_keeps_the_branch_and_fails_the_run (there it
// waited out real retries): the branch is kept, the row fails, exit 8.
TEST_F(GcRunTest, AFailedDescribeKeepsTheBranchAndFailsTheRun) {
    add(derived("gone"));
    xata.describe_answers["id-" + derived("gone")] = answer(500, "{}");
    sd_answer = answer(200, R"([{"name":"other"}])");
    const GcReport r = execute_gc(client, plan(orphans()), false, limits);
    EXPECT_EQ(transport.count("DELETE"), 0);
    EXPECT_EQ(r.failed, 1);
    ASSERT_EQ(r.rows.size(), 1U);
    EXPECT_EQ(r.rows[0].action, "failed");
    EXPECT_NE(r.rows[0].detail.find("kept: could not read its tag"), std::string::npos);
    const Error e = caught([&] { throw_if_incomplete(r, 0); });
    EXPECT_EQ(e.kind(), ErrorKind::Unavailable);
    EXPECT_EQ(exit_code(e.kind()), 8);
    EXPECT_NE(e.describe().find("1 branch(es) could not be checked or deleted"), std::string::npos);
    EXPECT_LT(clock.elapsed(), std::chrono::minutes(5));  // retried on the fake clock only
}

// --expired reads every candidate's tag in one batch, 8 in flight by
// default (1: one after another); the verdicts are the same either way.
TEST_F(GcRunTest, TagsAreReadInOneBatchInFlight) {
    for (int i = 0; i < 20; ++i) {
        add("sb-exp-" + std::to_string(i), i % 4 == 0 ? k_past : k_future);
    }
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    o.expired = true;
    const GcPlan p = plan(o, false);
    ASSERT_EQ(transport.batches.size(), 1U);
    EXPECT_EQ(transport.batches[0], std::make_pair(std::size_t{20}, k_describes_in_flight));
    EXPECT_EQ(k_describes_in_flight, 8U);
    const GcReport r = execute_gc(client, p, true, limits);
    EXPECT_EQ(r.deleted, 5);
    EXPECT_EQ(r.kept, 15);
    transport.batches.clear();
    const GcPlan one = plan_gc(
        client, nullptr, true, o, [] { return k_now; }, limits, 1);
    std::size_t sent = 0;
    for (const auto& [size, in_flight] : transport.batches) {
        EXPECT_EQ(in_flight, 1U);
        sent += size;
    }
    EXPECT_EQ(sent, 20U);
    EXPECT_EQ(execute_gc(client, one, true, limits).deleted, 5);
}

// A branch found gone while its tag is read is no candidate; a 404 on
// delete is "already gone", a 500 a failed row (the run goes on).
TEST_F(GcRunTest, GoneBranchesAndFailedDeletes) {
    add(derived("vanished"));
    add(derived("gone-a"));
    add(derived("gone-b"));
    xata.describe_answers["id-" + derived("vanished")] =
        test::branch_not_found("id-" + derived("vanished"));
    sd_answer = answer(200, R"([{"name":"other"}])");
    GcPlan p = plan(orphans());
    ASSERT_EQ(p.candidates.size(), 2U);              // vanished is no candidate
    xata.branches.erase(xata.branches.begin() + 2);  // gone-a goes meanwhile
    bool first = true;
    transport.handler = [this, &first](const HttpRequest& r) {
        if (r.method == "DELETE" && r.url.find(derived("gone-b")) != std::string::npos && first) {
            first = false;
            return answer(400, R"({"message":"no"})");
        }
        return xata.serve(r);
    };
    const GcReport r = execute_gc(client, p, false, limits);
    EXPECT_EQ(actions(r), (std::vector<std::string>{derived("gone-a") + ": already gone",
                                                    derived("gone-b") + ": failed"}));
    EXPECT_EQ(r.deleted, 1);
    EXPECT_EQ(r.failed, 1);
}

// From test_ctrl_c_stops_with_130_and_a_summary (kept end to end for the
// real signal): a token cancelled during the second delete stops the run.
TEST_F(GcRunTest, ACancelDuringADeleteStopsTheRun) {
    for (const auto* name : {"cut-a", "cut-b", "cut-c"}) {
        add(derived(name));
    }
    sd_answer = answer(200, R"([{"name":"other"}])");
    CancelToken cancel;
    limits = Limits{&cancel, {}, std::nullopt};
    const GcPlan p = plan(orphans());
    int deletes = 0;
    transport.handler = [&](const HttpRequest& r) {
        if (r.method == "DELETE" && ++deletes == 2) {
            // The signal comes while the second delete is in flight.
            cancel.cancel(SIGINT);
            return test::failure(TransportError::Kind::Cancelled, true, "cancelled");
        }
        return xata.serve(r);
    };
    const GcReport r = execute_gc(client, p, false, limits);
    EXPECT_EQ(r.deleted, 1);
    EXPECT_TRUE(r.interrupted);
    ASSERT_EQ(r.rows.size(), 3U);
    EXPECT_EQ(r.rows[1].action, "not done");
    EXPECT_EQ(r.rows[1].detail, "interrupted; the delete may have gone through");
    EXPECT_EQ(r.rows[2].detail, "interrupted");  // never asked for
    EXPECT_EQ(deletes, 2);
    const Error e = caught([&] { throw_if_incomplete(r, cancel.signal_number()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(exit_code(e.kind(), e.signal_number()), 130);
    EXPECT_NE(e.describe().find("stopped after deleting 1 branch(es)"), std::string::npos);
}

// A cancel before anything was deleted: Interrupted, "nothing was deleted".
TEST_F(GcRunTest, ACancelWhilePlanningDeletesNothing) {
    add(derived("gone"));
    CancelToken cancel;
    cancel.cancel(SIGTERM);
    limits = Limits{&cancel, {}, std::nullopt};
    const Error e = caught([&] { plan(orphans(), false); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_NE(e.hint().find("nothing was deleted"), std::string::npos);
    EXPECT_EQ(transport.count("DELETE"), 0);
}

// From test_each_untrusted_answer_deletes_nothing: an answer from Signadot
// that cannot be trusted throws before Xata is asked at all, and says that
// nothing was deleted (each answer's kind: test_signadot_client).
TEST_F(GcRunTest, AnUntrustedSandboxListDeletesNothing) {
    add(derived("gone"));
    for (const auto& bad :
         {answer(401, "{}"), answer(500, "{}"), answer(200, "{}"), test::timed_out()}) {
        sd_answer = bad;
        const Error e = caught([&] { plan(orphans()); });
        EXPECT_NE(e.hint().find("nothing was deleted"), std::string::npos) << e.describe();
    }
    EXPECT_TRUE(transport.requests.empty());
}

// From EmptySandboxListTest (confirmation, young branches, one live
// sandbox): the plan's candidates feed check_empty_sandbox_list.
TEST_F(GcRunTest, AnEmptySandboxListIsDoubtUnlessConfirmed) {
    add(derived("one", "rkone00001"));
    add(derived("two", "rktwo00001"));
    auto o = orphans();
    EXPECT_TRUE(check_empty_sandbox_list(plan(o).candidates, {}, o).refuse);
    o.trust_empty_sandbox_list = true;
    const GcPlan trusted = plan(o);
    EXPECT_FALSE(check_empty_sandbox_list(trusted.candidates, trusted.sandboxes, o).refuse);
    EXPECT_EQ(execute_gc(client, trusted, false, limits).deleted, 2);

    add(derived("three"));
    o = orphans();
    o.grace = 3 * 3600;  // young: nothing would go, no doubt
    const GcPlan young = plan(o);
    EXPECT_FALSE(check_empty_sandbox_list(young.candidates, young.sandboxes, o).refuse);

    sd_answer = answer(200, R"([{"name":"three"}])");
    o = orphans();
    const GcPlan one = plan(o);
    EXPECT_FALSE(check_empty_sandbox_list(one.candidates, one.sandboxes, o).refuse);
}

// From test_expired_deletes_only_expired_prefixed_branches (its request
// count) and test_parent_of_live_branches_is_kept.
TEST_F(GcRunTest, ExpiredReadsEveryPrefixedTagAndKeepsParents) {
    add("sb-exp-past", k_past);
    add("sb-exp-future", k_future);
    add("sb-exp-none", "");
    add("manual-expired", k_past);
    add("sb-exp-parent", k_past);
    add("sb-exp-child", k_future, "id-sb-exp-parent");
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    o.expired = true;
    const GcPlan p = plan(o, false);
    EXPECT_EQ(xata_gets(), 1 + 5);  // the list, then the five prefixed children
    const GcReport r = execute_gc(client, p, false, limits);
    EXPECT_EQ(xata.deleted, std::vector<std::string>{"sb-exp-past"});
    for (const auto& row : r.rows) {
        if (row.candidate.branch.name == "sb-exp-parent") {
            EXPECT_EQ(row.candidate.kept_why, "parent of 1 live branch");
        }
    }
    EXPECT_EQ(sd_requests, 0);
}

}  // namespace
}  // namespace xbranch
