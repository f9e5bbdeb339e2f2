// The signal handler: the first signal cancels the run token, a later one the
// cleanup token, and a set forwarder sees signals another process sent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

#include "xbranch/cancel.hpp"

namespace {

std::atomic<int> g_forwarded{0};

extern "C" void record(int sig) {
    g_forwarded.store(sig);
}

void restore_default_handlers() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        std::signal(sig, SIG_DFL);
    }
}

}  // namespace

TEST(SignalForwarder, SeesASentSignalUntilCleared) {
    static xbranch::CancelToken run;
    static xbranch::CancelToken cleanup;
    xbranch::install_signal_tokens(run, cleanup);
    xbranch::set_signal_forwarder(record);
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);  // SI_USER: forwarded
    EXPECT_EQ(g_forwarded.load(), SIGTERM);
    EXPECT_TRUE(run.cancelled());
    EXPECT_EQ(run.signal_number(), SIGTERM);
    EXPECT_FALSE(cleanup.cancelled());

    g_forwarded.store(0);
    xbranch::set_signal_forwarder(nullptr);
    ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
    EXPECT_EQ(g_forwarded.load(), 0);
    EXPECT_TRUE(cleanup.cancelled());  // the second signal
    restore_default_handlers();
}

// `xbranch run`: Ctrl-C's meant for the child are not xbranch's; they must
// not use up the cleanup's "second signal" before the delete after CMD.
TEST(SignalForwarder, SignalsWhileAChildRunsAreTheChildsNotTheTokens) {
    static xbranch::CancelToken run;
    static xbranch::CancelToken cleanup;
    static xbranch::ChildSignals child;
    xbranch::install_signal_tokens(run, cleanup);
    g_forwarded.store(0);
    xbranch::set_signal_forwarder(record, &child);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
    }
    EXPECT_EQ(g_forwarded.load(), SIGINT);
    EXPECT_TRUE(child.interrupt.cancelled());
    EXPECT_FALSE(child.end.cancelled());
    EXPECT_FALSE(run.cancelled());
    EXPECT_FALSE(cleanup.cancelled());
    ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
    EXPECT_TRUE(child.end.cancelled());
    EXPECT_EQ(child.end.signal_number(), SIGTERM);
    EXPECT_FALSE(run.cancelled());

    // The child has ended: the next signal is the run's first, the one after
    // it the cleanup's.
    xbranch::set_signal_forwarder(nullptr, nullptr);
    ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
    EXPECT_TRUE(run.cancelled());
    EXPECT_FALSE(cleanup.cancelled());
    ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
    EXPECT_TRUE(cleanup.cancelled());
    restore_default_handlers();
}
