// PqHookLocker against the fixture cluster: the lock is exclusive across
// sessions, freed when its holder's session ends, and a try that cannot
// reach a server answers Unknown (never Acquired) within its budget.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "db_common.hpp"
#include "xbranch/hook_lock.hpp"

namespace xbranch {
namespace {

using std::chrono::milliseconds;

std::string locks_held() {
    return dbtest::admin_exec(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = " +
        std::to_string(k_hook_lock_key1) + " AND objid = " + std::to_string(k_hook_lock_key2) +
        " AND objsubid = 2");
}

TEST(HookLockDb, ExclusiveWhileHeldAndFreedWhenTheHolderGoes) {
    SystemClock clock;
    PqHookLocker locker;
    const Deadline deadline = Deadline::in(clock, milliseconds{10000});
    auto first = locker.try_lock(dbtest::test_login(), clock, deadline, nullptr);
    ASSERT_EQ(first.outcome, HookLockTry::Outcome::Acquired) << first.detail;
    ASSERT_NE(first.held, nullptr);
    EXPECT_EQ(locks_held(), "1");
    const auto second = locker.try_lock(dbtest::test_login(), clock, deadline, nullptr);
    EXPECT_EQ(second.outcome, HookLockTry::Outcome::Busy) << second.detail;
    EXPECT_EQ(second.held, nullptr);
    first.held.reset();  // the session ends: the server frees the lock
    // The backend exits just after the client's goodbye: allow it a moment.
    for (int i = 0; i < 100 && locks_held() != "0"; ++i) {
        std::this_thread::sleep_for(milliseconds{20});
    }
    EXPECT_EQ(locks_held(), "0");
    auto third = locker.try_lock(dbtest::test_login(), clock, deadline, nullptr);
    EXPECT_EQ(third.outcome, HookLockTry::Outcome::Acquired) << third.detail;
}

TEST(HookLockDb, NoServerIsUnknownWithoutThePassword) {
    SystemClock clock;
    PqHookLocker locker;
    dbtest::ClosedPort closed;
    ConnectionInfo info = dbtest::test_login();
    info.port = closed.port();
    const auto r = locker.try_lock(info, clock, Deadline::in(clock, milliseconds{5000}), nullptr);
    EXPECT_EQ(r.outcome, HookLockTry::Outcome::Unknown);
    EXPECT_EQ(r.held, nullptr);
    EXPECT_FALSE(r.detail.empty());
    EXPECT_EQ(r.detail.find(info.password), std::string::npos);
}

TEST(HookLockDb, ASilentServerIsUnknownWithinTheDeadline) {
    SystemClock clock;
    PqHookLocker locker;
    dbtest::SilentServer silent;
    ConnectionInfo info = dbtest::test_login();
    info.port = silent.port();
    const auto start = std::chrono::steady_clock::now();
    const auto r = locker.try_lock(info, clock, Deadline::in(clock, milliseconds{300}), nullptr);
    EXPECT_EQ(r.outcome, HookLockTry::Outcome::Unknown);
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds{2000});
}

}  // namespace
}  // namespace xbranch
