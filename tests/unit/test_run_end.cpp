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
