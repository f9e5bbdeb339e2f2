// Rate limits (retry.hpp): the jittered wait after a 429 and the RatePacer
// that spaces one client's requests after 429s, on a fake clock.
#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/retry.hpp"

using namespace xbranch;
using namespace xbranch::test;

TEST(RateLimitDelay, RetryAfterIsTheFloorAndTheJitterUpToAsLongAgain) {
    const RetryPolicy p;
    EXPECT_EQ(p.rate_limit_delay(1, ms{1000}, 0.0), ms{1000});
    EXPECT_EQ(p.rate_limit_delay(1, ms{1000}, 0.5), ms{1500});
    EXPECT_EQ(p.rate_limit_delay(1, ms{1000}, 1.0), ms{2000});
    // Without Retry-After (the gateway's plain 429): as if it said 1 s.
    EXPECT_EQ(p.rate_limit_delay(1, std::nullopt, 0.0), ms{1000});
    EXPECT_EQ(p.rate_limit_delay(1, std::nullopt, 0.25), ms{1250});
    // Each further 429 of the same call doubles the floor, up to 8x.
    EXPECT_EQ(p.rate_limit_delay(2, ms{1000}, 0.0), ms{2000});
    EXPECT_EQ(p.rate_limit_delay(3, std::nullopt, 1.0), ms{8000});
    EXPECT_EQ(p.rate_limit_delay(4, ms{1000}, 0.0), ms{8000});
    EXPECT_EQ(p.rate_limit_delay(40, ms{1000}, 0.0), ms{8000});
    // Never past max_retry_after, never below what the server asked (up to it).
    EXPECT_EQ(p.rate_limit_delay(1, ms{20000}, 1.0), ms{30000});
    EXPECT_EQ(p.rate_limit_delay(1, ms{120000}, 0.0), ms{30000});
    EXPECT_EQ(p.rate_limit_delay(1, ms{0}, 0.7), ms{0});  // "now" is honoured
    // Out-of-range random values are clamped.
    EXPECT_EQ(p.rate_limit_delay(1, ms{1000}, 7.0), ms{2000});
    EXPECT_EQ(p.rate_limit_delay(1, ms{1000}, -1.0), ms{1000});
}

TEST(RatePacer, CostsNothingWithoutARefusal) {
    FakeClock clock;
    RatePacer pacer;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(pacer.wait_before(clock.now()), ms{0});
        pacer.started(clock.now());
        pacer.answered();
    }
    EXPECT_EQ(pacer.gap(), ms{0});
}

TEST(RatePacer, ARefusalSpacesTheNextTriesAndAnswersShrinkTheGap) {
    FakeClock clock;
    RatePacer pacer;
    pacer.started(clock.now());
    pacer.refused(ms{1000}, ms{1000}, 0.5);  // +-25% around the Retry-After
    EXPECT_EQ(pacer.gap(), ms{1000});
    clock.advance(ms{300});
    EXPECT_EQ(pacer.wait_before(clock.now()), ms{700});
    clock.advance(ms{700});
    EXPECT_EQ(pacer.wait_before(clock.now()), ms{0});
    pacer.started(clock.now());
    pacer.answered();  // a tenth less
    EXPECT_EQ(pacer.gap(), ms{900});
    EXPECT_EQ(pacer.wait_before(clock.now()), ms{900});  // the next request, whatever call
    // Answers keep shrinking it; below 50 ms it is gone.
    for (int i = 0; i < 40; ++i) {
        pacer.answered();
    }
    EXPECT_EQ(pacer.gap(), ms{0});
    EXPECT_EQ(pacer.wait_before(clock.now()), ms{0});
}

TEST(RatePacer, FurtherRefusalsGrowTheGapUpToItsCap) {
    RatePacer pacer;
    pacer.refused(std::nullopt, ms{1000}, 0.0);  // no Retry-After: the pause, -25%
    EXPECT_EQ(pacer.gap(), ms{750});
    pacer.refused(std::nullopt, ms{1000}, 0.5);  // max(1.5 x 750, 1000)
    EXPECT_EQ(pacer.gap(), ms{1125});
    pacer.refused(ms{3000}, ms{1000}, 0.5);  // a longer Retry-After wins
    EXPECT_EQ(pacer.gap(), ms{3000});
    for (int i = 0; i < 10; ++i) {
        pacer.refused(std::nullopt, ms{1000}, 1.0);
    }
    EXPECT_EQ(pacer.gap(), ms{8000});  // capped (the +25% included)
}

namespace {

struct Loop {
    FakeClock& clock;
    const RetryPolicy& policy;
    LoopEnd run(const std::function<Attempt(int)>& f, Deadline deadline = {}) {
        Waiter w(clock, nullptr, deadline);
        return RetryLoop(w, policy, [] { return 0.5; }).run("test loop", f, 4);
    }
};

Attempt rate_limited(std::optional<ms> after = std::nullopt) {
    Attempt a = Attempt::retry("HTTP 429", after);
    a.counts = false;
    return a;
}

}  // namespace

TEST(RetryLoopRateLimit, A429WaitsTheJitteredRetryAfter) {
    FakeClock clock;
    const RetryPolicy policy;
    Loop loop{clock, policy};
    const auto end =
        loop.run([](int n) { return n == 1 ? rate_limited(ms{1000}) : Attempt::done(); });
    EXPECT_EQ(end.why, LoopEnd::Why::Done);
    EXPECT_EQ(clock.sleeps, (std::vector<ms>{ms{1500}}));  // 1 s + half of 1 s (random 0.5)
}

TEST(RetryLoopRateLimit, ConsecutiveRefusalsBackOffAndThePacerSpacesTheRest) {
    FakeClock clock;
    const RetryPolicy policy;
    Loop loop{clock, policy};
    const auto end = loop.run([](int n) {
        if (n <= 2) {
            return rate_limited();
        }
        return n == 3 ? Attempt::retry("HTTP 503") : Attempt::done();
    });
    EXPECT_EQ(end.why, LoopEnd::Why::Done);
    ASSERT_EQ(clock.sleeps.size(), 3U);
    EXPECT_EQ(clock.sleeps[0], ms{1500});  // 1 s, jittered
    EXPECT_EQ(clock.sleeps[1], ms{3000});  // 2 s, jittered
    // The 503: its own backoff (attempt 3: 900 ms here) or the pacer's gap
    // since the last request (1.5 x 1 s after two 429s), whichever is longer.
    EXPECT_EQ(clock.sleeps[2], ms{1500});
}

TEST(RetryLoopRateLimit, ThePacerSpacesTheNextCallOfTheSameClient) {
    FakeClock clock;
    const RetryPolicy policy;  // its copies share one pacer
    const RetryPolicy copy = policy;
    Loop first{clock, policy};
    (void)first.run([](int n) { return n == 1 ? rate_limited(ms{1000}) : Attempt::done(); });
    const auto after_first = clock.elapsed();
    // The next call (say the next poll) starts at once in the caller's eyes,
    // but its request waits for the gap since the last one: 1 s, less a tenth.
    Loop second{clock, copy};
    std::vector<ms> sent;
    (void)second.run([&](int) {
        sent.push_back(clock.elapsed());
        return Attempt::done();
    });
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0] - after_first, ms{900});
    // A policy of its own (another client) is not slowed.
    const RetryPolicy other;
    Loop third{clock, other};
    const auto before = clock.elapsed();
    (void)third.run([](int) { return Attempt::done(); });
    EXPECT_EQ(clock.elapsed(), before);
}

TEST(RetryLoopRateLimit, ThePacersWaitEndsAtTheDeadline) {
    FakeClock clock;
    const RetryPolicy policy;
    policy.pacer->refused(ms{5000}, ms{1000}, 0.5);
    policy.pacer->started(clock.now());
    Loop loop{clock, policy};
    int tries = 0;
    const auto end = loop.run(
        [&](int) {
            ++tries;
            return Attempt::done();
        },
        Deadline::in(clock, ms{2000}));
    EXPECT_EQ(end.why, LoopEnd::Why::DeadlineReached);
    EXPECT_EQ(tries, 0);
    EXPECT_EQ(clock.elapsed(), ms{2000});
}
