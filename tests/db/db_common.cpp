#include "db_common.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace xbranch::dbtest {
namespace {

std::string g_role;
std::string g_password;

void drop_role() {
    if (!g_role.empty()) {
        try {
            admin_exec("DROP ROLE IF EXISTS " + g_role);
        } catch (...) {  // NOLINT(bugprone-empty-catch): the cluster may be gone already
        }
    }
}

int bind_loopback(int* fd_out) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        throw std::runtime_error("socket() failed");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("bind() failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    *fd_out = fd;
    return ntohs(addr.sin_port);
}

}  // namespace

int cluster_port() {
    const char* dir = std::getenv("XBRANCH_PG_DIR");
#ifdef XBRANCH_PG_DIR_DEFAULT
    if (dir == nullptr || *dir == '\0') {
        dir = XBRANCH_PG_DIR_DEFAULT;
    }
#endif
    if (dir == nullptr) {
        throw std::runtime_error("XBRANCH_PG_DIR is not set: run these tests through ctest");
    }
    std::ifstream in(std::string(dir) + "/port");
    int port = 0;
    if (!(in >> port)) {
        throw std::runtime_error(std::string("no cluster port in ") + dir + "/port");
    }
    return port;
}

std::string admin_exec(const std::string& sql) {
    const std::string port = std::to_string(cluster_port());
    const char* keys[] = {"host", "port", "dbname", "user", "gssencmode", "options", nullptr};
    const char* values[] = {"127.0.0.1", port.c_str(), "postgres",
                            "postgres",  "disable",    "-c client_min_messages=warning",
                            nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        const std::string err = PQerrorMessage(conn);
        PQfinish(conn);
        throw std::runtime_error("admin connection: " + err);
    }
    PGresult* res = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(res);
    std::string out;
    if (status == PGRES_TUPLES_OK && PQntuples(res) > 0) {
        out = PQgetvalue(res, 0, 0);
    }
    const std::string err = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        throw std::runtime_error("admin: " + sql + ": " + err);
    }
    return out;
}

ConnectionInfo test_login() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_role = "xb_probe_" + std::to_string(::getpid());
        g_password = "pw-" + std::to_string(::getpid()) + "-Zq9";
        admin_exec("DROP ROLE IF EXISTS " + g_role);
        admin_exec("CREATE ROLE " + g_role + " LOGIN PASSWORD '" + g_password + "'");
        std::atexit(drop_role);
    });
    ConnectionInfo info;
    info.host = "127.0.0.1";
    info.port = cluster_port();
    info.database = "postgres";
    info.username = g_role;
    info.password = g_password;
    info.sslmode = "disable";
    return info;
}

SilentServer::SilentServer() {
    m_port = bind_loopback(&m_fd);
    if (::listen(m_fd, 16) != 0) {
        ::close(m_fd);
        throw std::runtime_error("listen() failed");
    }
}
SilentServer::~SilentServer() {
    ::close(m_fd);
}

ClosedPort::ClosedPort() {
    m_port = bind_loopback(&m_fd);
}
ClosedPort::~ClosedPort() {
    ::close(m_fd);
}

}  // namespace xbranch::dbtest
