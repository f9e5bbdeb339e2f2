// --sql hooks: a SQL file split into statements (pure, PostgreSQL's lexical
// rules) and an executor that sends them one by one over an open libpq
// connection, naming file, line and server message when one fails.
//
// How to wire it (lead): after the connection check succeeded, for each --sql
// file in order: read it, open_connection() (pq_conn.hpp) with the same
// ConnectionInfo and the time left, then run_sql_script(conn, path, text,
// deadline, cancel). Statements run in autocommit, exactly as the file
// says (a file that wants all-or-nothing writes BEGIN/COMMIT itself). On
// failure raise the hook error with result.describe() (already redacted).
// Not supported (reported, not hung on): COPY FROM STDIN, psql meta-commands.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/pq_conn.hpp"

namespace xbranch {

struct SqlStatement {
    std::string text;        // from its first token to before the ';', comments kept
    int line = 1;            // 1-based line of its first token in the file
    int column = 1;          // 1-based column (characters) of its first token
    std::size_t offset = 0;  // byte offset of text in the file
};

// Splits at top-level semicolons; semicolons inside '...' (with ''), E'...'
// (with \'), "...", -- and nested /* */ comments, $tag$...$tag$ bodies and
// BEGIN ATOMIC ... END function bodies do not split. Statements made only of
// whitespace and comments are dropped. An unterminated construct runs to the
// end of the file (the server will say what is wrong with it). Pure.
std::vector<SqlStatement> split_sql(std::string_view script);

// Pure: the line and column (1-based) of a 1-based character position (as
// PG_DIAG_STATEMENT_POSITION counts: characters, not bytes) inside a
// statement, as a line and column of the file.
struct SqlPosition {
    int line = 0;
    int column = 0;
};
SqlPosition position_in(const SqlStatement& statement, int char_position);

struct SqlScriptResult {
    bool ok = true;
    std::size_t statements_run = 0;  // succeeded before the failure
    std::string file;
    int line = 0;    // failing statement's line, or the error position's line when known
    int column = 0;  // 0 when the server gave no position
    ProbeReason reason = ProbeReason::Ok;  // Other (a SQL error), Timeout, Cancelled, Reset
    std::string sqlstate;
    std::string message;  // redacted

    // "seed.sql:12:5: ERROR 42P01: relation \"x\" does not exist"
    std::string describe() const;
};

// Sends each statement of `script` in order; stops at the first failure.
SqlScriptResult run_sql_script(PgConnection& connection, std::string_view file_name,
                               std::string_view script,
                               std::chrono::steady_clock::time_point deadline,
                               const CancelToken* cancel);

}  // namespace xbranch
