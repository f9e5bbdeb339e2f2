// The steps after credentials, wired into Lifecycle::create: the connection
// check (FakeProber), the hooks (FakeProcessRunner, a scripted SqlRunner) and
// the hook state in the tag, on a small stateful fake Xata API.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_edges.hpp"
#include "fakes.hpp"
#include "xbranch/lifecycle.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

using namespace xbranch;
using namespace xbranch::test;
using namespace xbranch::test::fake_project;  // k_base, k_project_url, k_parent, k_name, k_token

namespace {

const std::string k_password = "pw-Secret-77";

// Branches by id; POST makes ids from `next_ids`; PATCH records descriptions.
struct MiniApi {
    struct B {
        std::string id, name, parent, description;
    };
    std::vector<B> branches{{k_parent, "main", "", ""}};
    std::vector<std::string> next_ids{"e80atan1sl5khdkr8pkc33fovk", "f90btbo2tm6liels9qld44gpwl"};
    std::vector<std::string> patched;  // descriptions, in order
    int patch_409 = 0;                 // answer this many PATCHes 409 first
    bool public_access = true;
    int describe_503 = 0;               // answer this many describes 503 (after on_describe)
    std::function<void()> on_describe;  // runs before each describe is answered
    int describes = 0;

    B* find(const std::string& id) { return find_branch(branches, id); }

    HttpOutcome route(const HttpRequest& r) {
        std::string path = r.url.substr(k_project_url.size());
        if (path == "/limits" && r.method == "GET") {
            return answer(404, R"({"id":"x","message":"not found"})");  // Xata Core: no limits
        }
        if (path == "/branches" && r.method == "GET") {
            std::vector<std::string> items;
            for (const auto& b : branches) {
                items.push_back(branch_json(b.id, b.name, b.parent));
            }
            return answer(200, list_json(items));
        }
        if (path == "/branches" && r.method == "POST") {
            const auto j = nlohmann::json::parse(r.body);
            const std::string id = next_ids.front();
            next_ids.erase(next_ids.begin());
            branches.push_back({id, j.at("name"), j.at("parentID"), j.value("description", "")});
            return answer(201, branch_json(id, j.at("name"), j.at("parentID")));
        }
        path = path.substr(std::string("/branches/").size());
        const auto slash = path.find('/');
        const std::string id = path.substr(0, slash);
        if (slash == std::string::npos && r.method == "GET") {
            ++describes;
            if (on_describe) {
                on_describe();
            }
            if (describe_503 > 0) {
                --describe_503;
                return answer(503, R"({"id":"x","message":"busy"})");
            }
        }
        B* b = find(id);
        if (b == nullptr) {
            return branch_not_found(id);
        }
        if (slash != std::string::npos) {
            return answer(200,
                          R"({"username":"xata","password":")" + k_password +
                              R"(","hostname":"db.example.test","port":5432,"dbname":"xata"})");
        }
        if (r.method == "GET") {
            auto j = nlohmann::json::parse(
                details_json(b->id, b->name, b->parent, "STATUS_TYPE_HEALTHY", 1, 1));
            j["description"] = b->description;
            j["publicAccess"] = public_access;
            return answer(200, j.dump());
        }
        if (r.method == "PATCH") {
            if (patch_409 > 0) {
                --patch_409;
                return answer(409, R"({"id":"x","message":"branch [)" + id +
                                       R"(] was modified concurrently, please retry"})");
            }
            b->description = nlohmann::json::parse(r.body).at("description");
            patched.push_back(b->description);
            return answer(200, branch_json(b->id, b->name, b->parent));
        }
        if (r.method == "DELETE") {
            branches.erase(branches.begin() + (b - branches.data()));
            return answer(204);
        }
        return answer(405);
    }
};

class ScriptedSql final : public SqlRunner {
  public:
    SqlScriptResult run(const ConnectionInfo& info, const std::string& file,
                        const std::string& text, Clock&, Deadline, const CancelToken*) override {
        seen.push_back({file, text});
        databases.push_back(info.database);
        if (during) {
            during();
        }
        SqlScriptResult r;
        r.file = file;
        if (fail_line > 0) {
            r.ok = false;
            r.line = fail_line;
            r.sqlstate = "42P01";
            r.message = "relation \"nope\" does not exist";
        }
        return r;
    }
    std::vector<std::pair<std::string, std::string>> seen;
    std::vector<std::string> databases;
    int fail_line = 0;
    std::function<void()> during;  // runs while the "script" runs
};

class UsableTest : public ::testing::Test {
  protected:
    void SetUp() override {
        spdlog::set_level(spdlog::level::off);
        clear_secrets();
        transport.handler = [this](const HttpRequest& r) { return api.route(r); };
        UsableEdges edges;
        edges.prober = &prober;
        edges.sql = &sql;
        edges.processes = &processes;
        edges.locker = &locker;
        edges.hook_output = [this](OutputStream, std::string_view line) {
            hook_lines.push_back(redact(line));
        };
        lifecycle.set_edges(edges);
    }
    void TearDown() override { clear_secrets(); }

    CreateRequest request() const {
        CreateRequest r;
        r.branch_name = k_name;
        r.parent = "main";
        r.timeout = std::chrono::seconds{30};
        r.run_token = k_token;
        r.connect_check = true;
        return r;
    }
    int count(const std::string& method) const { return transport.count(method); }
    // An earlier run's branch, found by name, with this description.
    void existing(const std::string& id, const std::string& description) {
        api.branches.push_back({id, k_name, k_parent, description});
    }

    FakeClock clock;
    FakeTransport transport{&clock};
    MiniApi api;
    XataClient client{transport, clock, ApiTarget{k_base, "xau_usableKey1234567", "org1", "prj_1"},
                      RetryPolicy{}, 7};
    NullProgress progress;
    FakeProber prober{&clock};
    ScriptedSql sql;
    FakeProcessRunner processes;
    FakeHookLocker locker;
    std::vector<std::string> hook_lines;
    Lifecycle lifecycle{client, clock, progress};
};

TEST_F(UsableTest, LoginRetriedUntilItWorksWithTheExactOutputConnection) {
    prober.fail(ProbeReason::AuthFailed);
    prober.fail(ProbeReason::AuthFailed);
    prober.ok();
    auto req = request();
    req.database = "app";
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.login_tries, 3);
    ASSERT_EQ(prober.seen.size(), 3U);
    EXPECT_EQ(prober.seen[0].host, r.connection.host);
    EXPECT_EQ(prober.seen[0].database, "app");
    EXPECT_EQ(r.connection.database, "app");
    EXPECT_EQ(prober.seen[0].password, k_password);
    EXPECT_EQ(r.pooled.host, "db-pooler.example.test");
    EXPECT_EQ(r.pooled.database, "app");
    EXPECT_EQ(count("DELETE"), 0);
    // Short backoff at first (the one policy's steps, jitter off in tests).
    ASSERT_GE(clock.sleeps.size(), 2U);
    EXPECT_EQ(clock.sleeps[clock.sleeps.size() - 2], ms{50});
    EXPECT_EQ(clock.sleeps.back(), ms{100});
}

// The connection is announced once, complete, before the first login (the
// CLI stages the output files meanwhile).
TEST_F(UsableTest, TheConnectionIsAnnouncedBeforeTheFirstLogin) {
    prober.ok();
    auto req = request();
    int calls = 0;
    std::size_t logins_before = 99;
    ConnectionInfo announced;
    req.on_connection = [&](const CreateResult& r) {
        ++calls;
        logins_before = prober.seen.size();
        announced = r.connection;
    };
    const auto r = lifecycle.create(req);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(logins_before, 0U);
    EXPECT_EQ(announced.host, r.connection.host);
    EXPECT_EQ(announced.password, r.connection.password);
    EXPECT_EQ(prober.seen.size(), 1U);
}

TEST_F(UsableTest, DeadlineMeansNotConnectableAndTheNewBranchIsDeleted) {
    for (int i = 0; i < 200; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50},
                    "FATAL: password authentication failed for user \"xata\"");
    }
    auto req = request();
    req.timeout = std::chrono::seconds{5};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
    EXPECT_EQ(exit_code(e.kind()), 11);
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos);
    EXPECT_EQ(e.describe().find(k_password), std::string::npos);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(count("DELETE"), 1);
    EXPECT_EQ(e.reason(), ErrorReason::None);  // public branch: no private hint
    EXPECT_LE(clock.elapsed(), ms{5000 + 3000});
}

// The password never arrives, and the branch is deleted meanwhile (another
// run, gc, the console): the check notices within seconds, not at --timeout.
TEST_F(UsableTest, ABranchDeletedDuringTheLoginWaitEndsTheCheckAtOnce) {
    for (int i = 0; i < 400; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50}, "FATAL: password authentication failed");
    }
    std::string id;
    ms deleted_at{-1};
    clock.on_sleep = [&](ms) {
        if (prober.seen.size() == 12 && deleted_at < ms{0}) {
            id = api.branches.back().id;
            api.branches.pop_back();  // someone else deletes it
            deleted_at = clock.elapsed();
        }
    };
    auto req = request();
    req.timeout = std::chrono::seconds{60};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    ASSERT_GE(deleted_at, ms{0});
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_EQ(exit_code(e.kind()), 4);
    EXPECT_EQ(e.reason(), ErrorReason::BranchVanished);
    EXPECT_EQ(e.branch_id(), id);
    EXPECT_EQ(e.branch_name(), k_name);
    const std::string what = e.what();
    EXPECT_NE(what.find(id), std::string::npos) << what;
    EXPECT_NE(what.find(k_name), std::string::npos) << what;
    EXPECT_EQ(e.cleanup(), CleanupState::None);
    EXPECT_EQ(count("DELETE"), 0);  // nothing to delete, and never another's
    // Noticed at the next look (one per 5 s), far before the 60 s limit.
    EXPECT_LE(clock.elapsed() - deleted_at, ms{6000});
    EXPECT_LE(api.describes, 6);
}

TEST_F(UsableTest, AGiveUpOnADeletedBranchSaysItWasDeleted) {
    // Its database went with it: the check gives up early, and one look says why.
    prober.fail(ProbeReason::DatabaseMissing);
    clock.on_sleep = [&](ms) {
        if (prober.seen.size() == 1 && api.branches.size() == 2) {
            api.branches.pop_back();
        }
    };
    prober.fail(ProbeReason::DatabaseMissing);
    const Error e = caught([&] { (void)lifecycle.create(request()); });
    EXPECT_EQ(e.reason(), ErrorReason::BranchVanished);
    EXPECT_EQ(e.branch_name(), k_name);
    EXPECT_EQ(count("DELETE"), 0);
}

TEST_F(UsableTest, LoginsFailingForSecondsCostAFewDescribesOnly) {
    for (int i = 0; i < 80; ++i) {  // ~20 s of password lag
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    prober.ok();
    int during_check = 0;
    api.on_describe = [&] { during_check += prober.seen.empty() ? 0 : 1; };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.login_tries, 81);
    EXPECT_GE(clock.elapsed(), ms{15000});
    EXPECT_GE(during_check, 3);
    EXPECT_LE(during_check, 5);
}

TEST_F(UsableTest, ADescribeThatFailsDuringTheLoginWaitDoesNotEndTheCheck) {
    for (int i = 0; i < 40; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    prober.ok();
    api.on_describe = [&] {
        if (!prober.seen.empty()) {
            api.describe_503 = 1000;  // the API is busy from the first look on
        }
    };
    const auto r = lifecycle.create(request());
    EXPECT_EQ(r.login_tries, 41);
    EXPECT_EQ(count("DELETE"), 0);
}

TEST_F(UsableTest, ABusyApiDuringTheLoginWaitKeepsTheOneDeadline) {
    for (int i = 0; i < 400; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    api.on_describe = [&] {
        if (!prober.seen.empty()) {
            api.describe_503 = 1000;
        }
    };
    auto req = request();
    req.timeout = std::chrono::seconds{10};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
    EXPECT_LE(clock.elapsed(), ms{10000});
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

TEST_F(UsableTest, ASignalDuringALookAtTheBranchIsInterrupted) {
    CancelToken run;
    CancelToken cleanup;
    Lifecycle stoppable{client, clock, progress, RunControl{&run, &cleanup}};
    UsableEdges edges;
    edges.prober = &prober;
    stoppable.set_edges(edges);
    for (int i = 0; i < 100; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    api.on_describe = [&] {
        if (!prober.seen.empty()) {
            run.cancel(15);
            api.describe_503 = 1;
        }
    };
    const Error e = caught([&] { (void)stoppable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(prober.seen.size(), 5U);  // no login after the stop
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

// Every "try N" the user reads (progress notes, -v log) and the final count agree.
class NotesProgress final : public Progress {
  public:
    void update(const std::string&, const BranchStatus&, std::chrono::milliseconds) override {}
    void note(const std::string& text) override { notes += text + "\n"; }
    std::string notes;
};

int highest_try_named(const std::string& text) {
    int highest = 0;
    for (std::size_t at = text.find("try "); at != std::string::npos;
         at = text.find("try ", at + 1)) {
        const auto digits = text.find_first_not_of("0123456789", at + 4);
        if (digits > at + 4) {
            highest = std::max(highest, std::stoi(text.substr(at + 4, digits - at - 4)));
        }
    }
    return highest;
}

int count_before_tries(const std::string& text) {
    const auto at = text.rfind(" tries");
    const auto from = text.find_last_not_of("0123456789", at - 1) + 1;
    return at == std::string::npos ? -1 : std::stoi(text.substr(from, at - from));
}

TEST_F(UsableTest, TheTryCountsOfProgressLogAndResultAgree) {
    for (const bool works : {true, false}) {
        FakeProber counted(&clock);
        for (int i = 0; i < (works ? 6 : 400); ++i) {
            counted.fail(ProbeReason::AuthFailed, ms{50});
        }
        counted.ok();
        NotesProgress notes;
        Lifecycle checked{client, clock, notes};
        UsableEdges edges;
        edges.prober = &counted;
        checked.set_edges(edges);
        std::ostringstream log;
        const auto before = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(log)));
        spdlog::set_level(spdlog::level::info);
        auto req = request();
        req.timeout = std::chrono::seconds{3};
        std::string final_text;
        int result_tries = -1;
        try {
            result_tries = checked.create(req).login_tries;
        } catch (const Error& e) {
            final_text = e.what();
        }
        spdlog::set_default_logger(before);
        spdlog::set_level(spdlog::level::off);
        if (works) {
            final_text = log.str().substr(log.str().find("login works after"));
        }
        const int tries = static_cast<int>(counted.seen.size());
        EXPECT_EQ(count_before_tries(final_text), tries) << final_text;
        EXPECT_EQ(highest_try_named(notes.notes), tries) << notes.notes;
        EXPECT_EQ(highest_try_named(log.str()), tries) << log.str();
        if (works) {
            EXPECT_EQ(result_tries, 7);
        } else {
            EXPECT_GT(tries, 5);
            EXPECT_NE(log.str().find("the time limit ends before another try"), std::string::npos);
        }
    }
}

TEST_F(UsableTest, KeepOnFailureKeepsTheUnconnectableBranch) {
    for (int i = 0; i < 200; ++i) {
        prober.fail(ProbeReason::Refused, ms{50});
    }
    auto req = request();
    req.timeout = std::chrono::seconds{3};
    req.keep_on_failure = true;
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
    EXPECT_EQ(e.cleanup(), CleanupState::Kept);
    EXPECT_EQ(count("DELETE"), 0);
}

TEST_F(UsableTest, PrivateBranchGetsItsOwnReason) {
    api.public_access = false;
    for (int i = 0; i < 200; ++i) {
        prober.fail(ProbeReason::Timeout, ms{500});
    }
    auto req = request();
    req.timeout = std::chrono::seconds{3};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
    EXPECT_EQ(e.reason(), ErrorReason::PrivateBranch);
}

// The private-branch hint only where the failure fits "not reachable from
// here": a certificate, a password or a server's answer says the network is
// fine, and the hint would send the user the wrong way.
TEST_F(UsableTest, PrivateHintOnlyForFailuresAPrivateBranchExplains) {
    struct Case {
        ProbeReason reason;
        const char* message;
        bool private_hint;
    };
    const Case cases[] = {
        {ProbeReason::Refused, "could not connect: Connection refused", true},
        {ProbeReason::NameResolution, "could not translate host name", true},
        {ProbeReason::Reset, "No route to host", true},
        {ProbeReason::TlsHandshake, "SSL SYSCALL error: EOF detected", true},
        {ProbeReason::Timeout, "timeout expired", true},
        {ProbeReason::TlsVerify, "certificate verify failed", false},
        {ProbeReason::AuthFailed, "FATAL: password authentication failed", false},
        {ProbeReason::SslModeRefused, "server does not support SSL, but SSL was required", false},
        {ProbeReason::Starting, "the database system is starting up", false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(reason_name(c.reason));
        api.public_access = false;
        prober.script.clear();
        api.next_ids = {"e80atan1sl5khdkr8pkc33fovk"};
        for (int i = 0; i < 200; ++i) {
            prober.fail(c.reason, ms{200}, c.message);
        }
        auto req = request();
        req.timeout = std::chrono::seconds{2};
        const Error e = caught([&] { (void)lifecycle.create(req); });
        EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
        EXPECT_EQ(e.reason() == ErrorReason::PrivateBranch, c.private_hint) << e.describe();
    }
}

TEST_F(UsableTest, AMissingDatabaseStopsEarlyNamingIt) {
    prober.fail(ProbeReason::DatabaseMissing, ms{10}, "FATAL: database \"app\" does not exist");
    prober.fail(ProbeReason::DatabaseMissing, ms{10}, "FATAL: database \"app\" does not exist");
    auto req = request();
    req.database = "app";
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotConnectable);
    EXPECT_EQ(e.reason(), ErrorReason::DatabaseMissing);
    EXPECT_NE(std::string(e.what()).find("database 'app'"), std::string::npos);
    EXPECT_TRUE(prober.script.empty());
    EXPECT_LT(clock.elapsed(), ms{2000});  // not a retry loop until the deadline
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

TEST_F(UsableTest, NoConnectCheckMakesNoLogin) {
    auto req = request();
    req.connect_check = false;
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(prober.seen.empty());
    EXPECT_EQ(r.login_tries, 0);
}

TEST_F(UsableTest, HooksRunInOrderBetweenPendingAndDonePatches) {
    prober.ok();
    processes.exits(0, {{OutputStream::Stdout, "seeded with " + k_password}});
    auto req = request();
    req.hooks = {{HookSpec::Kind::Sql, "schema.sql", "CREATE TABLE t (x int);"},
                 {HookSpec::Kind::Exec, "./seed.sh", {}}};
    api.patch_409 = 1;  // "modified concurrently": asked again
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(r.hooks_ran);
    ASSERT_EQ(sql.seen.size(), 1U);
    EXPECT_EQ(sql.seen[0].first, "schema.sql");
    ASSERT_EQ(processes.commands.size(), 1U);
    EXPECT_EQ(processes.commands[0], (std::vector<std::string>{"./seed.sh"}));
    std::map<std::string, std::string> env(processes.envs[0].begin(), processes.envs[0].end());
    EXPECT_EQ(env["PGPASSWORD"], k_password);
    EXPECT_EQ(env["XBRANCH_BRANCH_ID"], r.branch.id);
    EXPECT_EQ(env["XBRANCH_PARENT"], "main");
    ASSERT_EQ(hook_lines.size(), 1U);
    EXPECT_EQ(hook_lines[0].find(k_password), std::string::npos);  // redacted
    ASSERT_EQ(api.patched.size(), 2U);
    const auto pending = decode_tag(api.patched[0]);
    const auto done = decode_tag(api.patched[1]);
    ASSERT_TRUE(pending && done);
    EXPECT_EQ(pending->hooks, HookState::Pending);
    EXPECT_EQ(done->hooks, HookState::Done);
    EXPECT_EQ(pending->token, k_token);
    EXPECT_EQ(done->hooks_fingerprint, hook_set_fingerprint(req.hooks));
    EXPECT_EQ(count("PATCH"), 3);
}

TEST_F(UsableTest, AFailingExecHookFailsNamingItAndDeletesTheBranch) {
    prober.ok();
    processes.exits(3);
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./migrate.sh", {}}};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::HookFailed);
    EXPECT_EQ(exit_code(e.kind()), 13);
    EXPECT_NE(std::string(e.what()).find("./migrate.sh"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("exit status 3"), std::string::npos);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
    EXPECT_EQ(count("DELETE"), 1);
    ASSERT_EQ(api.patched.size(), 1U);  // Pending, never Done
}

TEST_F(UsableTest, AFailingSqlHookNamesFileAndLine) {
    prober.ok();
    sql.fail_line = 12;
    auto req = request();
    req.hooks = {{HookSpec::Kind::Sql, "seed.sql", "SELECT * FROM nope;"},
                 {HookSpec::Kind::Exec, "never", {}}};
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::HookFailed);
    EXPECT_NE(std::string(e.what()).find("seed.sql:12"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

TEST_F(UsableTest, RerunOnABranchWhoseHooksAreDoneRunsNoHook) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    BranchTag tag;
    tag.token = "earlier001";
    tag.hooks = HookState::Done;
    tag.hooks_fingerprint = hook_set_fingerprint(req.hooks);
    existing("c0000000000000000000000003", encode_tag(tag));
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("PATCH"), 0);
    EXPECT_EQ(count("POST"), 0);
}

TEST_F(UsableTest, RerunOnABranchDoneWithOtherHooksStillRunsNone) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed-v2.sh", {}}};
    BranchTag tag;
    tag.token = "earlier001";
    tag.hooks = HookState::Done;
    tag.hooks_fingerprint = hook_set_fingerprint({{HookSpec::Kind::Exec, "./seed.sh", {}}});
    existing("c0000000000000000000000003", encode_tag(tag));
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(processes.commands.empty());
}

TEST_F(UsableTest, RerunOnABranchLeftPendingRecreatesItThenRunsTheHooks) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    BranchTag tag;
    tag.token = "earlier001";
    tag.hooks = HookState::Pending;
    tag.hooks_fingerprint = hook_set_fingerprint(req.hooks);
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, encode_tag(tag));
    prober.ok();
    processes.exits(0);
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.replaced_id, old_id);
    EXPECT_NE(r.branch.id, old_id);
    EXPECT_TRUE(r.created_by_us);
    EXPECT_FALSE(r.adopted);
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_EQ(api.find(old_id), nullptr);
    EXPECT_EQ(count("DELETE"), 1);
    EXPECT_EQ(count("POST"), 1);
    ASSERT_EQ(api.patched.size(), 2U);
    EXPECT_EQ(decode_tag(api.patched[1])->hooks, HookState::Done);
    EXPECT_EQ(decode_tag(api.patched[1])->token, k_token);
}

// Another run's branch, its hooks Pending (with this request's hooks).
std::string pending_tag(const CreateRequest& req) {
    BranchTag tag;
    tag.token = "earlier001";
    tag.hooks = HookState::Pending;
    tag.hooks_fingerprint = hook_set_fingerprint(req.hooks);
    return encode_tag(tag);
}

TEST_F(UsableTest, PendingWithALiveOwnerWaitsForDoneThenAdoptsWithoutDeleting) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.owner_alive = true;
    int waits = 0;
    clock.on_sleep = [&](ms d) {
        if (d >= ms{1000} && ++waits == 3) {  // the other run writes Done
            auto tag = *decode_tag(api.find(old_id)->description);
            tag.hooks = HookState::Done;
            api.find(old_id)->description = encode_tag(tag);
            locker.owner_alive = false;
        }
    };
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.branch.id, old_id);
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.created_by_us);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(r.replaced_id.empty());
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(count("POST"), 0);
    EXPECT_EQ(count("PATCH"), 0);
    EXPECT_EQ(waits, 3);
    ASSERT_EQ(locker.seen.size(), 3U);  // asked before each wait, with the handed-out login
    EXPECT_EQ(locker.seen[0].password, k_password);
    EXPECT_EQ(r.connection.password, k_password);
}

TEST_F(UsableTest, PendingWithALiveOwnerPastTheDeadlineIsAConflictAndDeletesNothing) {
    auto req = request();
    req.timeout = std::chrono::seconds{10};
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.owner_alive = true;
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Conflict);
    EXPECT_EQ(exit_code(e.kind()), 5);
    EXPECT_EQ(e.reason(), ErrorReason::HooksRunning);
    EXPECT_EQ(e.branch_id(), old_id);
    EXPECT_EQ(e.branch_name(), k_name);
    EXPECT_EQ(e.cleanup(), CleanupState::None);
    EXPECT_NE(api.find(old_id), nullptr);
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(count("POST"), 0);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_LE(clock.elapsed(), ms{10000});
    EXPECT_GE(locker.seen.size(), 5U);  // a lock freed mid-wait would have been seen
}

TEST_F(UsableTest, PendingWhoseLockCannotBeCheckedWaitsRatherThanDeletes) {
    auto req = request();
    req.timeout = std::chrono::seconds{5};
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.unreachable = true;
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.reason(), ErrorReason::HooksRunning);
    EXPECT_NE(api.find(old_id), nullptr);
    EXPECT_EQ(count("DELETE"), 0);
}

TEST_F(UsableTest, PendingWhoseOwnerDiesMidWaitIsRecreatedThenHooksRunOnce) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.owner_alive = true;
    clock.on_sleep = [&](ms d) {
        if (d >= ms{1000}) {
            locker.owner_alive = false;  // kill -9: the server frees its lock
        }
    };
    prober.ok();
    processes.exits(0);
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.replaced_id, old_id);
    EXPECT_EQ(api.find(old_id), nullptr);
    EXPECT_TRUE(r.created_by_us);
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_EQ(processes.commands.size(), 1U);
    EXPECT_EQ(count("DELETE"), 1);
    EXPECT_EQ(locker.held, 0);  // the run's own lock is released at the end
}

TEST_F(UsableTest, PendingBranchThatDisappearsWhileWaitingIsCreatedAfresh) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.owner_alive = true;
    clock.on_sleep = [&](ms d) {
        if (d >= ms{1000} && api.find(old_id) != nullptr) {  // its run failed and cleaned up
            api.branches.erase(api.branches.begin() + (api.find(old_id) - api.branches.data()));
            locker.owner_alive = false;
        }
    };
    prober.ok();
    processes.exits(0);
    const auto r = lifecycle.create(req);
    EXPECT_NE(r.branch.id, old_id);
    EXPECT_TRUE(r.created_by_us);
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_TRUE(r.replaced_id.empty());
    EXPECT_EQ(count("DELETE"), 0);  // this run deleted nothing
    EXPECT_EQ(count("POST"), 1);
}

// Another run's tag without a hook state.
std::string their_tag() {
    BranchTag tag;
    tag.token = "earlier001";
    return encode_tag(tag);
}

// The tag of branch `id` with its hooks set to `state` (the rest kept).
void set_hooks(MiniApi& api, const std::string& id, HookState state, const CreateRequest& req) {
    auto tag = *decode_tag(api.find(id)->description);
    tag.hooks = state;
    tag.hooks_fingerprint = hook_set_fingerprint(req.hooks);
    api.find(id)->description = encode_tag(tag);
}

// Two runs adopted the branch before either wrote Pending; the other one took
// the lock first and finished: this run, given the lock after it, runs nothing.
TEST_F(UsableTest, TwoRunsThatAdoptedBeforePendingRunTheHooksOnce) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, their_tag());  // no hook state yet
    locker.on_try = [&] { set_hooks(api, old_id, HookState::Done, req); };
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.branch.id, old_id);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("PATCH"), 0);
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(locker.held, 0);
}

TEST_F(UsableTest, ALockHeldByAnotherRunIsWaitedForNotRunBeside) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, their_tag());
    locker.owner_alive = true;  // the other run holds it and runs the hooks
    int waits = 0;
    clock.on_sleep = [&](ms d) {
        if (d >= ms{1000} && ++waits == 3) {
            set_hooks(api, old_id, HookState::Done, req);
            locker.owner_alive = false;
        }
    };
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(waits, 3);
    EXPECT_EQ(locker.seen.size(), 4U);
    EXPECT_EQ(count("PATCH"), 0);
}

TEST_F(UsableTest, HooksRecordedPendingByAnotherRunAreNotRunAndItsBranchIsKept) {
    // This run made the branch; another run adopted it and wrote Pending
    // (keeping this run's token) while running lock-less.
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    locker.on_try = [&] { set_hooks(api, api.branches.back().id, HookState::Pending, req); };
    prober.ok();
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Conflict);
    EXPECT_EQ(e.reason(), ErrorReason::HooksRunning);
    EXPECT_EQ(e.branch_name(), k_name);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(count("PATCH"), 0);
    EXPECT_EQ(api.branches.size(), 2U);
    EXPECT_EQ(locker.held, 0);
}

TEST_F(UsableTest, ALockHeldPastTheDeadlineIsAConflictThatDeletesNothing) {
    auto req = request();
    req.timeout = std::chrono::seconds{8};
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    locker.owner_alive = true;  // another run adopted this run's branch and runs them
    prober.ok();
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.reason(), ErrorReason::HooksRunning);
    EXPECT_EQ(exit_code(e.kind()), 5);
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_LE(clock.elapsed(), ms{8000});
}

TEST_F(UsableTest, TheRunningRunHoldsTheLockWhileItsHooksRun) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Sql, "seed.sql", "SELECT 1;"}};
    int held_during = -1;
    sql.during = [&] { held_during = locker.held; };
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_EQ(held_during, 1);
    EXPECT_EQ(locker.held, 0);
    ASSERT_EQ(locker.seen.size(), 1U);
    EXPECT_EQ(locker.seen[0].password, k_password);
}

TEST_F(UsableTest, ALockTryWithoutAnswerIsTriedAgainAndTheHooksRunOnlyHoldingIt) {
    auto req = request();
    req.connect_check = false;  // the lock's login is the first one: the password may lag
    req.hooks = {{HookSpec::Kind::Sql, "seed.sql", "SELECT 1;"}};
    locker.unreachable_tries = 6;
    int held_during = -1;
    sql.during = [&] { held_during = locker.held; };
    const auto r = lifecycle.create(req);
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_EQ(held_during, 1);  // never without the lock
    EXPECT_EQ(locker.seen.size(), 7U);
    EXPECT_EQ(locker.held, 0);
    // A backoff, not a spin: 100 ms doubling to 1 s between tries.
    EXPECT_GE(clock.elapsed(), ms{100 + 200 + 400 + 800 + 1000 + 1000});
    EXPECT_LE(clock.elapsed(), ms{5000});
}

TEST_F(UsableTest, NoAnswerToTheLockBeforeTheDeadlineIsATimeoutAndNoHookRuns) {
    auto req = request();
    req.connect_check = false;
    req.timeout = std::chrono::seconds{8};
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    locker.unreachable = true;
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    EXPECT_EQ(exit_code(e.kind()), 6);
    EXPECT_NE(std::string(e.what()).find("no hook ran"), std::string::npos) << e.what();
    EXPECT_TRUE(processes.commands.empty());
    EXPECT_EQ(count("PATCH"), 0);  // no Pending written either
    EXPECT_LE(clock.elapsed(), ms{8000});
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);  // its own branch, nobody's hooks on it
}

TEST_F(UsableTest, PendingThatTurnsDoneBeforeTheLockIsTakenIsAdoptedNotDeleted) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    // The other run writes Done and frees its lock just before this run's try.
    locker.on_try = [&] {
        if (api.find(old_id) != nullptr) {
            set_hooks(api, old_id, HookState::Done, req);
        }
    };
    prober.ok();
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.branch.id, old_id);
    EXPECT_TRUE(r.adopted);
    EXPECT_FALSE(r.hooks_ran);
    EXPECT_TRUE(r.replaced_id.empty());
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(count("POST"), 0);
    EXPECT_TRUE(processes.commands.empty());
}

TEST_F(UsableTest, PendingWhoseBranchIsGoneOnceTheLockIsTakenIsCreatedWithoutADelete) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    locker.on_try = [&] {  // its run failed and deleted it meanwhile
        if (api.find(old_id) != nullptr) {
            api.branches.erase(api.branches.begin() + (api.find(old_id) - api.branches.data()));
        }
    };
    prober.ok();
    processes.exits(0);
    const auto r = lifecycle.create(req);
    EXPECT_NE(r.branch.id, old_id);
    EXPECT_TRUE(r.replaced_id.empty());
    EXPECT_TRUE(r.hooks_ran);
    EXPECT_EQ(count("DELETE"), 0);
}

TEST_F(UsableTest, PendingStillThereOnceTheLockIsTakenIsDeletedHoldingTheLock) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    const std::string old_id = "c0000000000000000000000003";
    existing(old_id, pending_tag(req));
    int held_at_delete = -1;
    transport.handler = [&](const HttpRequest& r) {
        if (r.method == "DELETE") {
            held_at_delete = locker.held;
        }
        return api.route(r);
    };
    prober.ok();
    processes.exits(0);
    const auto r = lifecycle.create(req);
    EXPECT_EQ(r.replaced_id, old_id);
    EXPECT_EQ(held_at_delete, 1);
    EXPECT_EQ(locker.held, 0);
}

TEST_F(UsableTest, ASignalWhileAnotherRunRunsTheHooksOfThisRunsBranchDeletesNothing) {
    // This run made the branch; another run adopted it, took the lock, wrote
    // Pending and runs the hooks; this run is stopped while it waits.
    CancelToken run;
    CancelToken cleanup;
    Lifecycle stoppable{client, clock, progress, RunControl{&run, &cleanup}};
    UsableEdges edges;
    edges.prober = &prober;
    edges.processes = &processes;
    edges.locker = &locker;
    stoppable.set_edges(edges);
    auto req = request();
    req.hooks = {{HookSpec::Kind::Exec, "./seed.sh", {}}};
    locker.owner_alive = true;
    locker.on_try = [&] {
        set_hooks(api, api.branches.back().id, HookState::Pending, req);
        if (locker.seen.size() == 2) {
            run.cancel(2);
        }
    };
    prober.ok();
    const Error e = caught([&] { (void)stoppable.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(api.branches.size(), 2U);
    EXPECT_NE(e.cleanup(), CleanupState::Deleted);
    EXPECT_TRUE(processes.commands.empty());
}

TEST_F(UsableTest, OwnBranchDeletedBySomeoneElseMidHookSaysSoAndCleansNothing) {
    auto req = request();
    req.hooks = {{HookSpec::Kind::Sql, "seed.sql", "SELECT 1;"}};
    sql.during = [&] { api.branches.pop_back(); };  // another party deletes it
    prober.ok();
    const Error e = caught([&] { (void)lifecycle.create(req); });
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_EQ(e.reason(), ErrorReason::BranchVanished);
    EXPECT_EQ(e.branch_name(), k_name);
    EXPECT_EQ(e.cleanup(), CleanupState::None);
    EXPECT_EQ(count("DELETE"), 0);
    EXPECT_EQ(locker.held, 0);
}

TEST_F(UsableTest, SignalDuringTheCheckIsInterruptedAndCleansUp) {
    CancelToken run;
    CancelToken cleanup;
    Lifecycle stoppable{client, clock, progress, RunControl{&run, &cleanup}};
    UsableEdges edges;
    edges.prober = &prober;
    stoppable.set_edges(edges);
    prober.fail(ProbeReason::Refused);
    prober.fail(ProbeReason::Refused);
    clock.on_sleep = [&](ms) {
        if (prober.seen.size() == 1) {
            run.cancel(15);
        }
    };
    const Error e = caught([&] { (void)stoppable.create(request()); });
    EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    EXPECT_EQ(e.cleanup(), CleanupState::Deleted);
}

}  // namespace
