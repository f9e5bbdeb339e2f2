#include "xbranch/schema_render.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

constexpr std::size_t k_inline_limit = 100;  // longer values (or multi-line) get a line diff

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) {
            break;
        }
        text.remove_prefix(nl + 1);
    }
    return out;
}

bool is_short(std::string_view value) {
    return value.size() <= k_inline_limit && value.find('\n') == std::string_view::npos;
}

struct Counts {
    int added = 0;
    int changed = 0;
    int dropped = 0;
};

Counts count(const std::vector<SchemaChange>& changes) {
    Counts c;
    for (const auto& ch : changes) {
        (ch.type == ChangeType::Added     ? c.added
         : ch.type == ChangeType::Dropped ? c.dropped
                                          : c.changed)++;
    }
    return c;
}

std::string counts_text(const Counts& c) {
    return std::to_string(c.added) + " added, " + std::to_string(c.changed) + " changed, " +
           std::to_string(c.dropped) + " dropped";
}

// One line that says what an added or dropped object is (a column's type,
// an index's definition, an extension's version); "" when its body says it.
std::string summary_of(const SchemaObject& o) {
    auto attr = [&o](const char* name) {
        const std::string* v = o.attribute(name);
        return v != nullptr ? *v : std::string();
    };
    switch (o.kind) {
        case SchemaKind::Extension:
            return "version " + attr("version") + ", schema " + attr("schema");
        case SchemaKind::Table:
            return attr("kind") == "table" ? "" : attr("kind");
        case SchemaKind::Column: {
            std::string s = attr("type");
            if (attr("nullable") == "no") {
                s += " not null";
            }
            for (const char* name : {"default", "identity", "generated"}) {
                if (!attr(name).empty()) {
                    s += std::string(" ") + name + " " + attr(name);
                }
            }
            return s;
        }
        case SchemaKind::Index:
        case SchemaKind::Constraint:
            return attr("definition");
        case SchemaKind::View:
            return attr("kind") == "view" ? "" : attr("kind");
        case SchemaKind::Function:
            return attr("kind") == "function" ? "" : attr("kind");
    }
    return "";
}

// The definition a reader wants to see in full for an added view or function.
std::string body_of(const SchemaChange& c) {
    if (c.type != ChangeType::Added ||
        (c.object.kind != SchemaKind::View && c.object.kind != SchemaKind::Function)) {
        return "";
    }
    const std::string* d = c.object.attribute("definition");
    return d != nullptr ? *d : std::string();
}

char sign_of(ChangeType t) {
    return t == ChangeType::Added ? '+' : t == ChangeType::Dropped ? '-' : '~';
}

std::string none_if_empty(const std::string& v) {
    return v.empty() ? "(none)" : v;
}

// ------------------------------------------------------------- Markdown

// printable(), and on one line: a newline or tab shown as \n, \t.
std::string one_line(std::string_view text) {
    std::string out;
    for (const char ch : printable(text)) {
        out += ch == '\n'   ? std::string("\\n")
               : ch == '\t' ? std::string("\\t")
                            : std::string(1, ch);
    }
    return out;
}

std::string html_escape(std::string_view text) {
    std::string out;
    for (const char ch : one_line(text)) {
        switch (ch) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += ch;
        }
    }
    return out;
}

std::size_t longest_backtick_run(std::string_view text) {
    std::size_t best = 0;
    std::size_t run = 0;
    for (const char ch : text) {
        run = ch == '`' ? run + 1 : 0;
        best = std::max(best, run);
    }
    return best;
}

// A fenced block that no line inside can close.
std::string fenced(std::string_view info, std::string_view body) {
    const std::string fence(std::max<std::size_t>(3, longest_backtick_run(body) + 1), '`');
    std::string out = fence + std::string(info) + "\n" + std::string(body);
    if (!body.empty() && body.back() != '\n') {
        out += "\n";
    }
    return out + fence + "\n";
}

std::string diff_body(const std::string& before, const std::string& after) {
    std::string out;
    for (const auto& line : line_diff(before, after)) {
        out += printable(line) + "\n";
    }
    return out;
}

struct DetailBlock {
    std::string summary;  // HTML
    std::string info;     // fence info string: diff or sql
    std::string body;
};

std::string detail_cell(const SchemaChange& c, std::vector<DetailBlock>& blocks) {
    const std::string what = std::string(schema_kind_name(c.object.kind)) + " <code>" +
                             html_escape(display_name(c.object)) + "</code>";
    std::vector<std::string> parts;
    if (c.type == ChangeType::Changed) {
        for (const auto& a : c.changes) {
            if (is_short(a.before) && is_short(a.after)) {
                parts.push_back(a.name + ": " + markdown_code(none_if_empty(a.before)) + " → " +
                                markdown_code(none_if_empty(a.after)));
            } else {
                parts.push_back(a.name + " changed (below)");
                blocks.push_back(
                    {what + ": " + html_escape(a.name), "diff", diff_body(a.before, a.after)});
            }
        }
    } else {
        const std::string s = summary_of(c.object);
        if (!s.empty()) {
            parts.push_back(is_short(s) ? markdown_code(s) : html_escape(s.substr(0, 60)) + "...");
        }
        for (const auto& d : c.details) {
            parts.push_back(markdown_code(d));
        }
        if (const std::string body = body_of(c); !body.empty()) {
            parts.push_back("definition below");
            blocks.push_back({what, "sql", printable(body)});
        }
    }
    std::string cell;
    for (const auto& p : parts) {
        cell += (cell.empty() ? "" : "<br>") + p;
    }
    return cell;
}

}  // namespace

std::vector<std::string> line_diff(std::string_view before, std::string_view after) {
    const auto a = split_lines(before);
    const auto b = split_lines(after);
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;) {
        for (std::size_t j = m; j-- > 0;) {
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    std::vector<std::string> out;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            out.push_back(std::string(1, ' ').append(a[i]));
            ++i;
            ++j;
        } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
            out.push_back(std::string(1, '-').append(a[i++]));  // removals first, as diff -u
        } else {
            out.push_back(std::string(1, '+').append(b[j++]));
        }
    }
    return out;
}

std::string render_diff_text(const std::vector<SchemaChange>& changes, const DiffSubject& s) {
    const std::string head =
        "branch " + printable(s.branch) + " against its parent " + printable(s.parent);
    if (changes.empty()) {
        return head + ": no schema changes\n";
    }
    std::string out = head + ": " + counts_text(count(changes)) + "\n";
    for (const auto& c : changes) {
        out += std::string(1, sign_of(c.type)) + " " + schema_kind_name(c.object.kind) + " " +
               printable(display_name(c.object));
        const std::string summary = c.type == ChangeType::Changed ? "" : summary_of(c.object);
        if (!summary.empty() && is_short(summary)) {
            out += "  " + printable(summary);
        }
        out += "\n";
        for (const auto& d : c.details) {
            out += "    " + printable(d) + "\n";
        }
        for (const auto& a : c.changes) {
            if (is_short(a.before) && is_short(a.after)) {
                out += "    " + a.name + ": " + printable(none_if_empty(a.before)) + " -> " +
                       printable(none_if_empty(a.after)) + "\n";
                continue;
            }
            out += "    " + a.name + ":\n";
            for (const auto& line : line_diff(a.before, a.after)) {
                out += "      " + printable(line) + "\n";
            }
        }
        const std::string body = body_of(c);
        for (const auto& line : split_lines(body.empty() && !is_short(summary) ? summary : body)) {
            out += "    " + printable(line) + "\n";
        }
    }
    return out;
}

std::string markdown_code(std::string_view text) {
    std::string safe;
    for (const char ch : one_line(text)) {
        if (ch == '|') {
            safe += "\\|";
        } else {
            safe += ch;
        }
    }
    const std::string fence(longest_backtick_run(safe) + 1, '`');
    const bool pad = !safe.empty() && (safe.front() == '`' || safe.back() == '`');
    const std::string space = pad ? " " : "";
    return fence + space + safe + space + fence;
}

std::string render_diff_markdown(const std::vector<SchemaChange>& changes, const DiffSubject& s) {
    std::string out = std::string(k_markdown_marker) + "\n### Schema changes in " +
                      markdown_code(s.branch) + " against its parent " + markdown_code(s.parent) +
                      "\n\n";
    if (changes.empty()) {
        return out + "No schema changes.\n";
    }
    out += "**" + counts_text(count(changes)) +
           "**\n\n| change | kind | name | detail |\n|---|---|---|---|\n";
    std::vector<DetailBlock> blocks;
    for (const auto& c : changes) {
        const std::string cell = detail_cell(c, blocks);
        out += std::string("| ") + change_type_name(c.type) + " | " +
               schema_kind_name(c.object.kind) + " | " + markdown_code(display_name(c.object)) +
               " | " + cell + " |\n";
    }
    std::size_t left_out = 0;
    for (const auto& b : blocks) {
        std::string block = "\n<details><summary>" + b.summary + "</summary>\n\n" +
                            fenced(b.info, b.body) + "\n</details>\n";
        if (out.size() + block.size() > k_markdown_limit - 200) {
            ++left_out;
            continue;
        }
        out += block;
    }
    if (left_out > 0) {
        out += "\n" + std::to_string(left_out) +
               " definition(s) left out to keep this comment short; `xbranch diff` shows them "
               "all.\n";
    }
    return out;
}

std::string render_diff_json(const std::vector<SchemaChange>& changes, const DiffSubject& s) {
    const Counts n = count(changes);
    nlohmann::ordered_json j;
    j["branch"] = {{"name", s.branch}, {"id", s.branch_id}};
    j["parent"] = {{"name", s.parent}, {"id", s.parent_id}};
    j["identical"] = changes.empty();
    j["summary"] = {{"added", n.added}, {"changed", n.changed}, {"dropped", n.dropped}};
    j["changes"] = nlohmann::ordered_json::array();
    for (const auto& c : changes) {
        nlohmann::ordered_json e;
        e["change"] = change_type_name(c.type);
        e["kind"] = schema_kind_name(c.object.kind);
        e["name"] = display_name(c.object);
        e["schema"] = c.object.schema.empty() ? nlohmann::ordered_json()
                                              : nlohmann::ordered_json(c.object.schema);
        e["table"] = c.object.table.empty() ? nlohmann::ordered_json()
                                            : nlohmann::ordered_json(c.object.table);
        e["object"] = c.object.name;
        if (c.type == ChangeType::Changed) {
            e["changes"] = nlohmann::ordered_json::array();
            for (const auto& a : c.changes) {
                e["changes"].push_back(
                    {{"attribute", a.name}, {"before", a.before}, {"after", a.after}});
            }
        } else {
            e["attributes"] = nlohmann::ordered_json::object();
            for (const auto& [name, value] : c.object.attributes) {
                e["attributes"][name] = value;
            }
        }
        if (!c.details.empty()) {
            e["details"] = c.details;
        }
        j["changes"].push_back(std::move(e));
    }
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace xbranch
