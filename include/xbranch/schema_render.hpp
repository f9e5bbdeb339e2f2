// The words of a schema diff (schema_diff.hpp), in one place: plain text for
// a terminal, Markdown ready for a pull-request comment, and JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xbranch/schema_diff.hpp"

namespace xbranch {

// Which two branches were compared.
struct DiffSubject {
    std::string branch;
    std::string branch_id;
    std::string parent;
    std::string parent_id;
};

// Pure: a line diff (longest common subsequence): each line of `before` and
// `after` once, prefixed '-' (only before), '+' (only after) or ' ' (both).
std::vector<std::string> line_diff(std::string_view before, std::string_view after);

// Every value passes through printable(): no byte that drives a terminal.
std::string render_diff_text(const std::vector<SchemaChange>& changes, const DiffSubject& subject);

// Starts with the marker line k_markdown_marker (a bot can find and update
// its comment). Names and values are code spans that survive any byte in an
// identifier: | escaped, backticks fenced by a longer run, control bytes
// shown as \n, \x1b; definitions in <details> with a fence longer than any
// backtick run inside. Kept under k_markdown_limit bytes (GitHub's comment
// limit is 65536): definitions beyond it are left out, and it says so.
inline constexpr std::string_view k_markdown_marker = "<!-- xbranch-schema-diff -->";
inline constexpr std::size_t k_markdown_limit = 60000;
std::string render_diff_markdown(const std::vector<SchemaChange>& changes,
                                 const DiffSubject& subject);
// A Markdown code span of `text` (for a table cell: | escaped).
std::string markdown_code(std::string_view text);

// {"branch": {...}, "parent": {...}, "identical": bool, "summary": {...},
//  "changes": [{"change", "kind", "name", "schema", "table", "object",
//  "attributes"|"changes", "details"}]}; invalid UTF-8 replaced.
std::string render_diff_json(const std::vector<SchemaChange>& changes, const DiffSubject& subject);

}  // namespace xbranch
