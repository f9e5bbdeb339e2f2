// run's exit status: CMD's, but a branch left after a successful CMD is never 0.
#include <gtest/gtest.h>

#include <csignal>

#include "xbranch/run_end.hpp"

using xbranch::Error;
using xbranch::ErrorKind;
using xbranch::run_exit_status;

TEST(RunExitStatus, IsTheCommandsWhenTheBranchIsGone) {
    EXPECT_EQ(run_exit_status(0, std::nullopt), 0);
    EXPECT_EQ(run_exit_status(7, std::nullopt), 7);
    EXPECT_EQ(run_exit_status(128 + SIGKILL, std::nullopt), 137);
    EXPECT_EQ(run_exit_status(127, std::nullopt), 127);
}

TEST(RunExitStatus, ASuccessfulCommandWithItsBranchLeftExitsWithTheDeletesCode) {
    EXPECT_EQ(run_exit_status(0, Error(ErrorKind::Unavailable, "503")), 8);
    EXPECT_EQ(run_exit_status(0, Error(ErrorKind::Timeout, "the time limit ran out")), 6);
    EXPECT_EQ(run_exit_status(0, Error(ErrorKind::Auth, "403")), 3);
    EXPECT_EQ(run_exit_status(0, Error(ErrorKind::Interrupted, "cut").with_signal(SIGINT)), 130);
    EXPECT_EQ(run_exit_status(0, Error(ErrorKind::Interrupted, "cut").with_signal(SIGTERM)), 143);
}

TEST(RunExitStatus, AFailedCommandKeepsItsOwnStatusWithItsBranchLeft) {
    EXPECT_EQ(run_exit_status(7, Error(ErrorKind::Unavailable, "503")), 7);
    EXPECT_EQ(run_exit_status(130, Error(ErrorKind::Interrupted, "cut").with_signal(SIGINT)), 130);
    EXPECT_EQ(run_exit_status(127, Error(ErrorKind::Timeout, "late")), 127);
}

// ------------------------------------------------------- the child's lifecycle
// run_child and end_run on a fake process runner: the cases that were end to
// end only (tests/e2e/test_run.py), with no real process and no real wait.

#include "fake_edges.hpp"
#include "xbranch/naming.hpp"

namespace {

using xbranch::ChildSignals;
using xbranch::end_run;
using xbranch::ProcessResult;
using xbranch::run_child;

TEST(RunChild, RunsCmdWithItsEnvironmentAndPassesItsStatus) {
    xbranch::test::FakeProcessRunner runner;
    runner.exits(3);
    xbranch::CancelToken run_cancel;
    ChildSignals child;
    const auto r = run_child(runner, {"sh", "-c", "exit 3"}, {{"DATABASE_URL", "postgres://x"}},
                             run_cancel, child);
    EXPECT_EQ(r.status, 3);
    ASSERT_TRUE(r.result.has_value());
    ASSERT_EQ(runner.commands.size(), 1U);
    EXPECT_EQ(runner.commands[0], (std::vector<std::string>{"sh", "-c", "exit 3"}));
    EXPECT_EQ(runner.envs[0], (xbranch::EnvVars{{"DATABASE_URL", "postgres://x"}}));
}

TEST(RunChild, ASignalBeforeCmdStartsMeansItNeverRuns) {
    xbranch::test::FakeProcessRunner runner;
    xbranch::CancelToken run_cancel;
    run_cancel.cancel(SIGTERM);
    ChildSignals child;
    const auto r = run_child(runner, {"true"}, {}, run_cancel, child);
    EXPECT_EQ(r.status, 128 + SIGTERM);
    EXPECT_FALSE(r.result.has_value());
    EXPECT_TRUE(runner.commands.empty());
}

// From test_a_cmd_that_ignores_sigterm_is_killed_after_the_grace (kept end
// to end once; the kill itself: tests/db/test_process_real.cpp): SIGTERM or
// SIGHUP while CMD runs stops it after the 10 s grace; SIGINT is CMD's to decide.
TEST(RunChild, SigtermOrSighupStopsCmdAfterTheGraceSigintDoesNot) {
    for (const bool ending : {true, false}) {
        xbranch::test::FakeProcessRunner runner;
        ProcessResult killed;
        killed.outcome = ProcessResult::Outcome::Signaled;
        killed.signal = SIGKILL;
        runner.script.push_back({killed, {}});
        xbranch::CancelToken run_cancel;
        ChildSignals child;
        runner.during_foreground = [&] { (ending ? child.end : child.interrupt).cancel(); };
        const auto r = run_child(runner, {"sleep", "60"}, {}, run_cancel, child);
        EXPECT_EQ(r.status, 128 + SIGKILL);
        EXPECT_EQ(runner.stopped_by_then.at(0), ending);
        EXPECT_EQ(runner.kill_graces.at(0), std::chrono::milliseconds(10000));
        EXPECT_FALSE(run_cancel.cancelled());  // the delete afterwards keeps its budget
    }
}

TEST(RunChild, ACmdThatCannotStartIs127) {
    xbranch::test::FakeProcessRunner runner;
    ProcessResult r;
    r.outcome = ProcessResult::Outcome::FailedToStart;
    r.error = "No such file or directory";
    runner.script.push_back({r, {}});
    xbranch::CancelToken run_cancel;
    ChildSignals child;
    EXPECT_EQ(run_child(runner, {"no-such-cmd"}, {}, run_cancel, child).status, 127);
}

// From test_a_failed_cmd_keeps_its_status_when_the_delete_cannot_finish
// (its twin with a successful CMD stays end to end).
TEST(EndRun, TheDeleteDecidesOnlyForASuccessfulCmd) {
    int discards = 0;
    const auto left = [&] {
        ++discards;
        return std::optional<Error>(Error(ErrorKind::Unavailable, "503"));
    };
    const auto gone = [&] {
        ++discards;
        return std::optional<Error>();
    };
    EXPECT_EQ(end_run(3, true, left).exit_status, 3);
    EXPECT_TRUE(end_run(3, true, left).left_by.has_value());
    EXPECT_EQ(end_run(0, true, left).exit_status, 8);
    EXPECT_EQ(end_run(0, true, gone).exit_status, 0);
    EXPECT_FALSE(end_run(0, true, gone).left_by.has_value());
    discards = 0;
    // --keep or an adopted branch: never deleted.
    EXPECT_EQ(end_run(5, false, left).exit_status, 5);
    EXPECT_EQ(discards, 0);
}

TEST(RandomRunBranchName, IsRunAndEightCharacters) {
    const std::string name = xbranch::random_run_branch_name();
    EXPECT_EQ(name.rfind("run-", 0), 0U);
    EXPECT_EQ(name.size(), 12U);
    EXPECT_TRUE(xbranch::valid_branch_name(name));
    EXPECT_NE(name, xbranch::random_run_branch_name());
}

}  // namespace
