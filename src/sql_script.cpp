#include "xbranch/sql_script.hpp"

#include <libpq-fe.h>

#include <cctype>

#include "pq_wait.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

bool ident_start(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalpha(u) != 0 || c == '_' || u >= 0x80;
}
bool ident_cont(char c) {
    return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}
bool utf8_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

std::string lower(std::string_view w) {
    std::string out(w);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

class Splitter {
  public:
    explicit Splitter(std::string_view s) : m_s(s) {}

    std::vector<SqlStatement> run() {
        while (m_i < m_s.size()) {
            step();
        }
        emit(m_s.size());
        return std::move(m_out);
    }

  private:
    char at(std::size_t i) const { return i < m_s.size() ? m_s[i] : '\0'; }

    // Moves to `to`, keeping the line and column of the cursor.
    void advance_to(std::size_t to) {
        for (; m_i < to && m_i < m_s.size(); ++m_i) {
            if (m_s[m_i] == '\n') {
                ++m_line;
                m_column = 1;
            } else if (!utf8_continuation(m_s[m_i])) {
                ++m_column;
            }
        }
    }
    void advance(std::size_t n = 1) { advance_to(m_i + n); }

    void mark() {
        if (!m_started) {
            m_started = true;
            m_start = m_i;
            m_start_line = m_line;
            m_start_column = m_column;
        }
    }

    void emit(std::size_t end) {
        if (m_started) {
            std::string_view text = m_s.substr(m_start, end - m_start);
            while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
                text.remove_suffix(1);
            }
            m_out.push_back({std::string(text), m_start_line, m_start_column, m_start});
        }
        m_started = false;
        m_words.clear();
        m_begin_depth = 0;
        m_paren_depth = 0;
    }

    // '...' with '' (and \' when `backslash`); "..." with "".
    void skip_quoted(char quote, bool backslash) {
        advance();  // the opening quote
        while (m_i < m_s.size()) {
            const char c = m_s[m_i];
            if (backslash && c == '\\') {
                advance(2);
            } else if (c == quote) {
                advance();
                if (at(m_i) != quote) {
                    return;
                }
                advance();
            } else {
                advance();
            }
        }
    }

    void skip_block_comment() {
        int depth = 0;
        while (m_i < m_s.size()) {
            if (m_s[m_i] == '/' && at(m_i + 1) == '*') {
                ++depth;
                advance(2);
            } else if (m_s[m_i] == '*' && at(m_i + 1) == '/') {
                --depth;
                advance(2);
                if (depth == 0) {
                    return;
                }
            } else {
                advance();
            }
        }
    }

    // At a '$': a dollar-quoted body ($$ or $tag$), else a lone character
    // ($1 parameters).
    void skip_dollar() {
        std::size_t j = m_i + 1;
        if (at(j) != '$') {
            if (!ident_start(at(j))) {
                advance();
                return;
            }
            while (j < m_s.size() && ident_cont(m_s[j]) && m_s[j] != '$') {
                ++j;
            }
            if (at(j) != '$') {
                advance();
                return;
            }
        }
        const std::string_view tag = m_s.substr(m_i, j + 1 - m_i);
        const auto close = m_s.find(tag, j + 1);
        advance_to(close == std::string_view::npos ? m_s.size() : close + tag.size());
    }

    // psql's heuristic: inside CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN
    // (ATOMIC) ... END may hold semicolons; CASE ... END nests inside it.
    void word(std::string_view w) {
        const std::string lw = lower(w);
        if (m_words.size() < 4) {
            m_words.push_back(lw);
        }
        const auto n = m_words.size();
        const bool routine = n >= 2 && m_words[0] == "create" &&
                             (m_words[1] == "function" || m_words[1] == "procedure" ||
                              (m_words[1] == "or" && n >= 4 && m_words[2] == "replace" &&
                               (m_words[3] == "function" || m_words[3] == "procedure")));
        if (!routine || m_paren_depth != 0) {
            return;
        }
        // CASE ... END inside a BEGIN ATOMIC body nests like BEGIN ... END.
        if (lw == "begin" || (lw == "case" && m_begin_depth > 0)) {
            ++m_begin_depth;
        } else if (lw == "end" && m_begin_depth > 0) {
            --m_begin_depth;
        }
    }

    void step() {
        const char c = m_s[m_i];
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            advance();
            return;
        }
        if (c == '-' && at(m_i + 1) == '-') {
            const auto eol = m_s.find('\n', m_i);
            advance_to(eol == std::string_view::npos ? m_s.size() : eol);
            return;
        }
        if (c == '/' && at(m_i + 1) == '*') {
            skip_block_comment();
            return;
        }
        if (c == ';') {
            if (m_begin_depth > 0) {
                advance();
                return;
            }
            emit(m_i);  // nothing when only comments came before it
            advance();
            return;
        }
        mark();
        if (c == '\'') {
            skip_quoted('\'', false);
            return;
        }
        if ((c == 'E' || c == 'e') && at(m_i + 1) == '\'') {
            advance();
            skip_quoted('\'', true);
            return;
        }
        if (c == '"') {
            skip_quoted('"', false);
            return;
        }
        if (c == '$') {
            skip_dollar();
            return;
        }
        if (ident_start(c)) {
            std::size_t j = m_i;
            while (j < m_s.size() && ident_cont(m_s[j])) {
                ++j;
            }
            word(m_s.substr(m_i, j - m_i));
            advance_to(j);
            return;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
            // A number, with any letters glued to it (1e5, 0x1F): not a word.
            std::size_t j = m_i;
            while (j < m_s.size() && (ident_cont(m_s[j]) || m_s[j] == '.') && m_s[j] != '$') {
                ++j;
            }
            advance_to(j);
            return;
        }
        if (c == '(') {
            ++m_paren_depth;
        } else if (c == ')' && m_paren_depth > 0) {
            --m_paren_depth;
        }
        advance();
    }

    std::string_view m_s;
    std::size_t m_i = 0;
    int m_line = 1;
    int m_column = 1;
    bool m_started = false;
    std::size_t m_start = 0;
    int m_start_line = 1;
    int m_start_column = 1;
    std::vector<std::string> m_words;
    int m_begin_depth = 0;
    int m_paren_depth = 0;
    std::vector<SqlStatement> m_out;
};

}  // namespace

std::vector<SqlStatement> split_sql(std::string_view script) {
    return Splitter(script).run();
}

SqlPosition position_in(const SqlStatement& statement, int char_position) {
    SqlPosition p{statement.line, statement.column};
    int chars = 0;
    for (std::size_t i = 0; i < statement.text.size() && chars < char_position - 1; ++i) {
        const char c = statement.text[i];
        if (utf8_continuation(c)) {
            continue;
        }
        ++chars;
        if (c == '\n') {
            ++p.line;
            p.column = 1;
        } else {
            ++p.column;
        }
    }
    return p;
}

std::string SqlScriptResult::describe() const {
    // append() rather than `":" + std::to_string(...)`: GCC 12 at -O3 reports
    // a false -Wrestrict on the temporaries of the latter.
    std::string out = file;
    out.append(":").append(std::to_string(line));
    if (column > 0) {
        out.append(":").append(std::to_string(column));
    }
    out.append(": ");
    if (reason == ProbeReason::Other || reason == ProbeReason::Ok) {
        out.append("ERROR");
        if (!sqlstate.empty()) {
            out.append(" ").append(sqlstate);
        }
    } else {
        out.append(reason_name(reason));
    }
    out.append(": ").append(message);
    return out;
}

SqlScriptResult run_sql_script(PgConnection& connection, std::string_view file_name,
                               std::string_view script,
                               std::chrono::steady_clock::time_point deadline,
                               const CancelToken* cancel) {
    SqlScriptResult result;
    result.file = std::string(file_name);
    for (const auto& statement : split_sql(script)) {
        detail::QueryFailure failure;
        if (detail::run_query(connection.get(), statement.text.c_str(), deadline, cancel, nullptr,
                              &failure)) {
            ++result.statements_run;
            continue;
        }
        result.ok = false;
        result.reason = failure.reason;
        result.sqlstate = failure.sqlstate;
        result.message = redact(failure.message);
        result.line = statement.line;
        if (failure.position > 0) {
            const auto p = position_in(statement, failure.position);
            result.line = p.line;
            result.column = p.column;
        }
        return result;
    }
    return result;
}

}  // namespace xbranch
