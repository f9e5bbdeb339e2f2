// The real SqlRunner edge (usable.hpp): open_connection() + run_sql_script()
// over libpq.
#include "xbranch/usable.hpp"

namespace xbranch {

SqlScriptResult PqSqlRunner::run(const ConnectionInfo& info, const std::string& file,
                                 const std::string& text, Clock& clock, Deadline deadline,
                                 const CancelToken* cancel) {
    auto opened = open_connection(info, clock, deadline, cancel);
    if (!opened.result.ok) {
        SqlScriptResult r;
        r.ok = false;
        r.file = file;
        r.reason = opened.result.reason;
        r.sqlstate = opened.result.sqlstate;
        r.message = "could not connect: " + opened.result.message;
        return r;
    }
    // Clock::TimePoint is a steady_clock point: the executor's deadline.
    const auto left = deadline.left(clock);
    const auto until = left == Clock::Duration::max() ? std::chrono::steady_clock::time_point::max()
                                                      : std::chrono::steady_clock::now() + left;
    return run_sql_script(*opened.connection, file, text, until, cancel);
}

}  // namespace xbranch
