// The libpq connection below the connection check (db_probe.hpp), the SQL
// hooks (sql_script.hpp) and the hooks' lock (hook_lock.hpp): one connection
// opened with exactly the handed-out details, bounded in time and stoppable.
// The socket waits and the bounded query are private (src/pq_wait.hpp).
#pragma once

#include <chrono>
#include <memory>

#include "xbranch/connection.hpp"
#include "xbranch/pq_failure.hpp"
#include "xbranch/resolver.hpp"

struct pg_conn;  // libpq's PGconn, kept out of the public headers

namespace xbranch {

// An open libpq connection (for the --sql executor); closes on destruction.
class PgConnection {
  public:
    explicit PgConnection(pg_conn* conn) : m_conn(conn) {}
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;
    pg_conn* get() const { return m_conn; }

  private:
    pg_conn* m_conn;
};

struct ConnectOutcome {
    std::unique_ptr<PgConnection> connection;  // set when ok
    ProbeResult result;
};
// Opens a connection with exactly `info` (no PG* environment variable, no
// ~/.pgpass fills a gap), as PqProber does, and leaves it open. A host name
// is looked up through `resolver` within the same budget; a name that does
// not resolve is NameResolution (retried like a refused connection).
// Everything (the lookup, the connect, TLS, the login) ends by `deadline` on
// `clock` (unset: no limit) or when `cancel` (may be null) is set.
ConnectOutcome open_connection(const ConnectionInfo& info, const Clock& clock, Deadline deadline,
                               const CancelToken* cancel,
                               HostResolver& resolver = system_resolver());

}  // namespace xbranch
