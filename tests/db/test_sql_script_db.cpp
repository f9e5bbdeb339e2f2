// run_sql_script over a real connection to the fixture cluster.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "db_common.hpp"
#include "xbranch/sql_script.hpp"

namespace xbranch {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class SqlScriptDb : public ::testing::Test {
  protected:
    void SetUp() override {
        m_table = "xb_seed_" + std::to_string(::getpid());
        dbtest::admin_exec("DROP TABLE IF EXISTS " + m_table);
        dbtest::admin_exec("CREATE TABLE " + m_table + " (id int PRIMARY KEY, name text)");
        dbtest::admin_exec("GRANT ALL ON " + m_table + " TO " + dbtest::test_login().username);
        const SystemClock clock;
        auto opened = open_connection(dbtest::test_login(), clock,
                                      Deadline::in(clock, milliseconds{10000}), nullptr);
        ASSERT_TRUE(opened.result.ok) << opened.result.message;
        m_conn = std::move(opened.connection);
    }
    void TearDown() override {
        m_conn.reset();
        dbtest::admin_exec("DROP TABLE IF EXISTS " + m_table);
    }
    std::string count() const { return dbtest::admin_exec("SELECT count(*) FROM " + m_table); }
    static steady_clock::time_point in(milliseconds d) { return steady_clock::now() + d; }

    std::string m_table;
    std::unique_ptr<PgConnection> m_conn;
};

TEST_F(SqlScriptDb, RunsEveryStatementInOrder) {
    const std::string script = "-- seed\nINSERT INTO " + m_table +
                               " VALUES (1, 'a;b');\n"
                               "INSERT INTO " +
                               m_table +
                               " VALUES (2, $$it's; fine$$);\n"
                               "DO $x$ BEGIN INSERT INTO " +
                               m_table + " VALUES (3, E'c\\'d'); END $x$;\n";
    const auto r = run_sql_script(*m_conn, "seed.sql", script, in(milliseconds{10000}), {});
    EXPECT_TRUE(r.ok) << r.describe();
    EXPECT_EQ(r.statements_run, 3U);
    EXPECT_EQ(count(), "3");
    EXPECT_EQ(dbtest::admin_exec("SELECT name FROM " + m_table + " WHERE id = 3"), "c'd");
}

TEST_F(SqlScriptDb, AFailingStatementNamesItsLineAndStopsThere) {
    const std::string script = "INSERT INTO " + m_table + " VALUES (1, 'one');\n" +  // line 1
                               "\n" +                                                // line 2
                               "INSERT INTO " + m_table + "\n" +                     // line 3
                               "  VALUES (1, 'duplicate');\n" +                      // line 4
                               "INSERT INTO " + m_table + " VALUES (3, 'never');\n";
    const auto r = run_sql_script(*m_conn, "seed.sql", script, in(milliseconds{10000}), {});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.statements_run, 1U);
    EXPECT_EQ(r.line, 3);
    EXPECT_EQ(r.sqlstate, "23505");
    EXPECT_NE(r.describe().find("seed.sql:3: ERROR 23505: duplicate key value"), std::string::npos)
        << r.describe();
    EXPECT_EQ(count(), "1");
}

TEST_F(SqlScriptDb, TheServersErrorPositionGivesLineAndColumn) {
    const std::string script =
        "SELECT 1;\n-- next one is wrong\nSELECT id,\n       no_such_column\n"
        "  FROM " +
        m_table + ";\n";
    const auto r = run_sql_script(*m_conn, "bad.sql", script, in(milliseconds{10000}), {});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.sqlstate, "42703");
    EXPECT_EQ(r.line, 4);
    EXPECT_EQ(r.column, 8);
    EXPECT_NE(r.message.find("no_such_column"), std::string::npos);
    EXPECT_EQ(r.describe().rfind("bad.sql:4:8: ERROR 42703: ", 0), 0U) << r.describe();
}

TEST_F(SqlScriptDb, ALongStatementIsCancelledWhenAsked) {
    const auto start = steady_clock::now();
    CancelToken token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(milliseconds{300});
        token.cancel();
    });
    const auto r = run_sql_script(*m_conn, "slow.sql", "SELECT pg_sleep(31);",
                                  in(milliseconds{60000}), &token);
    canceller.join();
    const auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.reason, ProbeReason::Cancelled);
    EXPECT_LT(took, milliseconds{300 + 400});  // includes the cancel request to the server
    // The server-side statement was cancelled too (the backend acts on the
    // cancel request asynchronously: allow it a moment).
    std::string active;
    for (int i = 0; i < 40; ++i) {
        active = dbtest::admin_exec(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(31)' AND "
            "state = 'active' AND pid = " +
            std::to_string(PQbackendPID(m_conn->get())));
        if (active == "0") {
            break;
        }
        ::usleep(50000);
    }
    EXPECT_EQ(active, "0");
}

TEST_F(SqlScriptDb, TheDeadlineBoundsTheScript) {
    const auto r = run_sql_script(*m_conn, "slow.sql", "SELECT 1;\nSELECT pg_sleep(30);",
                                  in(milliseconds{500}), {});
    EXPECT_EQ(r.reason, ProbeReason::Timeout);
    EXPECT_EQ(r.line, 2);
    EXPECT_EQ(r.statements_run, 1U);
}

TEST_F(SqlScriptDb, CopyFromStdinIsRefusedNotHungOn) {
    const auto r = run_sql_script(*m_conn, "copy.sql", "COPY " + m_table + " FROM STDIN;",
                                  in(milliseconds{5000}), {});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.message.find("not supported"), std::string::npos);
}

}  // namespace
}  // namespace xbranch
