// The readiness poll schedule (lifecycle.hpp PollSchedule): a pure function
// of the time waited, checked as the poll times a wait would make.
#include <gtest/gtest.h>

#include <vector>

#include "xbranch/lifecycle.hpp"

using namespace xbranch;
using ms = std::chrono::milliseconds;

namespace {

// The moments (since the POST's answer) of the polls of one wait: the first
// right away, then schedule.next(elapsed) after each, each poll taking `took`.
std::vector<ms> poll_times(const PollSchedule& s, ms until, ms took = ms{0}) {
    std::vector<ms> out;
    ms t{0};
    while (t <= until) {
        out.push_back(t);
        t += took;
        t += s.next(t);
    }
    return out;
}

// Polls up to and including the first at or after `ready`; its lateness.
std::pair<int, ms> seen(const PollSchedule& s, ms ready, ms took = ms{0}) {
    const auto times = poll_times(s, ready + ms{60000}, took);
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (times[i] >= ready) {
            return {static_cast<int>(i) + 1, times[i] - ready};
        }
    }
    return {-1, ms{0}};
}

}  // namespace

TEST(PollSchedule, ARampThenDoubling) {
    const PollSchedule s;
    // Right after the POST, then waits of 0.1, 0.1, 0.1, 0.3, 0.4, 0.5 s up
    // to 1.5 s, then each wait twice the one before (0.6, 1.2, 2.4, 4.8 s),
    // at most 5 s.
    const std::vector<ms> want = {ms{0},     ms{100},   ms{200},  ms{300},  ms{600},
                                  ms{1000},  ms{1500},  ms{2100}, ms{3300}, ms{5700},
                                  ms{10500}, ms{15500}, ms{20500}};
    EXPECT_EQ(poll_times(s, ms{20500}), want);
}

TEST(PollSchedule, PureValues) {
    const PollSchedule s;
    EXPECT_EQ(s.next(ms{0}), ms{100});
    EXPECT_EQ(s.next(ms{5}), ms{95});  // a slow poll does not push the ramp back
    EXPECT_EQ(s.next(ms{100}), ms{100});
    EXPECT_EQ(s.next(ms{200}), ms{100});
    EXPECT_EQ(s.next(ms{300}), ms{300});
    EXPECT_EQ(s.next(ms{610}), ms{390});  // to the ramp's point at 1 s
    EXPECT_EQ(s.next(ms{980}), ms{520});  // a point closer than 50 ms is skipped
    EXPECT_EQ(s.next(ms{1500}), ms{600});
    EXPECT_EQ(s.next(ms{2100}), ms{1200});
    EXPECT_EQ(s.next(ms{5700}), ms{4800});
    EXPECT_EQ(s.next(ms{10500}), ms{5000});  // capped
    EXPECT_EQ(s.next(ms{600000}), ms{5000});
}

TEST(PollSchedule, NeverFasterThanHalfAStepAfterTheFirstPolls) {
    const PollSchedule s;
    for (ms e{100}; e < ms{120000}; e += ms{7}) {
        EXPECT_GE(s.next(e), ms{50}) << e.count();
        EXPECT_LE(s.next(e), ms{5000}) << e.count();
    }
}

TEST(PollSchedule, RequestBudgetAgainstTheOfficialFlow) {
    const PollSchedule s;
    // The official flow polls every second plus its own overhead: 10-11
    // polls for a branch ready after 10 s (with list, POST and credentials:
    // 13-14 requests). The schedule makes 11, also with polls of 5 ms each.
    for (const ms took : {ms{0}, ms{5}}) {
        EXPECT_EQ(seen(s, ms{10000}, took).first, 11) << took.count();
        EXPECT_EQ(seen(s, ms{1500}, took).first, 7) << took.count();
    }
    // Quick at first: ready within 0.3 s (the emulator's D = 0 in
    // PostgreSQL mode: about 0.2 s on an idle machine) seen within 0.1 s,
    // ready after 1.5 s (D = 1.5 s) at once, after 1.1 s within 400 ms.
    EXPECT_EQ(seen(s, ms{100}).second, ms{0});
    for (ms ready{1}; ready <= ms{300}; ready += ms{1}) {
        EXPECT_LE(seen(s, ready).second, ms{100}) << ready.count();
    }
    EXPECT_EQ(seen(s, ms{1500}).second, ms{0});
    EXPECT_LE(seen(s, ms{1100}).second, ms{400});
    // The price of the budget: between 1.5 s and 10 s the waits double, so
    // a branch ready after 6 s is seen 4.5 s late; after the cap a long wait
    // is seen within 5 s.
    EXPECT_EQ(seen(s, ms{6000}).second, ms{4500});
    EXPECT_LE(seen(s, ms{30000}).second, ms{5000});
}
