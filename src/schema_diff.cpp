#include "xbranch/schema_diff.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

using Key = std::tuple<SchemaKind, std::string, std::string, std::string>;

Key key_of(const SchemaObject& o) {
    return {o.kind, o.schema, o.table, o.name};
}

std::string text_field(const nlohmann::json& row, const char* name) {
    const auto it = row.find(name);
    if (it == row.end() || it->is_null()) {
        return {};
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_boolean()) {
        return it->get<bool>() ? "yes" : "no";
    }
    return it->dump();
}

// One array of the document: each row an object with `identity` fields (schema,
// table, name) and `attributes` fields, in that order.
void read_rows(const nlohmann::json& doc, const char* array, SchemaKind kind,
               const std::vector<const char*>& attributes, SchemaSnapshot& out) {
    const auto it = doc.find(array);
    if (it == doc.end() || it->is_null()) {
        return;
    }
    if (!it->is_array()) {
        throw Error(ErrorKind::Protocol,
                    std::string("the schema snapshot's '") + array + "' is not an array");
    }
    for (const auto& row : *it) {
        if (!row.is_object()) {
            throw Error(ErrorKind::Protocol,
                        std::string("the schema snapshot's '") + array + "' holds a non-object");
        }
        SchemaObject o;
        o.kind = kind;
        // An extension is named on its own (its schema is an attribute).
        o.schema = kind == SchemaKind::Extension ? "" : text_field(row, "schema");
        o.table = text_field(row, "table");
        o.name = text_field(row, "name");
        if (kind == SchemaKind::Function) {
            // Appends, not "(" + ...: GCC 12 at -O3 warns falsely (-Wrestrict).
            o.name.append("(").append(text_field(row, "arguments")).append(")");
        }
        for (const char* a : attributes) {
            o.attributes.emplace_back(a, text_field(row, a));
        }
        out.objects.push_back(std::move(o));
    }
}

// "email character varying(200) not null default 'x'::text"
std::string column_line(const SchemaObject& c) {
    std::string line = quote_identifier(c.name);
    for (const auto& [name, value] : c.attributes) {
        if (name == "type") {
            line += " " + value;
        } else if (name == "nullable") {
            line += value == "no" ? " not null" : "";
        } else if (!value.empty()) {
            line += " ";
            line += name;
            line += " ";
            line += value;
        }
    }
    return line;
}

std::string definition_of(const SchemaObject& o) {
    const std::string* d = o.attribute("definition");
    return d != nullptr ? *d : std::string();
}

// The details of a table added or dropped whole, from its own snapshot.
std::vector<std::string> table_details(const SchemaSnapshot& snap, const SchemaObject& table) {
    std::vector<std::string> out;
    for (SchemaKind kind : {SchemaKind::Column, SchemaKind::Constraint, SchemaKind::Index}) {
        for (const auto& o : snap.objects) {
            if (o.kind != kind || o.schema != table.schema || o.table != table.name) {
                continue;
            }
            if (kind == SchemaKind::Column) {
                out.push_back(column_line(o));
            } else if (kind == SchemaKind::Constraint) {
                out.push_back("constraint " + quote_identifier(o.name) + " " + definition_of(o));
            } else {
                out.push_back(definition_of(o));
            }
        }
    }
    return out;
}

bool is_table_part(SchemaKind kind) {
    return kind == SchemaKind::Column || kind == SchemaKind::Index ||
           kind == SchemaKind::Constraint;
}

}  // namespace

const char* schema_kind_name(SchemaKind kind) {
    switch (kind) {
        case SchemaKind::Extension:
            return "extension";
        case SchemaKind::Table:
            return "table";
        case SchemaKind::Column:
            return "column";
        case SchemaKind::Index:
            return "index";
        case SchemaKind::Constraint:
            return "constraint";
        case SchemaKind::View:
            return "view";
        case SchemaKind::Function:
            return "function";
    }
    return "object";
}

const char* change_type_name(ChangeType type) {
    switch (type) {
        case ChangeType::Added:
            return "added";
        case ChangeType::Dropped:
            return "dropped";
        case ChangeType::Changed:
            return "changed";
    }
    return "changed";
}

const std::string* SchemaObject::attribute(std::string_view key) const {
    for (const auto& [attr_name, value] : attributes) {
        if (attr_name == key) {
            return &value;
        }
    }
    return nullptr;
}

SchemaSnapshot snapshot_from_json(const nlohmann::json& doc) {
    if (!doc.is_object()) {
        throw Error(ErrorKind::Protocol, "the schema snapshot is not a JSON object");
    }
    SchemaSnapshot s;
    read_rows(doc, "extensions", SchemaKind::Extension, {"version", "schema"}, s);
    read_rows(doc, "tables", SchemaKind::Table, {"kind"}, s);
    read_rows(doc, "columns", SchemaKind::Column,
              {"type", "nullable", "default", "identity", "generated"}, s);
    read_rows(doc, "indexes", SchemaKind::Index, {"definition"}, s);
    read_rows(doc, "constraints", SchemaKind::Constraint, {"definition"}, s);
    read_rows(doc, "views", SchemaKind::View, {"kind", "definition"}, s);
    read_rows(doc, "functions", SchemaKind::Function, {"kind", "definition"}, s);
    return s;
}

std::vector<SchemaChange> diff_schemas(const SchemaSnapshot& parent, const SchemaSnapshot& child) {
    std::map<Key, const SchemaObject*> before;
    std::map<Key, const SchemaObject*> after;
    for (const auto& o : parent.objects) {
        before.emplace(key_of(o), &o);
    }
    for (const auto& o : child.objects) {
        after.emplace(key_of(o), &o);
    }
    // Tables added or dropped whole: their parts are details, not changes.
    std::set<std::pair<std::string, std::string>> whole;
    for (const auto& [k, o] : after) {
        if (o->kind == SchemaKind::Table && before.count(k) == 0) {
            whole.emplace(o->schema, o->name);
        }
    }
    for (const auto& [k, o] : before) {
        if (o->kind == SchemaKind::Table && after.count(k) == 0) {
            whole.emplace(o->schema, o->name);
        }
    }
    auto part_of_whole = [&whole](const SchemaObject& o) {
        return is_table_part(o.kind) && whole.count({o.schema, o.table}) != 0;
    };

    std::vector<SchemaChange> out;
    for (const auto& [k, o] : after) {
        const auto b = before.find(k);
        if (b == before.end()) {
            if (part_of_whole(*o)) {
                continue;
            }
            SchemaChange c{ChangeType::Added, *o, {}, {}};
            if (o->kind == SchemaKind::Table) {
                c.details = table_details(child, *o);
            }
            out.push_back(std::move(c));
            continue;
        }
        SchemaChange c{ChangeType::Changed, *o, {}, {}};
        for (const auto& [name, value] : o->attributes) {
            const std::string* old = b->second->attribute(name);
            const std::string old_value = old != nullptr ? *old : std::string();
            if (old_value != value) {
                c.changes.push_back({name, old_value, value});
            }
        }
        if (!c.changes.empty()) {
            out.push_back(std::move(c));
        }
    }
    for (const auto& [k, o] : before) {
        if (after.count(k) != 0 || part_of_whole(*o)) {
            continue;
        }
        SchemaChange c{ChangeType::Dropped, *o, {}, {}};
        if (o->kind == SchemaKind::Table) {
            c.details = table_details(parent, *o);
        }
        out.push_back(std::move(c));
    }
    std::stable_sort(out.begin(), out.end(), [](const SchemaChange& a, const SchemaChange& b) {
        return key_of(a.object) < key_of(b.object);
    });
    return out;
}

std::string quote_identifier(std::string_view name) {
    bool bare = !name.empty() && !(name[0] >= '0' && name[0] <= '9') && name[0] != '$';
    for (const char ch : name) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '$')) {
            bare = false;
        }
    }
    if (bare) {
        return std::string(name);
    }
    std::string out = "\"";
    for (const char ch : name) {
        out += ch;
        if (ch == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

std::string display_name(const SchemaObject& o) {
    std::string out;
    if (!o.schema.empty()) {
        out = quote_identifier(o.schema) + ".";
    }
    // Index names are the schema's; a constraint's are its table's.
    if (!o.table.empty() && o.kind != SchemaKind::Index) {
        out += quote_identifier(o.table) + ".";
    }
    if (o.kind == SchemaKind::Function) {
        const auto paren = o.name.find('(');
        return out + quote_identifier(o.name.substr(0, paren)) +
               (paren == std::string::npos ? "" : o.name.substr(paren));
    }
    return out + quote_identifier(o.name);
}

}  // namespace xbranch
