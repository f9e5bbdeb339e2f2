// Shared by the real-PostgreSQL tests: the fixture cluster's port, an admin
// connection (the superuser is trusted on loopback) and loopback sockets.
#pragma once

#include <string>

#include "xbranch/connection.hpp"

namespace xbranch::dbtest {

// The fixture cluster's port; fails the test (throws) when XBRANCH_PG_DIR is unset.
int cluster_port();

// Runs SQL as the superuser; throws std::runtime_error with the server's message.
std::string admin_exec(const std::string& sql);

// A login role with a password (created once per process, dropped at exit)
// and its ConnectionInfo (127.0.0.1, sslmode disable, database postgres).
ConnectionInfo test_login();

// A loopback TCP port that accepts connections (kernel backlog) and never
// answers; closed on destruction.
class SilentServer {
  public:
    SilentServer();
    ~SilentServer();
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;
    int port() const { return m_port; }

  private:
    int m_fd = -1;
    int m_port = 0;
};

// A loopback port bound but not listening: connections are refused.
class ClosedPort {
  public:
    ClosedPort();
    ~ClosedPort();
    ClosedPort(const ClosedPort&) = delete;
    ClosedPort& operator=(const ClosedPort&) = delete;
    int port() const { return m_port; }

  private:
    int m_fd = -1;
    int m_port = 0;
};

}  // namespace xbranch::dbtest
