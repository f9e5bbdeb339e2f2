#include <gtest/gtest.h>

#include "fakes.hpp"
#include "xbranch/retry.hpp"

using namespace xbranch;
using namespace xbranch::test;

TEST(RetryPolicy, ShouldRetryTable) {
    const RetryPolicy p;  // 4 attempts
    const std::vector<std::string> idempotent = {"GET", "DELETE", "PATCH"};
    for (const auto& m : idempotent) {
        for (long s : {408L, 429L, 500L, 502L, 503L, 504L}) {
            EXPECT_TRUE(p.should_retry(m, answer(s), 1)) << m << " " << s;
            EXPECT_TRUE(p.should_retry(m, answer(s), 3)) << m << " " << s;
            EXPECT_FALSE(p.should_retry(m, answer(s), 4)) << m << " " << s << " (attempts used up)";
        }
        for (long s : {200L, 201L, 204L, 400L, 401L, 403L, 404L, 409L, 412L, 501L, 505L}) {
            EXPECT_FALSE(p.should_retry(m, answer(s), 1)) << m << " " << s;
        }
        for (auto o :
             {dropped(), timed_out(), refused(), failure(TransportError::Kind::Other, true)}) {
            EXPECT_TRUE(p.should_retry(m, o, 1)) << m;
            EXPECT_FALSE(p.should_retry(m, o, 4)) << m;
        }
        // A certificate that failed verification fails the same way again.
        EXPECT_FALSE(p.should_retry(m, failure(TransportError::Kind::Tls, false), 1)) << m;
    }
    // POST never: its outcome is settled by a lookup, not by resending.
    for (long s : {408L, 429L, 500L, 503L}) {
        EXPECT_FALSE(p.should_retry("POST", answer(s), 1));
    }
    EXPECT_FALSE(p.should_retry("POST", dropped(), 1));
    EXPECT_FALSE(p.should_retry("POST", refused(), 1));
    EXPECT_FALSE(p.should_retry("POST", timed_out(), 1));
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

TEST(ParseRetryAfter, SecondsDatesAndGarbage) {
    const std::int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(parse_retry_after("1", now), ms{1000});
    EXPECT_EQ(parse_retry_after("30", now), ms{30000});
    EXPECT_EQ(parse_retry_after(" 5 \r\n", now), ms{5000});
    EXPECT_EQ(parse_retry_after("0", now), ms{0});
    EXPECT_EQ(parse_retry_after("999999999999999999999999", now), ms{86400000});
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), ms{30000});
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), ms{0});
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), ms{0});  // in the past
    EXPECT_EQ(parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now), ms{86400000});
    for (const char* g : {"", "  ", "soon", "-1", "1.5", "5s", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "06 Nov 1994"}) {
        EXPECT_FALSE(parse_retry_after(g, now).has_value()) << "'" << g << "'";
    }
}
