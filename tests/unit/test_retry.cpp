#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/retry.hpp"

using namespace xbranch;
using namespace xbranch::test;

TEST(RetryPolicy, RetryableTable) {
    const std::vector<std::string> idempotent = {"GET", "DELETE", "PATCH"};
    for (const auto& m : idempotent) {
        for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) {
            EXPECT_TRUE(RetryPolicy::retryable(m, answer(s))) << m << " " << s;
        }
        for (long s : {200L, 201L, 204L, 400L, 401L, 403L, 404L, 409L, 412L, 501L, 505L}) {
            EXPECT_FALSE(RetryPolicy::retryable(m, answer(s))) << m << " " << s;
        }
        for (auto o :
             {dropped(), timed_out(), refused(), failure(TransportError::Kind::Other, true)}) {
            EXPECT_TRUE(RetryPolicy::retryable(m, o)) << m;
        }
        // A certificate that failed verification, an oversized answer and a
        // cancel end the same way again.
        EXPECT_FALSE(RetryPolicy::retryable(m, failure(TransportError::Kind::Tls, false))) << m;
        EXPECT_FALSE(RetryPolicy::retryable(m, failure(TransportError::Kind::TooLarge, true)));
        EXPECT_FALSE(RetryPolicy::retryable(m, failure(TransportError::Kind::Cancelled, true)));
    }
    // POST never: its outcome is settled by a lookup, not by resending.
    for (long s : {408L, 429L, 500L, 503L}) {
        EXPECT_FALSE(RetryPolicy::retryable("POST", answer(s)));
    }
    EXPECT_FALSE(RetryPolicy::retryable("POST", dropped()));
    EXPECT_FALSE(RetryPolicy::retryable("POST", refused()));
    EXPECT_FALSE(RetryPolicy::retryable("POST", timed_out()));
    EXPECT_FALSE(RetryPolicy::retryable_method("POST"));
    EXPECT_FALSE(RetryPolicy::retryable_method("get"));
}

TEST(RetryPolicy, DelayBoundsWithJitter) {
    const RetryPolicy p;  // base 300, cap 5000
    // attempt n: step = 300 * 2^(n-1), delay in [step/2, step].
    const long long steps[] = {300, 600, 1200, 2400, 4800, 5000, 5000, 5000};
    for (int attempt = 1; attempt <= 8; ++attempt) {
        const long long step = steps[attempt - 1];
        EXPECT_EQ(p.delay(attempt, std::nullopt, 0.0).count(), step / 2) << attempt;
        EXPECT_EQ(p.delay(attempt, std::nullopt, 1.0).count(), step) << attempt;
        const auto mid = p.delay(attempt, std::nullopt, 0.5).count();
        EXPECT_GE(mid, step / 2);
        EXPECT_LE(mid, step);
    }
    // Never beyond the cap, whatever the attempt or the random value.
    for (int attempt : {10, 30, 64, 1000}) {
        EXPECT_LE(p.delay(attempt, std::nullopt, 1.0).count(), 5000);
        EXPECT_GE(p.delay(attempt, std::nullopt, 0.0).count(), 2500);
    }
    EXPECT_LE(p.delay(1, std::nullopt, 7.0).count(), 300);
    EXPECT_GE(p.delay(1, std::nullopt, -1.0).count(), 150);
}

TEST(RetryPolicy, RetryAfterWinsAndIsCapped) {
    const RetryPolicy p;
    EXPECT_EQ(p.delay(1, ms{2000}, 0.3), ms{2000});
    EXPECT_EQ(p.delay(3, ms{0}, 0.9), ms{0});
    EXPECT_EQ(p.delay(1, ms{29999}, 0.0), ms{29999});
    EXPECT_EQ(p.delay(1, ms{30000}, 0.0), ms{30000});
    EXPECT_EQ(p.delay(1, ms{120000}, 0.0), ms{30000});
    EXPECT_EQ(p.delay(1, ms{86400000}, 1.0), ms{30000});
}

TEST(Waiter, SleepsNoLongerThanTheDeadline) {
    FakeClock clock;
    CancelToken token;
    Waiter w(clock, &token, Deadline::in(clock, ms{1000}));
    EXPECT_EQ(w.wait(ms{300}), Waiter::Result::Slept);
    EXPECT_EQ(w.left(), ms{700});
    // A wait longer than what is left sleeps only what is left.
    EXPECT_EQ(w.wait(ms{30000}), Waiter::Result::DeadlineReached);
    EXPECT_EQ(clock.sleeps, (std::vector<ms>{ms{300}, ms{700}}));
    EXPECT_TRUE(w.deadline_passed());
    // Past the deadline nothing more is slept.
    EXPECT_EQ(w.wait(ms{10}), Waiter::Result::DeadlineReached);
    EXPECT_EQ(clock.sleeps.size(), 2U);
}

TEST(Waiter, WakesOnTheToken) {
    FakeClock clock;
    CancelToken token;
    Waiter w(clock, &token, Deadline{});
    clock.on_sleep = [&](ms) { token.cancel(15); };  // the signal comes during the sleep
    EXPECT_EQ(w.wait(ms{5000}), Waiter::Result::Cancelled);
    EXPECT_TRUE(clock.sleeps.empty());
    EXPECT_EQ(token.signal_number(), 15);
    // Once cancelled, no wait sleeps at all.
    clock.on_sleep = nullptr;
    EXPECT_EQ(w.wait(ms{1}), Waiter::Result::Cancelled);
    EXPECT_TRUE(clock.sleeps.empty());
}

TEST(CancelToken, FirstSignalNumberWins) {
    CancelToken t;
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(t.signal_number(), 0);
    t.cancel(1);
    t.cancel(15);
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(t.signal_number(), 1);
    CancelToken plain;
    plain.cancel();
    EXPECT_TRUE(plain.cancelled());
    EXPECT_EQ(plain.signal_number(), 0);
}

TEST(Deadline, LeftAndSooner) {
    FakeClock clock;
    const Deadline never;
    EXPECT_FALSE(never.is_set());
    EXPECT_EQ(never.left(clock), ms::max());
    EXPECT_FALSE(never.passed(clock));
    const Deadline soon = Deadline::in(clock, ms{500});
    const Deadline later = Deadline::in(clock, ms{900});
    EXPECT_EQ(soon.sooner(later).left(clock), ms{500});
    EXPECT_EQ(later.sooner(soon).left(clock), ms{500});
    EXPECT_EQ(never.sooner(later).left(clock), ms{900});
    clock.advance(ms{600});
    EXPECT_TRUE(soon.passed(clock));
    EXPECT_EQ(soon.left(clock), ms{0});
}

namespace {

struct LoopFixture {
    FakeClock clock;
    CancelToken token;
    RetryPolicy policy;
    std::vector<int> tries;
    LoopEnd run(Deadline deadline, const std::function<Attempt(int)>& f, int max_attempts) {
        Waiter w(clock, &token, deadline);
        return RetryLoop(w, policy, [] { return 0.0; })
            .run(
                "test loop",
                [&](int n) {
                    tries.push_back(n);
                    return f(n);
                },
                max_attempts);
    }
};

}  // namespace

TEST(RetryLoop, DoneFailAndExhausted) {
    LoopFixture f;
    auto end = f.run(
        {}, [](int n) { return n < 3 ? Attempt::retry("busy") : Attempt::done(); }, 4);
    EXPECT_EQ(end.why, LoopEnd::Why::Done);
    EXPECT_EQ(end.tries, 3);
    // Equal jitter with random 0: half steps of 300 ms x 2^n.
    EXPECT_EQ(f.clock.sleeps, (std::vector<ms>{ms{150}, ms{300}}));

    LoopFixture g;
    end = g.run(
        {}, [](int) { return Attempt::fail("bad key"); }, 4);
    EXPECT_EQ(end.why, LoopEnd::Why::Failed);
    EXPECT_EQ(end.tries, 1);
    EXPECT_EQ(end.last_reason, "bad key");
    EXPECT_TRUE(g.clock.sleeps.empty());

    LoopFixture h;
    end = h.run(
        {}, [](int) { return Attempt::retry("503"); }, 4);
    EXPECT_EQ(end.why, LoopEnd::Why::Exhausted);
    EXPECT_EQ(end.tries, 4);
    EXPECT_EQ(h.clock.sleeps.size(), 3U);
}

TEST(RetryLoop, FreeRetriesDoNotUseAttemptsUpToTheirLimit) {
    LoopFixture f;
    f.policy.max_free_retries = 2;
    const auto end = f.run(
        {},
        [](int) {
            Attempt a = Attempt::retry("429");
            a.counts = false;
            return a;
        },
        2);
    EXPECT_EQ(end.why, LoopEnd::Why::Exhausted);
    EXPECT_EQ(end.tries, 4);  // 2 free + 2 counted
}

TEST(RetryLoop, DeadlineCapsRetryAfterAndEndsTheLoop) {
    LoopFixture f;
    // The server asks for 30 s; only 5 s are left: the loop ends at 5 s.
    const auto end = f.run(
        Deadline::in(f.clock, ms{5000}), [](int) { return Attempt::retry("503", ms{30000}); }, 0);
    EXPECT_EQ(end.why, LoopEnd::Why::DeadlineReached);
    EXPECT_EQ(end.tries, 1);
    EXPECT_EQ(f.clock.elapsed(), ms{5000});
    EXPECT_EQ(end.last_reason, "503");
}

TEST(RetryLoop, UnlimitedAttemptsRunUntilTheDeadline) {
    LoopFixture f;
    const auto end = f.run(
        Deadline::in(f.clock, ms{20000}), [](int) { return Attempt::retry("login failed"); },
        /*max_attempts=*/0);
    EXPECT_EQ(end.why, LoopEnd::Why::DeadlineReached);
    EXPECT_EQ(f.clock.elapsed(), ms{20000});
    EXPECT_GT(end.tries, 5);
}

TEST(RetryLoop, CancelBeforeAndDuringTheWait) {
    LoopFixture f;
    f.token.cancel(2);
    auto end = f.run(
        {}, [](int) { return Attempt::done(); }, 4);
    EXPECT_EQ(end.why, LoopEnd::Why::Cancelled);
    EXPECT_TRUE(f.tries.empty());  // never called once cancelled

    LoopFixture g;
    g.clock.on_sleep = [&](ms) { g.token.cancel(15); };
    end = g.run(
        {}, [](int) { return Attempt::retry("busy"); }, 4);
    EXPECT_EQ(end.why, LoopEnd::Why::Cancelled);
    EXPECT_EQ(end.tries, 1);
    EXPECT_TRUE(g.clock.sleeps.empty());

    // A try that itself notices the token (a transport abort) ends as cancelled.
    LoopFixture h;
    end = h.run(
        {},
        [&](int) {
            h.token.cancel(1);
            return Attempt::fail("aborted");
        },
        4);
    EXPECT_EQ(end.why, LoopEnd::Why::Cancelled);
}
