#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "xbranch/error.hpp"
#include "xbranch/schema_diff.hpp"
#include "xbranch/schema_render.hpp"

namespace xbranch {
namespace {

using nlohmann::json;

json base_doc() {
    return json::parse(R"J({
      "extensions": [{"name": "citext", "version": "1.5", "schema": "public"}],
      "tables": [{"schema": "public", "name": "users", "kind": "table"},
                 {"schema": "public", "name": "old", "kind": "table"}],
      "columns": [
        {"schema": "public", "table": "users", "name": "id", "type": "integer", "nullable": false,
         "default": null, "identity": "always", "generated": null},
        {"schema": "public", "table": "users", "name": "email", "type": "text", "nullable": true,
         "default": null, "identity": "", "generated": null},
        {"schema": "public", "table": "old", "name": "x", "type": "integer", "nullable": true,
         "default": null, "identity": "", "generated": null}],
      "indexes": [{"schema": "public", "table": "users", "name": "users_email_idx",
                   "definition": "CREATE INDEX users_email_idx ON public.users USING btree (email)"}],
      "constraints": [{"schema": "public", "table": "old", "name": "old_pkey",
                       "definition": "PRIMARY KEY (x)"}],
      "views": [{"schema": "public", "name": "v", "kind": "view",
                 "definition": " SELECT 1 AS one\n  WHERE true;"}],
      "functions": null
    })J");
}

SchemaSnapshot snap(const json& doc) {
    return snapshot_from_json(doc);
}

const SchemaChange* find(const std::vector<SchemaChange>& changes, ChangeType type, SchemaKind kind,
                         const std::string& name) {
    for (const auto& c : changes) {
        if (c.type == type && c.object.kind == kind && display_name(c.object) == name) {
            return &c;
        }
    }
    return nullptr;
}

TEST(SchemaDiff, IdenticalSnapshotsHaveNoChanges) {
    EXPECT_TRUE(diff_schemas(snap(base_doc()), snap(base_doc())).empty());
    EXPECT_TRUE(diff_schemas(snap(json::object()), snap(json::object())).empty());
}

TEST(SchemaDiff, AColumnTypeAndNullabilityChangeIsOneChangedColumn) {
    json child = base_doc();
    child["columns"][1]["type"] = "character varying(200)";
    child["columns"][1]["nullable"] = false;
    const auto changes = diff_schemas(snap(base_doc()), snap(child));
    ASSERT_EQ(changes.size(), 1U);
    const auto& c = changes[0];
    EXPECT_EQ(c.type, ChangeType::Changed);
    EXPECT_EQ(display_name(c.object), "public.users.email");
    ASSERT_EQ(c.changes.size(), 2U);
    EXPECT_EQ(c.changes[0].name, "type");
    EXPECT_EQ(c.changes[0].before, "text");
    EXPECT_EQ(c.changes[0].after, "character varying(200)");
    EXPECT_EQ(c.changes[1].name, "nullable");
    EXPECT_EQ(c.changes[1].before, "yes");
    EXPECT_EQ(c.changes[1].after, "no");
}

TEST(SchemaDiff, ATableDroppedWholeCarriesItsPartsAsDetails) {
    json child = base_doc();
    child["tables"].erase(1);
    child["columns"].erase(2);
    child["constraints"] = json::array();
    const auto changes = diff_schemas(snap(base_doc()), snap(child));
    ASSERT_EQ(changes.size(), 1U);  // not the column, not the constraint
    EXPECT_EQ(changes[0].type, ChangeType::Dropped);
    EXPECT_EQ(display_name(changes[0].object), "public.old");
    EXPECT_EQ(changes[0].details,
              (std::vector<std::string>{"x integer", "constraint old_pkey PRIMARY KEY (x)"}));
}

TEST(SchemaDiff, AddedDroppedAndChangedOfEveryKindAreSortedByKind) {
    json child = base_doc();
    child["extensions"][0]["version"] = "1.6";
    child["extensions"].push_back({{"name", "pgcrypto"}, {"version", "1.3"}, {"schema", "public"}});
    child["indexes"] = json::array();
    child["views"][0]["definition"] = " SELECT 2 AS one\n  WHERE true;";
    child["functions"] = json::array({{{"schema", "public"},
                                       {"name", "f"},
                                       {"arguments", "integer, text"},
                                       {"kind", "function"},
                                       {"definition", "CREATE FUNCTION ..."}}});
    const auto changes = diff_schemas(snap(base_doc()), snap(child));
    ASSERT_EQ(changes.size(), 5U);
    EXPECT_NE(find(changes, ChangeType::Changed, SchemaKind::Extension, "citext"), nullptr);
    EXPECT_NE(find(changes, ChangeType::Added, SchemaKind::Extension, "pgcrypto"), nullptr);
    EXPECT_NE(find(changes, ChangeType::Dropped, SchemaKind::Index, "public.users_email_idx"),
              nullptr);
    EXPECT_NE(find(changes, ChangeType::Changed, SchemaKind::View, "public.v"), nullptr);
    EXPECT_NE(find(changes, ChangeType::Added, SchemaKind::Function, "public.f(integer, text)"),
              nullptr);
    for (std::size_t i = 1; i < changes.size(); ++i) {
        EXPECT_LE(changes[i - 1].object.kind, changes[i].object.kind);
    }
}

TEST(SchemaDiff, ADocumentOfAnotherShapeIsAProtocolError) {
    try {
        snapshot_from_json(json::parse(R"J({"tables": {"a": 1}})J"));
        FAIL() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Protocol);
    }
    EXPECT_THROW(snapshot_from_json(json::array()), Error);
    EXPECT_THROW(snapshot_from_json(json::parse(R"J({"tables": [1]})J")), Error);
}

TEST(SchemaDiff, IdentifiersAreQuotedAsSqlWould) {
    EXPECT_EQ(quote_identifier("users"), "users");
    EXPECT_EQ(quote_identifier("user_2$"), "user_2$");
    EXPECT_EQ(quote_identifier("Users"), "\"Users\"");
    EXPECT_EQ(quote_identifier("2x"), "\"2x\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(quote_identifier(""), "\"\"");
}

TEST(SchemaRender, LineDiffKeepsCommonLinesAndPutsRemovalsFirst) {
    EXPECT_EQ(line_diff("a\nb\nc", "a\nB\nc"), (std::vector<std::string>{" a", "-b", "+B", " c"}));
    EXPECT_EQ(line_diff("", "x"), (std::vector<std::string>{"+x"}));
    EXPECT_EQ(line_diff("x\ny", ""), (std::vector<std::string>{"-x", "-y"}));
}

TEST(SchemaRender, MarkdownCodeSpansEscapePipesAndFenceBackticks) {
    EXPECT_EQ(markdown_code("users"), "`users`");
    EXPECT_EQ(markdown_code("a|b"), "`a\\|b`");
    EXPECT_EQ(markdown_code("a`b"), "``a`b``");
    EXPECT_EQ(markdown_code("``x"), "``` ``x ```");
    EXPECT_EQ(markdown_code("line\nnext\x1b[31m"), "`line\\nnext\\x1b[31m`");
}

const DiffSubject k_subject{"sb-x-1", "id1", "main", "id0"};

std::vector<SchemaChange> odd_changes() {
    json parent = json::object();
    json child = json::parse(R"J({
      "tables": [{"schema": "public", "name": "we|ird`tab", "kind": "table"}],
      "columns": [{"schema": "public", "table": "we|ird`tab", "name": "<b>|x", "type": "text",
                   "nullable": true, "default": null, "identity": "", "generated": null}],
      "functions": [{"schema": "public", "name": "f", "arguments": "", "kind": "function",
                     "definition": "CREATE FUNCTION public.f()\n AS $$ ``` $$"}]
    })J");
    return diff_schemas(snap(parent), snap(child));
}

TEST(SchemaRender, MarkdownEscapesOddNamesInTheTableAndInDetails) {
    const std::string md = render_diff_markdown(odd_changes(), k_subject);
    EXPECT_EQ(md.rfind(std::string(k_markdown_marker) + "\n", 0), 0U) << md;
    EXPECT_NE(md.find("**2 added, 0 changed, 0 dropped**"), std::string::npos) << md;
    EXPECT_NE(md.find("| added | table | ``public.\"we\\|ird`tab\"`` | `\"<b>\\|x\" text` |"),
              std::string::npos)
        << md;
    // The summary is HTML-escaped; the fence is longer than the ``` inside.
    EXPECT_NE(md.find("<summary>function <code>public.f()</code></summary>"), std::string::npos);
    EXPECT_NE(md.find("````sql\nCREATE FUNCTION public.f()\n AS $$ ``` $$\n````\n"),
              std::string::npos)
        << md;
    // Every table row has exactly the four unescaped cell separators.
    std::size_t pos = md.find("| added | table |");
    const std::string row = md.substr(pos, md.find('\n', pos) - pos);
    int bars = 0;
    for (std::size_t i = 0; i < row.size(); ++i) {
        bars += row[i] == '|' && (i == 0 || row[i - 1] != '\\') ? 1 : 0;
    }
    EXPECT_EQ(bars, 5) << row;
}

TEST(SchemaRender, MarkdownAndTextSayWhenThereIsNoChange) {
    EXPECT_EQ(render_diff_markdown({}, k_subject),
              std::string(k_markdown_marker) +
                  "\n### Schema changes in `sb-x-1` against its parent `main`\n\nNo schema "
                  "changes.\n");
    EXPECT_EQ(render_diff_text({}, k_subject),
              "branch sb-x-1 against its parent main: no schema changes\n");
}

TEST(SchemaRender, MarkdownStaysUnderTheCommentLimit) {
    json child = json::object();
    child["functions"] = json::array();
    const std::string big(5000, 'x');
    for (int i = 0; i < 30; ++i) {
        child["functions"].push_back({{"schema", "public"},
                                      {"name", "f" + std::to_string(i)},
                                      {"arguments", ""},
                                      {"kind", "function"},
                                      {"definition", big}});
    }
    const std::string md =
        render_diff_markdown(diff_schemas(snap(json::object()), snap(child)), k_subject);
    EXPECT_LT(md.size(), k_markdown_limit);
    EXPECT_NE(md.find("definition(s) left out"), std::string::npos);
    EXPECT_NE(md.find("| added | function | `public.f29()` |"), std::string::npos);
}

TEST(SchemaRender, TextShowsSignsAndEscapesTerminalBytes) {
    json child = base_doc();
    child["columns"][1]["type"] = "varchar(9)";
    child["tables"].push_back({{"schema", "public"}, {"name", "t\x1b[2J"}, {"kind", "table"}});
    const std::string text =
        render_diff_text(diff_schemas(snap(base_doc()), snap(child)), k_subject);
    EXPECT_NE(text.find("branch sb-x-1 against its parent main: 1 added, 1 changed, 0 dropped\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("+ table public.\"t\\x1b[2J\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("~ column public.users.email\n    type: text -> varchar(9)\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(SchemaRender, JsonListsEveryChangeWithItsAttributes) {
    json child = base_doc();
    child["columns"][1]["default"] = "'a'::text";
    const auto out =
        json::parse(render_diff_json(diff_schemas(snap(base_doc()), snap(child)), k_subject));
    EXPECT_FALSE(out["identical"].get<bool>());
    EXPECT_EQ(out["branch"]["name"], "sb-x-1");
    EXPECT_EQ(out["parent"]["id"], "id0");
    EXPECT_EQ(out["summary"]["changed"], 1);
    ASSERT_EQ(out["changes"].size(), 1U);
    const auto& c = out["changes"][0];
    EXPECT_EQ(c["change"], "changed");
    EXPECT_EQ(c["kind"], "column");
    EXPECT_EQ(c["name"], "public.users.email");
    EXPECT_EQ(c["table"], "users");
    EXPECT_EQ(c["changes"][0],
              json({{"attribute", "default"}, {"before", ""}, {"after", "'a'::text"}}));
    // Bytes that are not UTF-8 do not break the document.
    child["tables"].push_back({{"schema", "public"}, {"name", "bad\xff"}, {"kind", "table"}});
    EXPECT_NO_THROW(
        json::parse(render_diff_json(diff_schemas(snap(base_doc()), snap(child)), k_subject)));
}

}  // namespace
}  // namespace xbranch
