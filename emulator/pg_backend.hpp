// The PostgreSQL side of the emulator: a branch is a database plus a LOGIN
// role that owns it and everything in it. Every public call opens its own
// superuser connections, so calls may run from any thread.
#pragma once

#include <string>

namespace emu {

class PgBackend {
  public:
    explicit PgBackend(std::string conninfo) : m_conninfo(std::move(conninfo)) {}

    // Connects once; reports where the server is (host is empty for a unix
    // socket) and checks that the user is a superuser.
    bool probe(std::string& host, int& port, std::string& error) const;

    // Each returns an empty string on success, else the error.
    std::string create_root(const std::string& db, const std::string& role,
                            const std::string& password, const std::string& seed_sql) const;
    std::string create_child(const std::string& parent_db, const std::string& db,
                             const std::string& role, const std::string& password) const;
    // Terminates the database's sessions, drops it, then the role.
    std::string drop_branch(const std::string& db, const std::string& role) const;
    std::string drop_role(const std::string& role) const;
    // ALTER ROLE ... PASSWORD: the password lag ends (or starts) with it.
    std::string set_password(const std::string& role, const std::string& password) const;

  private:
    std::string m_conninfo;
};

}  // namespace emu
