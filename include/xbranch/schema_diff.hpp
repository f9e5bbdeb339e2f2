// The schema difference between two databases (a branch and its parent),
// pure: two snapshots in, a sorted list of changes out. The snapshots come
// from schema_read.hpp (libpq); the words from schema_render.hpp.
//
// What is compared, in user schemas only (never pg_catalog,
// information_schema, pg_toast, pg_temp_*), objects that belong to an
// extension left out (the extension itself stands for them):
//   extension  its version and schema
//   table      ordinary, partitioned, foreign: its kind
//   column     type, nullable, default, identity, generated expression
//   index      pg_get_indexdef (indexes behind a constraint are the constraint)
//   constraint pg_get_constraintdef (primary key, unique, check, foreign key, exclusion)
//   view       pg_get_viewdef, materialized or not
//   function   pg_get_functiondef (functions and procedures; not aggregates)
// Owners, grants, comments, sequences, triggers, types and data are not.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xbranch {

// In the order changes are listed.
enum class SchemaKind { Extension, Table, Column, Index, Constraint, View, Function };
const char* schema_kind_name(SchemaKind kind);  // "table", "column", ...

struct SchemaObject {
    SchemaKind kind = SchemaKind::Table;
    std::string schema;  // empty for an extension
    std::string table;   // the table of a column, index or constraint; else empty
    std::string name;    // a function's: name(argument types)
    // Ordered (name, value); a value "" means "none" (no default, ...).
    std::vector<std::pair<std::string, std::string>> attributes;

    const std::string* attribute(std::string_view key) const;
};

struct SchemaSnapshot {
    std::vector<SchemaObject> objects;
};

// Pure: the snapshot from the JSON document schema_read's query returns
// ({"extensions": [...], "tables": [...], ...}; null arrays allowed). Throws
// Error(Protocol) for a document of another shape.
SchemaSnapshot snapshot_from_json(const nlohmann::json& doc);

enum class ChangeType { Added, Dropped, Changed };
const char* change_type_name(ChangeType type);  // "added", "dropped", "changed"

struct AttributeChange {
    std::string name;
    std::string before;  // "" = none
    std::string after;
};

struct SchemaChange {
    ChangeType type = ChangeType::Changed;
    SchemaObject object;  // the branch's (added, changed) or the parent's (dropped)
    // Changed: the attributes that differ, in the object's order.
    std::vector<AttributeChange> changes;
    // Added or dropped table: its columns ("id integer not null default ..."),
    // then its constraints and indexes, which are not listed on their own.
    std::vector<std::string> details;
};

// Pure: what the branch (`child`) changed against its parent, sorted by kind,
// schema, table, name. Columns, indexes and constraints of a table added or
// dropped as a whole come as the table's details, not as changes of their own.
std::vector<SchemaChange> diff_schemas(const SchemaSnapshot& parent, const SchemaSnapshot& child);

// An identifier as SQL would need it written: bare when it is all lower-case
// letters, digits, _ and $ (not first), else in double quotes ("" doubled).
std::string quote_identifier(std::string_view name);
// "public.users", "public.users.email" (a column, a constraint), "public.users_pkey"
// (an index), "citext", "public.add(integer, integer)".
std::string display_name(const SchemaObject& object);

}  // namespace xbranch
