#include <gtest/gtest.h>

#include "fake_edges.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using test::FakeClock;
using test::FakeProber;
using test::ms;

// Real libpq 15 texts (PQERRORS_VERBOSE where the server answered), as
// split_verbose_message then classify_failure see them.
ProbeVerdict classify_libpq(std::string_view text) {
    const auto split = split_verbose_message(text);
    return classify_failure(split.sqlstate, split.message);
}

TEST(DbProbeSplit, TakesTheSqlstateAndDropsTheLocation) {
    const auto s = split_verbose_message(
        "connection to server at \"127.0.0.1\", port 42741 failed: FATAL:  28P01: password "
        "authentication failed for user \"u1\"\nLOCATION:  auth_failed, auth.c:334\n");
    EXPECT_EQ(s.sqlstate, "28P01");
    EXPECT_EQ(s.message,
              "connection to server at \"127.0.0.1\", port 42741 failed: FATAL:  password "
              "authentication failed for user \"u1\"");
}

TEST(DbProbeSplit, LeavesLibpqOwnMessagesAlone) {
    const auto s = split_verbose_message(
        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server "
        "running on that host and accepting TCP/IP connections?\n");
    EXPECT_EQ(s.sqlstate, "");
    EXPECT_EQ(s.message,
              "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the "
              "server running on that host and accepting TCP/IP connections?");
}

TEST(DbProbeSplit, IgnoresWordsThatLookLikeACodeWithoutTheColon) {
    const auto s = split_verbose_message("FATAL:  ABCDEFG is not a code");
    EXPECT_EQ(s.sqlstate, "");
    EXPECT_EQ(s.message, "FATAL:  ABCDEFG is not a code");
}

struct Case {
    const char* text;
    ProbeReason reason;
    bool retry;
};

class DbProbeClassify : public ::testing::TestWithParam<Case> {};

TEST_P(DbProbeClassify, MapsRealLibpqTexts) {
    const auto v = classify_libpq(GetParam().text);
    EXPECT_EQ(reason_name(v.reason), std::string(reason_name(GetParam().reason)))
        << GetParam().text;
    EXPECT_EQ(v.retry, GetParam().retry) << GetParam().text;
    if (!v.retry) {
        EXPECT_GE(v.max_tries, 1);
        EXPECT_LE(v.max_tries, 2);  // "not beyond a try or two"
    }
}

INSTANTIATE_TEST_SUITE_P(
    Texts, DbProbeClassify,
    ::testing::Values(
        Case{"connection to server at \"127.0.0.1\", port 42741 failed: FATAL:  28P01: password "
             "authentication failed for user \"xata\"\nLOCATION:  auth_failed, auth.c:334\n",
             ProbeReason::AuthFailed, true},
        Case{"connection to server at \"h\", port 5432 failed: FATAL:  28000: role \"xata\" does "
             "not exist\nLOCATION:  InitializeSessionUserId, miscinit.c:694\n",
             ProbeReason::AuthFailed, true},
        Case{"connection to server at \"127.0.0.1\", port 42741 failed: FATAL:  3D000: database "
             "\"nodb\" does not exist\nLOCATION:  InitPostgres, postinit.c:948\n",
             ProbeReason::DatabaseMissing, false},
        Case{"connection to server at \"h\", port 5432 failed: FATAL:  57P03: the database system "
             "is starting up\n",
             ProbeReason::Starting, true},
        Case{"connection to server at \"h\", port 5432 failed: FATAL:  57P03: the database system "
             "is not yet accepting connections\nDETAIL:  Consistent recovery state has not been "
             "yet reached.\n",
             ProbeReason::Starting, true},
        Case{"connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the "
             "server running on that host and accepting TCP/IP connections?\n",
             ProbeReason::Refused, true},
        Case{"could not translate host name \"abc.us-east-1.xata.tech\" to address: Name or "
             "service not known\n",
             ProbeReason::NameResolution, true},
        Case{"could not translate host name \"abc.xata.tech\" to address: Temporary failure in "
             "name resolution\n",
             ProbeReason::NameResolution, true},
        Case{"connection to server at \"127.0.0.1\", port 42741 failed: server does not support "
             "SSL, but SSL was required\n",
             ProbeReason::SslModeRefused, false},
        Case{"connection to server at \"h\", port 5432 failed: FATAL:  28000: no pg_hba.conf entry "
             "for host \"10.1.2.3\", user \"xata\", database \"xata\", no encryption\n",
             ProbeReason::SslModeRefused, false},
        Case{"connection to server at \"h\" (10.0.0.1), port 5432 failed: SSL SYSCALL error: EOF "
             "detected\n",
             ProbeReason::TlsHandshake, true},
        Case{"connection to server at \"h\" (10.0.0.1), port 5432 failed: SSL error: unexpected "
             "eof while reading\n",
             ProbeReason::TlsHandshake, true},
        Case{"connection to server at \"h\" (10.0.0.1), port 5432 failed: SSL error: certificate "
             "verify failed\n",
             ProbeReason::TlsVerify, false},
        Case{"connection to server at \"h\", port 5432 failed: root certificate file "
             "\"/root/.postgresql/root.crt\" does not exist\nEither provide the file or change "
             "sslmode to disable server certificate verification.\n",
             ProbeReason::TlsVerify, false},
        Case{
            "connection to server at \"h\", port 5432 failed: server certificate for \"x.example\" "
            "does not match host name \"h\"\n",
            ProbeReason::TlsVerify, false},
        Case{"server closed the connection unexpectedly\n\tThis probably means the server "
             "terminated abnormally\n\tbefore or while processing the request.\n",
             ProbeReason::Reset, true},
        Case{"could not receive data from server: Connection reset by peer\n", ProbeReason::Reset,
             true},
        Case{"connection to server at \"h\", port 5432 failed: FATAL:  53300: sorry, too many "
             "clients already\n",
             ProbeReason::Reset, true},
        Case{"connection to server at \"127.0.0.1\", port 42741 failed: fe_sendauth: no password "
             "supplied\n",
             ProbeReason::AuthFailed, false},
        Case{"timeout expired\n", ProbeReason::Timeout, true},
        Case{"something nobody has seen before", ProbeReason::Other, true}));

TEST(DbProbeClassify, SqlstateWinsOverTheText) {
    // A server speaking another language still has its codes.
    EXPECT_EQ(classify_failure("28P01", "Passwort-Authentifizierung fehlgeschlagen").reason,
              ProbeReason::AuthFailed);
    EXPECT_EQ(classify_failure("3D000", "Datenbank existiert nicht").reason,
              ProbeReason::DatabaseMissing);
    EXPECT_EQ(classify_failure("42501", "permission denied for database").reason,
              ProbeReason::Other);
}

TEST(DbProbeClassify, UnknownFailuresAreTriedOnlyAFewTimes) {
    EXPECT_EQ(verdict_for(ProbeReason::Other).max_tries, 3);
    EXPECT_EQ(verdict_for(ProbeReason::AuthFailed).max_tries, 0);
    EXPECT_EQ(verdict_for(ProbeReason::Cancelled).max_tries, 1);
}

TEST(DbProbe, FailureMessagesNeverShowThePassword) {
    clear_secrets();
    register_secret("s3cr3t-pass");
    const auto r = probe_failure(ProbeReason::Other, "",
                                 "could not connect with password=s3cr3t-pass to host");
    EXPECT_EQ(r.message.find("s3cr3t-pass"), std::string::npos);
    EXPECT_NE(r.message.find(std::string(k_mask)), std::string::npos);
    clear_secrets();
}

ConnectionInfo info() {
    ConnectionInfo i;
    i.host = "abc.xata.tech";
    i.database = "app";
    i.username = "xata";
    i.password = "pw";
    return i;
}

TEST(DbProbeLoop, RetriesAuthFailuresUntilTheLoginWorks) {
    FakeClock clock;
    FakeProber prober(&clock);
    prober.fail(ProbeReason::AuthFailed);
    prober.fail(ProbeReason::AuthFailed);
    prober.fail(ProbeReason::Starting);
    prober.ok();
    std::vector<int> tries;
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{10000}));
    const auto r = probe_until_usable(prober, waiter, info(), [&](int n) { tries.push_back(n); });
    EXPECT_TRUE(r.last.ok);
    EXPECT_EQ(r.tries, 4);
    EXPECT_EQ(tries, (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(clock.sleeps, (std::vector<ms>{ms{50}, ms{100}, ms{200}}));
    ASSERT_EQ(prober.seen.size(), 4U);
    EXPECT_EQ(prober.seen[0].database, "app");  // exactly what it was given
}

TEST(DbProbeLoop, WaitsStayShortSoTheBranchIsSeenUsableSoon) {
    // A warm-pool lag of seconds: the waits start at 50 ms and never exceed
    // 250 ms, so the first working login comes within ~0.3 s of the password.
    FakeClock clock;
    FakeProber prober(&clock);
    for (int i = 0; i < 12; ++i) {
        prober.fail(ProbeReason::AuthFailed);
    }
    prober.ok();
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{60000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_TRUE(r.last.ok);
    ASSERT_EQ(clock.sleeps.size(), 12U);
    EXPECT_EQ(clock.sleeps.front(), ms{50});
    for (const auto& d : clock.sleeps) {
        EXPECT_LE(d, ms{250});
    }
    EXPECT_EQ(clock.sleeps.back(), ms{250});
}

TEST(DbProbeLoop, GivesUpEarlyOnAMissingDatabaseAfterTwoTries) {
    FakeClock clock;
    FakeProber prober(&clock);
    prober.fail(ProbeReason::DatabaseMissing);
    prober.fail(ProbeReason::DatabaseMissing);
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{60000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_FALSE(r.last.ok);
    EXPECT_EQ(r.last.reason, ProbeReason::DatabaseMissing);
    EXPECT_EQ(r.tries, 2);
    EXPECT_TRUE(r.gave_up_early);
    EXPECT_TRUE(prober.script.empty());
}

TEST(DbProbeLoop, StopsAtTheDeadlineWithTheLastError) {
    FakeClock clock;
    FakeProber prober(&clock);
    for (int i = 0; i < 100; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50}, "password authentication failed");
    }
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{3000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_FALSE(r.last.ok);
    EXPECT_EQ(r.last.reason, ProbeReason::AuthFailed);
    EXPECT_FALSE(r.gave_up_early);
    EXPECT_EQ(clock.elapsed(), ms{3000});  // the last pause is cut at the deadline
    EXPECT_GT(r.tries, 3);
    for (const auto b : prober.budgets) {
        EXPECT_LE(b, ms{3000});
    }
}

TEST(DbProbeLoop, ATryTheDeadlineCutShortKeepsTheLastRealFailure) {
    // Refused passwords, then a last try with 50 ms left that times out: it
    // says only that the time ran out. Reported as "no answer" it read as an
    // unreachable server and gave a private branch the wrong hint (seen in
    // CI on a loaded machine); the password failure stays the last error.
    FakeClock clock;
    FakeProber prober(&clock);
    prober.fail(ProbeReason::AuthFailed, ms{900}, "password authentication failed");
    prober.fail(ProbeReason::AuthFailed, ms{900}, "password authentication failed");
    prober.fail(ProbeReason::Timeout, ms{5000}, "no answer");
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{2000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_EQ(r.tries, 3);
    ASSERT_EQ(prober.budgets.size(), 3U);
    EXPECT_LT(prober.budgets[2], ms{5000});
    EXPECT_FALSE(r.last.ok);
    EXPECT_EQ(r.last.reason, ProbeReason::AuthFailed);
    EXPECT_EQ(r.last.message, "password authentication failed");
}

TEST(DbProbeLoop, EachTryIsBoundedByThePerTryCapAndTheTimeLeft) {
    FakeClock clock;
    FakeProber prober(&clock);
    prober.fail(ProbeReason::Timeout, ms{5000});
    prober.fail(ProbeReason::Timeout, ms{5000});
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{7000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_EQ(r.tries, 2);
    ASSERT_EQ(prober.budgets.size(), 2U);
    EXPECT_EQ(prober.budgets[0], ms{5000});
    EXPECT_EQ(prober.budgets[1], ms{1950});  // 7000 - 5000 - 50 ms pause
    // A silent server, its last try cut short too: still a timeout.
    EXPECT_EQ(r.last.reason, ProbeReason::Timeout);
}

TEST(DbProbeLoop, ShouldStopEndsTheLoopBeforeTheNextTry) {
    FakeClock clock;
    FakeProber prober(&clock);
    prober.fail(ProbeReason::Refused);
    CancelToken token;
    clock.on_sleep = [&](ms) { token.cancel(); };  // a signal during the first pause
    Waiter waiter(clock, &token, Deadline::in(clock, ms{10000}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_EQ(r.tries, 1);
    EXPECT_EQ(r.last.reason, ProbeReason::Cancelled);
    EXPECT_FALSE(r.last.retry);
}

TEST(DbProbeLoop, APassedDeadlineMeansNoTry) {
    FakeClock clock;
    FakeProber prober(&clock);
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{0}));
    const auto r = probe_until_usable(prober, waiter, info());
    EXPECT_EQ(r.tries, 0);
    EXPECT_EQ(r.last.reason, ProbeReason::Timeout);
}

TEST(DbProbeLoop, LooksForTheTargetSeldomWhileLoginsFail) {
    // 20 s of refused logins: a look after the 5th failed try, then one per 5 s.
    FakeClock clock;
    FakeProber prober(&clock);
    for (int i = 0; i < 200; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    std::vector<ms> looked_at;
    ProbeLoopOptions options;
    options.target_gone = [&] {
        looked_at.push_back(clock.elapsed());
        return false;
    };
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{20000}));
    const auto r = probe_until_usable(prober, waiter, info(), {}, options);
    EXPECT_FALSE(r.last.ok);
    EXPECT_FALSE(r.target_gone);
    EXPECT_EQ(r.watches, static_cast<int>(looked_at.size()));
    ASSERT_GE(looked_at.size(), 4U);
    EXPECT_LE(looked_at.size(), 5U);
    EXPECT_LT(looked_at.front(), ms{2000});
    for (std::size_t i = 1; i < looked_at.size(); ++i) {
        EXPECT_GE(looked_at[i] - looked_at[i - 1], ms{5000});
        EXPECT_LT(looked_at[i] - looked_at[i - 1], ms{5400});
    }
}

TEST(DbProbeLoop, ATargetFoundGoneEndsTheLoopAtOnce) {
    FakeClock clock;
    FakeProber prober(&clock);
    for (int i = 0; i < 200; ++i) {
        prober.fail(ProbeReason::AuthFailed, ms{50});
    }
    int looks = 0;
    ProbeLoopOptions options;
    options.target_gone = [&] { return ++looks == 2; };  // deleted between the 1st and 2nd look
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{60000}));
    const auto r = probe_until_usable(prober, waiter, info(), {}, options);
    EXPECT_TRUE(r.target_gone);
    EXPECT_FALSE(r.gave_up_early);
    EXPECT_EQ(r.watches, 2);
    EXPECT_EQ(r.last.reason, ProbeReason::AuthFailed);
    EXPECT_LT(clock.elapsed(), ms{7000});
    EXPECT_EQ(static_cast<int>(prober.seen.size()), r.tries);
}

TEST(DbProbeLoop, NoLookWhenTheLoginWorksSoonAfterAStopOrPastTheDeadline) {
    FakeClock clock;
    FakeProber prober(&clock);
    for (int i = 0; i < 4; ++i) {
        prober.fail(ProbeReason::AuthFailed);
    }
    prober.ok();
    int looks = 0;
    ProbeLoopOptions options;
    options.target_gone = [&] { return ++looks > 0; };
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{60000}));
    EXPECT_TRUE(probe_until_usable(prober, waiter, info(), {}, options).last.ok);
    EXPECT_EQ(looks, 0);  // a short password lag costs no request

    // A stop during the 5th try (the first that may look): no look after it.
    FakeProber stopped(&clock);
    for (int i = 0; i < 4; ++i) {
        stopped.fail(ProbeReason::AuthFailed);
    }
    stopped.fail(ProbeReason::Cancelled);
    const auto r = probe_until_usable(stopped, waiter, info(), {}, options);
    EXPECT_EQ(r.last.reason, ProbeReason::Cancelled);
    EXPECT_EQ(looks, 0);

    // The deadline passes during the 5th try: no look past it either.
    FakeProber slow(&clock);
    for (int i = 0; i < 5; ++i) {
        slow.fail(ProbeReason::Timeout, ms{800});
    }
    Waiter short_wait(clock, nullptr, Deadline::in(clock, ms{4500}));
    const auto t = probe_until_usable(slow, short_wait, info(), {}, options);
    EXPECT_EQ(t.tries, 5);
    EXPECT_EQ(looks, 0);
}

}  // namespace
}  // namespace xbranch
