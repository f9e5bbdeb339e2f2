#include "xbranch/schema_read.hpp"

#include <libpq-fe.h>

#include <nlohmann/json.hpp>

#include "pq_wait.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

// User schemas, and the objects that belong to no extension. Everything is
// qualified with pg_catalog: the search_path is empty. One simple-query
// message is one transaction, so the search_path is set for this query
// only (is_local): a pooler's server connection is left as it was.
constexpr const char* k_schema_query = R"SQL(
SELECT pg_catalog.set_config('search_path', '', true);
WITH ns AS (
  SELECT oid, nspname FROM pg_catalog.pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'
),
ext AS (
  SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
),
rels AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind
  FROM pg_catalog.pg_class c JOIN ns n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND NOT EXISTS (SELECT 1 FROM ext e WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND e.objid = c.oid)
)
SELECT pg_catalog.json_build_object(
  'extensions', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'name', x.extname, 'version', x.extversion, 'schema', xn.nspname)
           ORDER BY x.extname)
    FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace xn ON xn.oid = x.extnamespace),
  'tables', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', r.nspname, 'name', r.relname,
             'kind', CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                     ELSE 'foreign table' END)
           ORDER BY r.nspname, r.relname)
    FROM rels r WHERE r.relkind IN ('r', 'p', 'f')),
  'columns', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', r.nspname, 'table', r.relname, 'name', a.attname,
             'type', pg_catalog.format_type(a.atttypid, a.atttypmod) ||
                     CASE WHEN a.attcollation <> t.typcollation AND co.collname IS NOT NULL
                          THEN ' collate ' || pg_catalog.quote_ident(co.collname) ELSE '' END,
             'nullable', NOT a.attnotnull,
             'default', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
             'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default'
                         ELSE '' END,
             'generated', CASE WHEN a.attgenerated = 's'
                          THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END)
           ORDER BY r.nspname, r.relname, a.attnum)
    FROM rels r
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE r.relkind IN ('r', 'p', 'f')),
  'indexes', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', r.nspname, 'table', r.relname, 'name', ic.relname,
             'definition', pg_catalog.pg_get_indexdef(i.indexrelid))
           ORDER BY r.nspname, ic.relname)
    FROM pg_catalog.pg_index i
    JOIN rels r ON r.oid = i.indrelid
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                      WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                        AND k.contype IN ('p', 'u', 'x'))),
  'constraints', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', r.nspname, 'table', r.relname, 'name', k.conname,
             'definition', pg_catalog.pg_get_constraintdef(k.oid, true))
           ORDER BY r.nspname, r.relname, k.conname)
    FROM pg_catalog.pg_constraint k JOIN rels r ON r.oid = k.conrelid),
  'views', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', r.nspname, 'name', r.relname,
             'kind', CASE r.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END,
             'definition', pg_catalog.pg_get_viewdef(r.oid, true))
           ORDER BY r.nspname, r.relname)
    FROM rels r WHERE r.relkind IN ('v', 'm')),
  'functions', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
             'schema', n.nspname, 'name', p.proname,
             'arguments', pg_catalog.oidvectortypes(p.proargtypes),
             'kind', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
             'definition', pg_catalog.pg_get_functiondef(p.oid))
           ORDER BY n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes))
    FROM pg_catalog.pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM ext e WHERE e.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                      AND e.objid = p.oid))
)::text
)SQL";

Error interrupted(const CancelToken* cancel, const std::string& op) {
    const int sig = cancel != nullptr ? cancel->signal_number() : 0;
    return Error(ErrorKind::Interrupted,
                 sig > 0 ? "interrupted by signal " + std::to_string(sig) : "interrupted")
        .with_operation(op)
        .with_signal(sig);
}

}  // namespace

const char* schema_query() {
    return k_schema_query;
}

SchemaSnapshot read_schema(const ConnectionInfo& info, const std::string& what,
                           std::chrono::milliseconds budget, const CancelToken* cancel) {
    const std::string op = "read the schema of " + what;
    const auto deadline = std::chrono::steady_clock::now() + budget;
    const SystemClock clock;
    ConnectOutcome opened = open_connection(info, clock, Deadline::in(clock, budget), cancel);
    if (!opened.connection) {
        const ProbeResult& r = opened.result;
        if (r.reason == ProbeReason::Cancelled) {
            throw interrupted(cancel, op);
        }
        if (r.reason == ProbeReason::Timeout) {
            throw Error(ErrorKind::Timeout, "no login to " + what + " within the time limit")
                .with_operation(op)
                .with_reason(ErrorReason::DeadlineReached);
        }
        Error e(ErrorKind::NotConnectable, "no login to " + what + " (database '" + info.database +
                                               "'): " + reason_name(r.reason) + ": " +
                                               redact(r.message));
        e.with_operation(op);
        if (r.reason == ProbeReason::DatabaseMissing) {
            e.with_reason(ErrorReason::DatabaseMissing);
        }
        throw e;
    }
    std::string value;
    detail::QueryFailure failure;
    if (!detail::run_query(opened.connection->get(), k_schema_query, deadline, cancel, &value,
                           &failure)) {
        if (failure.reason == ProbeReason::Cancelled) {
            throw interrupted(cancel, op);
        }
        if (failure.reason == ProbeReason::Timeout) {
            throw Error(ErrorKind::Timeout,
                        "the catalog query on " + what + " did not finish within the time limit")
                .with_operation(op)
                .with_reason(ErrorReason::DeadlineReached);
        }
        throw Error(ErrorKind::Protocol,
                    "the catalog query on " + what +
                        " failed: " + (failure.sqlstate.empty() ? "" : failure.sqlstate + " ") +
                        redact(failure.message))
            .with_operation(op);
    }
    const nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
    if (doc.is_discarded()) {
        throw Error(ErrorKind::Protocol, "the catalog query on " + what + " gave no JSON")
            .with_operation(op);
    }
    return snapshot_from_json(doc);
}

}  // namespace xbranch
