#include <gtest/gtest.h>

#include "xbranch/sql_script.hpp"

namespace xbranch {
namespace {

std::vector<std::string> texts(std::string_view sql) {
    std::vector<std::string> out;
    for (const auto& s : split_sql(sql)) {
        out.push_back(s.text);
    }
    return out;
}

std::vector<int> lines(std::string_view sql) {
    std::vector<int> out;
    for (const auto& s : split_sql(sql)) {
        out.push_back(s.line);
    }
    return out;
}

using V = std::vector<std::string>;

TEST(SqlSplit, SplitsAtSemicolonsAndKeepsTheLastUnterminatedStatement) {
    EXPECT_EQ(texts("SELECT 1; SELECT 2;\nSELECT 3"), (V{"SELECT 1", "SELECT 2", "SELECT 3"}));
    EXPECT_EQ(lines("SELECT 1; SELECT 2;\nSELECT 3"), (std::vector<int>{1, 1, 2}));
}

TEST(SqlSplit, DropsEmptyAndCommentOnlyStatements) {
    EXPECT_EQ(texts(""), V{});
    EXPECT_EQ(texts(";;  ;\n-- just a note\n/* and another */\n"), V{});
}

TEST(SqlSplit, TheLineIsThatOfTheFirstTokenNotOfTheLeadingComment) {
    const auto s =
        split_sql("-- seed data\n\n/* users\n   table */\n  INSERT INTO t VALUES (1);\n");
    ASSERT_EQ(s.size(), 1U);
    EXPECT_EQ(s[0].line, 5);
    EXPECT_EQ(s[0].column, 3);
    EXPECT_EQ(s[0].text, "INSERT INTO t VALUES (1)");
    EXPECT_EQ(s[0].offset, std::string_view("-- seed data\n\n/* users\n   table */\n  ").size());
}

TEST(SqlSplit, SemicolonsInsideStringsDoNotSplit) {
    EXPECT_EQ(texts("INSERT INTO t VALUES ('a;b', 'it''s; fine'); SELECT 2"),
              (V{"INSERT INTO t VALUES ('a;b', 'it''s; fine')", "SELECT 2"}));
}

TEST(SqlSplit, BackslashIsLiteralInStandardStringsButEscapesInEStrings) {
    // 'a\' is a complete string under standard_conforming_strings.
    EXPECT_EQ(texts("SELECT 'a\\'; SELECT 2"), (V{"SELECT 'a\\'", "SELECT 2"}));
    EXPECT_EQ(texts("SELECT E'a\\'; still'; SELECT 2"), (V{"SELECT E'a\\'; still'", "SELECT 2"}));
    EXPECT_EQ(texts("SELECT e'\\\\'; SELECT 2"), (V{"SELECT e'\\\\'", "SELECT 2"}));
}

TEST(SqlSplit, QuotedIdentifiersAndComments) {
    EXPECT_EQ(
        texts("SELECT 1 AS \"a;\"\"b\"; SELECT 2 -- a; b\n; SELECT /* x; /* nested; */ y; */ 3"),
        (V{"SELECT 1 AS \"a;\"\"b\"", "SELECT 2 -- a; b", "SELECT /* x; /* nested; */ y; */ 3"}));
}

TEST(SqlSplit, DollarQuotedBodies) {
    const std::string fn =
        "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql";
    EXPECT_EQ(texts(fn + ";\nSELECT f();"), (V{fn, "SELECT f()"}));
    const std::string tagged = "DO $body$ BEGIN PERFORM '$$;'; END $body$";
    EXPECT_EQ(texts(tagged + "; SELECT 1"), (V{tagged, "SELECT 1"}));
    EXPECT_EQ(lines(fn + ";\nSELECT f();"), (std::vector<int>{1, 6}));
}

TEST(SqlSplit, DollarParametersAndDollarsInIdentifiersAreNotQuotes) {
    EXPECT_EQ(texts("PREPARE p AS SELECT $1; SELECT a$b$ FROM t; SELECT 3"),
              (V{"PREPARE p AS SELECT $1", "SELECT a$b$ FROM t", "SELECT 3"}));
}

TEST(SqlSplit, BeginAtomicBodiesHoldSemicolons) {
    const std::string fn =
        "CREATE OR REPLACE FUNCTION g(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT "
        "CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x;\nEND";
    EXPECT_EQ(texts(fn + ";\nSELECT g(1);"), (V{fn, "SELECT g(1)"}));
    // A plain transaction block is not a routine body: each statement alone.
    EXPECT_EQ(texts("BEGIN; INSERT INTO t VALUES (1); END;"),
              (V{"BEGIN", "INSERT INTO t VALUES (1)", "END"}));
}

TEST(SqlSplit, UnterminatedConstructsRunToTheEnd) {
    EXPECT_EQ(texts("SELECT 1; SELECT 'oops; SELECT 3"), (V{"SELECT 1", "SELECT 'oops; SELECT 3"}));
    EXPECT_EQ(texts("SELECT $$ never closed; x"), (V{"SELECT $$ never closed; x"}));
    EXPECT_EQ(texts("SELECT 1 /* open; comment"), (V{"SELECT 1 /* open; comment"}));
}

TEST(SqlSplit, LinesCountNewlinesInsideStrings) {
    EXPECT_EQ(lines("SELECT 'a\nb\nc';\nSELECT 2;"), (std::vector<int>{1, 4}));
}

TEST(SqlPositionTest, MapsACharacterPositionToFileLineAndColumn) {
    const auto s = split_sql("\n\n  SELECT 1,\n    nope FROM t;");
    ASSERT_EQ(s.size(), 1U);
    // "SELECT 1,\n    nope": 'n' of nope is character 15.
    const auto p = position_in(s[0], 15);
    EXPECT_EQ(p.line, 4);
    EXPECT_EQ(p.column, 5);
    const auto first = position_in(s[0], 1);
    EXPECT_EQ(first.line, 3);
    EXPECT_EQ(first.column, 3);
}

TEST(SqlPositionTest, CountsCharactersNotBytes) {
    const auto s = split_sql("SELECT 'é', nope");
    ASSERT_EQ(s.size(), 1U);
    // S E L E C T _ ' é ' , _ n -> 'n' is character 13 (é is two bytes).
    EXPECT_EQ(position_in(s[0], 13).column, 13);
}

TEST(SqlScriptResultTest, DescribeNamesFileLineColumnAndCode) {
    SqlScriptResult r;
    r.ok = false;
    r.file = "seed.sql";
    r.line = 12;
    r.column = 5;
    r.reason = ProbeReason::Other;
    r.sqlstate = "42P01";
    r.message = "relation \"x\" does not exist";
    EXPECT_EQ(r.describe(), "seed.sql:12:5: ERROR 42P01: relation \"x\" does not exist");
    r.column = 0;
    r.reason = ProbeReason::Timeout;
    r.sqlstate.clear();
    r.message = "no answer from the server in time";
    EXPECT_EQ(r.describe(), "seed.sql:12: no answer in time: no answer from the server in time");
}

}  // namespace
}  // namespace xbranch
