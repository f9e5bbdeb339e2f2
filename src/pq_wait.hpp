// Private to the libpq plumbing (pq_conn.cpp) and its users (db_probe,
// sql_script, hook_lock): waiting on a libpq socket beside the CancelToken's
// fd (a cancel wakes the wait at once), and a bounded query.
#pragma once

#include <chrono>
#include <string>

#include "xbranch/pq_failure.hpp"
#include "xbranch/resolver.hpp"

struct pg_conn;  // libpq's PGconn

namespace xbranch::detail {

enum class WaitResult { Ready, TimedOut, Stopped, Failed };

// Waits until `fd` is readable (or writable), `deadline` (on `clock`)
// passes or `cancel` (may be null) is set, in one poll of `fd` and the
// token's fd (no slices).
WaitResult wait_socket(int fd, bool for_write, const Clock& clock, Deadline deadline,
                       const CancelToken* cancel);

// Sends `sql` and reads every result, like PQexec but bounded and stoppable;
// a stop or timeout cancels the query on the server. On success returns true
// and fills `rows` with the first column of the last result's first row (if
// any); on failure fills `failure` (sqlstate, message, statement position).
struct QueryFailure {
    ProbeReason reason = ProbeReason::Other;  // Timeout, Cancelled, Reset or Other
    std::string sqlstate;
    std::string message;
    int position = 0;  // PG_DIAG_STATEMENT_POSITION, 1-based characters; 0 = none
};
bool run_query(pg_conn* conn, const char* sql, std::chrono::steady_clock::time_point deadline,
               const CancelToken* cancel, std::string* first_value, QueryFailure* failure);

}  // namespace xbranch::detail
