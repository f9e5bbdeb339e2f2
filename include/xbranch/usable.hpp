// What makes a branch "ready" after its credentials: the connection check (a
// real login with the exact connection handed out) and the hooks (--sql files
// over libpq, --exec commands), with the hook state kept in the branch's tag.
// The edges (DatabaseProber, SqlRunner, ProcessRunner) are injected into
// Lifecycle through UsableEdges; tests pass fakes.
#pragma once

#include <chrono>
#include <string>

#include "xbranch/clock.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/hook_lock.hpp"
#include "xbranch/hooks.hpp"
#include "xbranch/process.hpp"
#include "xbranch/sql_script.hpp"

namespace xbranch {

// Runs one SQL file against a branch within `deadline`; stops on `cancel`.
class SqlRunner {
  public:
    virtual ~SqlRunner() = default;
    virtual SqlScriptResult run(const ConnectionInfo& info, const std::string& file,
                                const std::string& text, Clock& clock, Deadline deadline,
                                const CancelToken* cancel) = 0;
};

// open_connection() + run_sql_script() over libpq.
class PqSqlRunner final : public SqlRunner {
  public:
    SqlScriptResult run(const ConnectionInfo& info, const std::string& file,
                        const std::string& text, Clock& clock, Deadline deadline,
                        const CancelToken* cancel) override;
};

// The edges Lifecycle uses after credentials; a null prober skips the check
// only when the request asks for none (Lifecycle refuses a missing one).
struct UsableEdges {
    DatabaseProber* prober = nullptr;
    SqlRunner* sql = nullptr;
    ProcessRunner* processes = nullptr;
    // The hooks' liveness lock; null: a Pending branch is never judged dead.
    HookLocker* locker = nullptr;
    LineSink hook_output;  // --exec output lines, unredacted: the sink redacts
    ProbeLoopOptions probe_options{};
    std::function<double()> unit_random;  // jitter of the check's backoff; {}: none
};

}  // namespace xbranch
