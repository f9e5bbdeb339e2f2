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
#include "xbranch/hook_lock.hpp"
#include "xbranch/process.hpp"

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
                          const CancelToken* /*cancel*/) override {
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

// Answers run_shell / run_foreground from `script` in order, replaying each
// step's output lines into the sink; records commands and environments.
class FakeProcessRunner final : public ProcessRunner {
  public:
    struct Step {
        ProcessResult result;
        std::vector<std::pair<OutputStream, std::string>> lines;
    };
    void exits(int code, std::vector<std::pair<OutputStream, std::string>> lines = {}) {
        ProcessResult r;
        r.exit_code = code;
        script.push_back({r, std::move(lines)});
    }

    ProcessResult run_shell(const std::string& command, const RunOptions& options,
                            const LineSink& on_line) override {
        commands.push_back({command});
        envs.push_back(options.env);
        Step s = next();
        for (const auto& [stream, line] : s.lines) {
            on_line(stream, line);
        }
        return s.result;
    }
    ProcessResult run_foreground(const std::vector<std::string>& argv,
                                 const RunOptions& options) override {
        commands.push_back(argv);
        envs.push_back(options.env);
        if (during_foreground) {
            during_foreground();
        }
        stopped_by_then.push_back(options.cancel != nullptr && options.cancel->cancelled());
        kill_graces.push_back(options.kill_grace);
        return next().result;
    }
    void forward_signal(int sig) noexcept override { forwarded.push_back(sig); }

    std::deque<Step> script;
    std::vector<std::vector<std::string>> commands;
    std::vector<EnvVars> envs;
    std::vector<int> forwarded;
    // run_foreground: runs while "CMD" runs; then what should_stop said and the kill grace.
    std::function<void()> during_foreground;
    std::vector<bool> stopped_by_then;
    std::vector<std::chrono::milliseconds> kill_graces;

  private:
    Step next() {
        if (script.empty()) {
            ADD_FAILURE() << "unexpected process run";
            ProcessResult r;
            r.outcome = ProcessResult::Outcome::FailedToStart;
            r.error = "no script";
            return {r, {}};
        }
        Step s = script.front();
        script.pop_front();
        return s;
    }
};

// The hooks' lock as one table: `owner_alive` says whether another (live)
// run holds it; `unreachable` answers Unknown. A lock this fake hands out
// counts in `held` while it lives; tries are recorded.
class FakeHookLocker final : public HookLocker {
  public:
    HookLockTry try_lock(const ConnectionInfo& info, Clock& /*clock*/, Deadline /*deadline*/,
                         const CancelToken* /*cancel*/) override {
        seen.push_back(info);
        if (on_try) {
            on_try();
        }
        HookLockTry t;
        if (unreachable || unreachable_tries > 0) {
            unreachable_tries = std::max(0, unreachable_tries - 1);
            t.detail = "scripted: no connection";
        } else if (owner_alive || held > 0) {
            t.outcome = HookLockTry::Outcome::Busy;
        } else {
            t.outcome = HookLockTry::Outcome::Acquired;
            t.held = std::make_unique<Held>(held);
        }
        return t;
    }

    bool owner_alive = false;
    bool unreachable = false;
    int unreachable_tries = 0;  // this many tries get no answer first
    int held = 0;
    std::function<void()> on_try;
    std::vector<ConnectionInfo> seen;

  private:
    class Held final : public HeldHookLock {
      public:
        explicit Held(int& count) : m_count(count) { ++m_count; }
        ~Held() override { --m_count; }
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;

      private:
        int& m_count;
    };
};

}  // namespace xbranch::test
