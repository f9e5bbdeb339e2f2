// Reading a database's schema (schema_diff.hpp's snapshot) through libpq:
// one login, one query that returns the whole catalog extract as a JSON
// document, bounded in time and stoppable.
#pragma once

#include <chrono>
#include <string>

#include "xbranch/cancel.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/schema_diff.hpp"

namespace xbranch {

// The catalog query (pg_catalog, pg_get_indexdef, pg_get_constraintdef,
// pg_get_viewdef, pg_get_functiondef), run with an empty search_path so
// every name outside pg_catalog comes schema-qualified the same way in
// both databases. Its one value is the document snapshot_from_json reads.
const char* schema_query();

// Logs in with exactly `info` and reads the snapshot, all within `budget`.
// `what` names the database in errors ("branch sb-x", "parent main").
// Throws Error: NotConnectable (no login; DatabaseMissing when the database
// is not there), Timeout, Interrupted (`cancel` set), Protocol (the query
// failed or answered something else). Messages are redacted.
SchemaSnapshot read_schema(const ConnectionInfo& info, const std::string& what,
                           std::chrono::milliseconds budget, const CancelToken* cancel);

}  // namespace xbranch
