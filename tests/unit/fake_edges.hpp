// Test doubles for the newer edges: a scripted DatabaseProber and a scripted,
// recording ProcessRunner. Both can move a FakeClock to model time spent.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "fakes.hpp"
#include "xbranch/db_probe.hpp"

namespace xbranch::test {

// Answers try_login from `script` in order; each entry may cost fake time.
// With the script empty the test fails and a Refused result is answered.
class FakeProber final : public DatabaseProber {
  public:
    explicit FakeProber(FakeClock* clock = nullptr) : m_clock(clock) {}

    struct Step {
        ProbeResult result;
        ms cost{0};
    };
    void ok(ms cost = ms{10}) {
        ProbeResult r;
        r.ok = true;
        r.reason = ProbeReason::Ok;
        script.push_back({r, cost});
    }
    void fail(ProbeReason reason, ms cost = ms{10}, std::string message = "scripted") {
        script.push_back({probe_failure(reason, "", std::move(message)), cost});
    }

    ProbeResult try_login(const ConnectionInfo& info, std::chrono::milliseconds budget,
                          const StopFn& /*should_stop*/) override {
        seen.push_back(info);
        budgets.push_back(budget);
        if (script.empty()) {
            ADD_FAILURE() << "unexpected login try";
            return probe_failure(ProbeReason::Refused, "", "no script");
        }
        Step s = script.front();
        script.pop_front();
        if (m_clock != nullptr) {
            m_clock->advance(std::min(s.cost, budget));
        }
        return s.result;
    }

    std::deque<Step> script;
    std::vector<ConnectionInfo> seen;
    std::vector<std::chrono::milliseconds> budgets;

  private:
    FakeClock* m_clock;
};

}  // namespace xbranch::test
