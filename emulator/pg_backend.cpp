#include "pg_backend.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <thread>

namespace emu {

namespace {

struct ConnCloser {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

struct ResultCloser {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultCloser>;

// dbname empty: the database named in the conninfo.
Conn connect(const std::string& conninfo, const std::string& dbname, std::string& error) {
    const char* keys[] = {"dbname", "dbname", "application_name", "connect_timeout", nullptr};
    const char* values[] = {conninfo.c_str(), dbname.empty() ? nullptr : dbname.c_str(),
                            "xata-emulator", "10", nullptr};
    if (dbname.empty()) {
        keys[1] = "application_name";
        values[1] = "xata-emulator";
        keys[2] = "connect_timeout";
        values[2] = "10";
        keys[3] = nullptr;
        values[3] = nullptr;
    }
    Conn c(PQconnectdbParams(keys, values, 1));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
        error = c ? PQerrorMessage(c.get()) : "out of memory";
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) {
            error.pop_back();
        }
        return nullptr;
    }
    return c;
}

// Runs one or more statements; empty on success, else the message. The
// SQLSTATE of a failure goes to *state when given.
std::string exec(PGconn* c, const std::string& sql, std::string* state = nullptr) {
    Result r(PQexec(c, sql.c_str()));
    const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        return {};
    }
    std::string msg = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(c);
    if (state != nullptr && r) {
        const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        *state = s != nullptr ? s : "";
    }
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
        msg.pop_back();
    }
    return msg.empty() ? "unknown error" : msg;
}

std::string ident(PGconn* c, const std::string& s) {
    char* q = PQescapeIdentifier(c, s.c_str(), s.size());
    std::string out = q != nullptr ? q : "\"\"";
    PQfreemem(q);
    return out;
}

std::string literal(PGconn* c, const std::string& s) {
    char* q = PQescapeLiteral(c, s.c_str(), s.size());
    std::string out = q != nullptr ? q : "''";
    PQfreemem(q);
    return out;
}

// Hands every user object of the current database to the role: schemas,
// tables, views, sequences, types, functions. Objects that belong to an
// extension, and sequences owned by a column, follow their owner instead.
constexpr const char* k_give_everything = R"SQL(
DO $emu$
DECLARE
  target text := %s;
  r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND n.nspowner <> 'pg_database_owner'::regrole
             AND n.nspowner <> target::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                             AND d.objid = n.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, target);
  END LOOP;
  FOR r IN SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
             AND c.relowner <> target::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND d.deptype = 'e')
             AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                         AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                     WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END,
      r.oid::regclass, target);
  END LOOP;
  FOR r IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND p.proowner <> target::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                             AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.oid::regprocedure, target);
  END LOOP;
  FOR r IN SELECT t.oid, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
             AND t.typtype IN ('d', 'e', 'r', 'm')
             AND t.typowner <> target::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                             AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I',
      CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.oid::regtype, target);
  END LOOP;
END
$emu$;
)SQL";

// A branch database is small: copying its files (and checkpointing) is
// faster than writing every page to the WAL, PostgreSQL 15's default
// strategy. Older servers know only the file copy and not the option.
std::string copy_strategy(PGconn* c) {
    return PQserverVersion(c) >= 150000 ? " STRATEGY FILE_COPY" : "";
}

std::string create_role(PGconn* c, const std::string& role, const std::string& password) {
    return exec(c, "CREATE ROLE " + ident(c, role) + " LOGIN PASSWORD " + literal(c, password));
}

// Only the owner (and superusers) may connect to a branch database.
std::string lock_down(PGconn* c, const std::string& db, const std::string& role) {
    const std::string d = ident(c, db);
    return exec(c, "REVOKE ALL ON DATABASE " + d + " FROM PUBLIC; GRANT ALL ON DATABASE " + d +
                       " TO " + ident(c, role));
}

std::string give_everything_to(PGconn* c, const std::string& role) {
    std::string sql = k_give_everything;
    const auto pos = sql.find("%s");
    sql.replace(pos, 2, literal(c, role));
    return exec(c, sql);
}

}  // namespace

bool PgBackend::probe(std::string& host, int& port, std::string& error) const {
    Conn c = connect(m_conninfo, "", error);
    if (!c) {
        return false;
    }
    const char* h = PQhost(c.get());
    host = (h != nullptr && h[0] != '/' && h[0] != '@') ? h : "";
    const char* p = PQport(c.get());
    port = (p != nullptr && p[0] != '\0') ? std::stoi(p) : 5432;
    const char* su = PQparameterStatus(c.get(), "is_superuser");
    if (su == nullptr || std::string(su) != "on") {
        error = "the --pg user must be a superuser";
        return false;
    }
    return true;
}

std::string PgBackend::create_root(const std::string& db, const std::string& role,
                                   const std::string& password, const std::string& seed_sql) const {
    {
        std::string err;
        Conn c = connect(m_conninfo, "", err);
        if (!c) {
            return err;
        }
        if (auto e = create_role(c.get(), role, password); !e.empty()) {
            return e;
        }
        if (auto e = exec(c.get(), "CREATE DATABASE " + ident(c.get(), db) + " OWNER " +
                                       ident(c.get(), role) + copy_strategy(c.get()));
            !e.empty()) {
            return e;
        }
        if (auto e = lock_down(c.get(), db, role); !e.empty()) {
            return e;
        }
    }
    std::string err;
    Conn c = connect(m_conninfo, db, err);
    if (!c) {
        return err;
    }
    if (!seed_sql.empty()) {
        if (auto e = exec(c.get(), seed_sql); !e.empty()) {
            return "seed SQL: " + e;
        }
    }
    return give_everything_to(c.get(), role);
}

std::string PgBackend::create_child(const std::string& parent_db, const std::string& db,
                                    const std::string& role, const std::string& password) const {
    std::string err;
    Conn c = connect(m_conninfo, "", err);
    if (!c) {
        return err;
    }
    if (auto e = create_role(c.get(), role, password); !e.empty()) {
        return e;
    }
    const std::string create = "CREATE DATABASE " + ident(c.get(), db) + " TEMPLATE " +
                               ident(c.get(), parent_db) + " OWNER " + ident(c.get(), role) +
                               copy_strategy(c.get());
    std::string state;
    std::string e = exec(c.get(), create, &state);
    if (!e.empty() && state == "55006") {
        // Someone is connected to the parent: a template copy needs it to
        // be alone. Refuse new sessions, end the current ones, copy, and
        // let sessions in again whatever happened.
        const std::string p = ident(c.get(), parent_db);
        const std::string terminate =
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
            literal(c.get(), parent_db) + " AND pid <> pg_backend_pid()";
        e = exec(c.get(), "ALTER DATABASE " + p + " ALLOW_CONNECTIONS false");
        if (e.empty()) {
            for (int attempt = 0; attempt < 50; ++attempt) {
                exec(c.get(), terminate);
                state.clear();
                e = exec(c.get(), create, &state);
                if (e.empty() || state != "55006") {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            if (auto e2 = exec(c.get(), "ALTER DATABASE " + p + " ALLOW_CONNECTIONS true");
                e.empty() && !e2.empty()) {
                e = e2;
            }
        }
    }
    if (!e.empty()) {
        exec(c.get(), "DROP ROLE IF EXISTS " + ident(c.get(), role));
        return e;
    }
    if (auto e2 = lock_down(c.get(), db, role); !e2.empty()) {
        return e2;
    }
    c = connect(m_conninfo, db, err);
    if (!c) {
        return err;
    }
    return give_everything_to(c.get(), role);
}

std::string PgBackend::drop_branch(const std::string& db, const std::string& role) const {
    std::string err;
    Conn c = connect(m_conninfo, "", err);
    if (!c) {
        return err;
    }
    if (auto e = exec(c.get(), "DROP DATABASE IF EXISTS " + ident(c.get(), db) + " WITH (FORCE)");
        !e.empty()) {
        return e;
    }
    return exec(c.get(), "DROP ROLE IF EXISTS " + ident(c.get(), role));
}

std::string PgBackend::drop_role(const std::string& role) const {
    std::string err;
    Conn c = connect(m_conninfo, "", err);
    if (!c) {
        return err;
    }
    return exec(c.get(), "DROP ROLE IF EXISTS " + ident(c.get(), role));
}

std::string PgBackend::set_password(const std::string& role, const std::string& password) const {
    std::string err;
    Conn c = connect(m_conninfo, "", err);
    if (!c) {
        return err;
    }
    return exec(c.get(),
                "ALTER ROLE " + ident(c.get(), role) + " PASSWORD " + literal(c.get(), password));
}

}  // namespace emu
