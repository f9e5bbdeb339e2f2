// The bounded host name lookup (resolve_host) with fake lookups that never
// answer, and what the connection check makes of each outcome. No sockets,
// no sleeps: the fakes' waits move a FakeClock.
#include <gtest/gtest.h>

#include <memory>

#include "fakes.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/resolver.hpp"

namespace xbranch {
namespace {

using test::FakeClock;
using test::ms;

// A lookup that answers after `answer_after` waits (never when negative);
// each wait moves `clock` (when set) by the slice it was given.
struct Script {
    FakeClock* clock = nullptr;
    int answer_after = -1;
    ResolveResult answer;
    int starts = 0;
    int waits = 0;
    bool abandoned = false;
    std::vector<ms> slices;
    std::function<void(int wait_number)> on_wait;
};

class ScriptedLookup final : public PendingLookup {
  public:
    explicit ScriptedLookup(Script& s) : m_s(s) {}
    ~ScriptedLookup() override { m_s.abandoned = !m_answered; }
    ScriptedLookup(const ScriptedLookup&) = delete;
    ScriptedLookup& operator=(const ScriptedLookup&) = delete;
    bool wait(ms slice) override {
        ++m_s.waits;
        m_s.slices.push_back(slice);
        if (m_s.clock != nullptr) {
            m_s.clock->advance(slice);
        }
        if (m_s.on_wait) {
            m_s.on_wait(m_s.waits);
        }
        m_answered = m_s.answer_after >= 0 && m_s.waits >= m_s.answer_after;
        return m_answered;
    }
    ResolveResult result() override { return m_s.answer; }

  private:
    Script& m_s;
    bool m_answered = false;
};

class ScriptedResolver final : public HostResolver {
  public:
    explicit ScriptedResolver(Script& s) : m_s(s) {}
    std::unique_ptr<PendingLookup> start(const std::string&) override {
        ++m_s.starts;
        return std::make_unique<ScriptedLookup>(m_s);
    }

  private:
    Script& m_s;
};

TEST(ResolveHost, ALookupThatNeverAnswersEndsAtTheDeadline) {
    FakeClock clock;
    Script s;
    s.clock = &clock;
    ScriptedResolver resolver(s);
    const auto r = resolve_host(resolver, "db.example", clock, Deadline::in(clock, ms{1030}), {});
    EXPECT_EQ(r.status, ResolveResult::Status::Timeout);
    EXPECT_EQ(clock.elapsed(), ms{1030});  // not a slice more
    EXPECT_EQ(s.waits, 21);                // 20 x 50 ms + the 30 ms left
    EXPECT_EQ(s.slices.back(), ms{30});
    for (const auto slice : s.slices) {
        EXPECT_LE(slice, k_resolve_slice);
    }
    EXPECT_TRUE(s.abandoned);
}

TEST(ResolveHost, AStopIsNoticedWithinOneSlice) {
    FakeClock clock;
    Script s;
    s.clock = &clock;
    CancelToken token;
    s.on_wait = [&](int n) {
        if (n == 3) {
            token.cancel();  // the token is set during the third wait
        }
    };
    ScriptedResolver resolver(s);
    const auto r = resolve_host(resolver, "db.example", clock, Deadline{}, &token);
    EXPECT_EQ(r.status, ResolveResult::Status::Cancelled);
    EXPECT_EQ(s.waits, 3);
    EXPECT_EQ(clock.elapsed(), ms{150});
    EXPECT_TRUE(s.abandoned);
}

TEST(ResolveHost, StoppedBeforeStartLooksNothingUp) {
    FakeClock clock;
    Script s;
    ScriptedResolver resolver(s);
    CancelToken token;
    token.cancel();
    const auto r = resolve_host(resolver, "db.example", clock, Deadline{}, &token);
    EXPECT_EQ(r.status, ResolveResult::Status::Cancelled);
    EXPECT_EQ(s.starts, 0);
}

TEST(ResolveHost, NoTimeLeftIsATimeoutWithoutWaiting) {
    FakeClock clock;
    Script s;
    ScriptedResolver resolver(s);
    const auto r = resolve_host(resolver, "db.example", clock, Deadline::in(clock, ms{0}), {});
    EXPECT_EQ(r.status, ResolveResult::Status::Timeout);
    EXPECT_EQ(s.waits, 0);
}

TEST(ResolveHost, AnAnswerIsPassedOn) {
    FakeClock clock;
    Script s;
    s.clock = &clock;
    s.answer_after = 2;
    s.answer.status = ResolveResult::Status::Ok;
    s.answer.addresses = {"10.0.0.7", "fd00::7"};
    ScriptedResolver resolver(s);
    const auto r = resolve_host(resolver, "db.example", clock, Deadline::in(clock, ms{5000}), {});
    EXPECT_EQ(r.status, ResolveResult::Status::Ok);
    EXPECT_EQ(r.addresses, s.answer.addresses);
    EXPECT_EQ(clock.elapsed(), ms{100});
    EXPECT_FALSE(s.abandoned);
}

TEST(HostKind, NamesLiteralsAndSockets) {
    EXPECT_EQ(host_kind("db.example.com"), HostKind::Name);
    EXPECT_EQ(host_kind("localhost"), HostKind::Name);
    EXPECT_EQ(host_kind("127.0.0.1"), HostKind::Literal);
    EXPECT_EQ(host_kind("::1"), HostKind::Literal);
    EXPECT_EQ(host_kind("fd00:1::5"), HostKind::Literal);
    EXPECT_EQ(host_kind("/var/run/postgresql"), HostKind::Socket);
    EXPECT_EQ(host_kind("@abstract"), HostKind::Socket);
    EXPECT_EQ(host_kind("10.0.0"), HostKind::Name);  // not dotted-quad: the resolver decides
}

TEST(LibpqHost, TheNameOncePerAddress) {
    const auto one = libpq_host("db.example", {"10.0.0.7"});
    EXPECT_EQ(one.host, "db.example");
    EXPECT_EQ(one.hostaddr, "10.0.0.7");
    const auto two = libpq_host("db.example", {"10.0.0.7", "fd00::7"});
    EXPECT_EQ(two.host, "db.example,db.example");
    EXPECT_EQ(two.hostaddr, "10.0.0.7,fd00::7");
}

TEST(LibpqHost, MessagesNameTheHostAgain) {
    const auto given = libpq_host("db.example", {"10.0.0.7", "fd00::7"});
    EXPECT_EQ(with_host_name("connection to server at \"10.0.0.7\", port 5432 failed: Connection "
                             "refused\nconnection to server at \"fd00::7\", port 5432 failed: x",
                             "db.example", given),
              "connection to server at \"db.example\" (10.0.0.7), port 5432 failed: Connection "
              "refused\nconnection to server at \"db.example\" (fd00::7), port 5432 failed: x");
    EXPECT_EQ(
        with_host_name("server at \"127.0.0.1\" failed", "127.0.0.1", LibpqHost{"127.0.0.1", ""}),
        "server at \"127.0.0.1\" failed");
}

// ---- what the connection check makes of each lookup outcome (no libpq call is reached)

ConnectionInfo named_host() {
    ConnectionInfo info;
    info.host = "db.branch.example";
    info.port = 5432;
    info.username = "u1";
    info.password = "s3cret-Pw-77";
    info.database = "app";
    info.sslmode = "require";
    return info;
}

TEST(ConnectWithResolver, ANameThatDoesNotResolveIsRetriedLikeARefusal) {
    Script s;
    s.answer_after = 1;
    s.answer.status = ResolveResult::Status::NotFound;
    s.answer.message = "Name or service not known";
    ScriptedResolver resolver(s);
    FakeClock clock;
    const auto out =
        open_connection(named_host(), clock, Deadline::in(clock, ms{5000}), nullptr, resolver);
    EXPECT_FALSE(out.result.ok);
    EXPECT_EQ(out.connection, nullptr);
    EXPECT_EQ(out.result.reason, ProbeReason::NameResolution) << out.result.message;
    EXPECT_TRUE(out.result.retry);
    EXPECT_EQ(out.result.max_tries, 0);  // until the deadline
    EXPECT_NE(out.result.message.find("db.branch.example"), std::string::npos);
    EXPECT_EQ(out.result.message.find("s3cret-Pw-77"), std::string::npos);
}

TEST(ConnectWithResolver, AStopDuringTheLookupIsCancelled) {
    Script s;  // never answers; the waits return at once (no clock)
    CancelToken token;
    s.on_wait = [&](int n) {
        if (n == 3) {
            token.cancel();
        }
    };
    ScriptedResolver resolver(s);
    FakeClock clock;
    const auto out =
        open_connection(named_host(), clock, Deadline::in(clock, ms{60000}), &token, resolver);
    EXPECT_EQ(out.result.reason, ProbeReason::Cancelled) << out.result.message;
    EXPECT_FALSE(out.result.retry);
    EXPECT_TRUE(s.abandoned);
}

TEST(ConnectWithResolver, NoBudgetLeftIsATimeoutNamingTheHost) {
    Script s;
    ScriptedResolver resolver(s);
    FakeClock clock;
    const auto out =
        open_connection(named_host(), clock, Deadline::in(clock, ms{0}), nullptr, resolver);
    EXPECT_EQ(out.result.reason, ProbeReason::Timeout) << out.result.message;
    EXPECT_TRUE(out.result.retry);
    EXPECT_NE(out.result.message.find("db.branch.example"), std::string::npos);
    EXPECT_EQ(s.starts, 0);  // no lookup is started without time left
}

// The connect's deadline is on the injected clock: a lookup that never
// answers ends exactly when the fake clock reaches it.
TEST(ConnectWithResolver, TheLookupEndsAtTheDeadlineOnTheInjectedClock) {
    FakeClock clock;
    Script s;
    s.clock = &clock;
    ScriptedResolver resolver(s);
    const auto out =
        open_connection(named_host(), clock, Deadline::in(clock, ms{1030}), nullptr, resolver);
    EXPECT_EQ(out.result.reason, ProbeReason::Timeout) << out.result.message;
    EXPECT_EQ(clock.elapsed(), ms{1030});
    EXPECT_EQ(out.result.elapsed, ms{1030});  // measured on the same clock
    EXPECT_NE(out.result.message.find("took longer than 1030 ms"), std::string::npos)
        << out.result.message;
    EXPECT_TRUE(s.abandoned);
}

// A deadline already passed on the injected clock: nothing is looked up or
// connected, whatever the real time.
TEST(ConnectWithResolver, ADeadlinePassedOnTheInjectedClockConnectsNothing) {
    FakeClock clock;
    Script s;
    ScriptedResolver resolver(s);
    const Deadline deadline = Deadline::in(clock, ms{500});
    clock.advance(ms{600});
    ConnectionInfo literal = named_host();
    literal.host = "127.0.0.1";
    for (const ConnectionInfo& info : {named_host(), literal}) {
        const auto out = open_connection(info, clock, deadline, nullptr, resolver);
        EXPECT_EQ(out.result.reason, ProbeReason::Timeout) << out.result.message;
        EXPECT_EQ(out.connection, nullptr);
        EXPECT_EQ(out.result.elapsed, ms{0});
    }
    EXPECT_EQ(s.starts, 0);
}

// A cancelled token: Cancelled before any lookup.
TEST(ConnectWithResolver, ACancelledTokenConnectsNothing) {
    FakeClock clock;
    Script s;
    ScriptedResolver resolver(s);
    CancelToken token;
    token.cancel(15);
    const auto out =
        open_connection(named_host(), clock, Deadline::in(clock, ms{5000}), &token, resolver);
    EXPECT_EQ(out.result.reason, ProbeReason::Cancelled) << out.result.message;
    EXPECT_EQ(s.starts, 0);
}

TEST(ConnectWithResolver, TheLoopKeepsTryingAnUnresolvableNameUntilTheDeadline) {
    FakeClock clock;
    Script s;
    s.answer_after = 1;
    s.answer.status = ResolveResult::Status::NotFound;
    s.answer.message = "Temporary failure in name resolution";
    ScriptedResolver resolver(s);
    PqProber prober(resolver, clock);
    Waiter waiter(clock, nullptr, Deadline::in(clock, ms{3000}));
    const auto r = probe_until_usable(prober, waiter, named_host());
    EXPECT_FALSE(r.last.ok);
    EXPECT_EQ(r.last.reason, ProbeReason::NameResolution) << r.last.message;
    EXPECT_FALSE(r.gave_up_early);
    EXPECT_GE(r.tries, 10);  // 50, 100, 200, then 250 ms apart over 3 s
    EXPECT_EQ(s.starts, r.tries);
}

}  // namespace
}  // namespace xbranch
