#include "xbranch/hook_lock.hpp"

#include <algorithm>
#include <string>

#include "pq_wait.hpp"
#include "xbranch/pq_conn.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using std::chrono::milliseconds;

// One try never holds up a run long: a silent server costs at most this.
constexpr milliseconds k_lock_try_cap{5000};

// The lock lives as long as this session does.
class PqHeldHookLock final : public HeldHookLock {
  public:
    explicit PqHeldHookLock(std::unique_ptr<PgConnection> connection)
        : m_connection(std::move(connection)) {}

  private:
    std::unique_ptr<PgConnection> m_connection;
};

}  // namespace

HookLockTry PqHookLocker::try_lock(const ConnectionInfo& info, Clock& clock, Deadline deadline,
                                   const CancelToken* cancel) {
    HookLockTry out;
    const milliseconds budget =
        std::max(milliseconds{1}, std::min(k_lock_try_cap, deadline.left(clock)));
    const auto until = std::chrono::steady_clock::now() + budget;
    auto opened = open_connection(info, clock, Deadline::in(clock, budget), cancel);
    if (!opened.result.ok) {
        out.detail = std::string("could not connect: ") + reason_name(opened.result.reason) + ": " +
                     redact(opened.result.message);
        return out;
    }
    const std::string sql = "SELECT pg_try_advisory_lock(" + std::to_string(k_hook_lock_key1) +
                            ", " + std::to_string(k_hook_lock_key2) + ")";
    std::string value;
    detail::QueryFailure failure;
    if (!detail::run_query(opened.connection->get(), sql.c_str(), until, cancel, &value,
                           &failure)) {
        out.detail = std::string("the lock query failed: ") + reason_name(failure.reason) + ": " +
                     redact(failure.message);
        return out;
    }
    if (value == "t") {
        out.outcome = HookLockTry::Outcome::Acquired;
        out.held = std::make_unique<PqHeldHookLock>(std::move(opened.connection));
    } else if (value == "f") {
        out.outcome = HookLockTry::Outcome::Busy;
    } else {
        out.detail = "pg_try_advisory_lock answered '" + value + "'";
    }
    return out;
}

}  // namespace xbranch
