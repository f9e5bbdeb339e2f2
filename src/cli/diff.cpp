// xbranch diff: the schema difference between the sandbox's branch and its
// parent, read from the two databases themselves.
#include <iostream>

#include "app.hpp"
#include "duration.hpp"
#include "xbranch/error.hpp"
#include "xbranch/schema_read.hpp"
#include "xbranch/schema_render.hpp"

namespace xbranch::cli {
namespace {

struct DiffOptions {
    IdentityFlags identity;
    ConnectionFlags connection;
    std::string format = "text";
    std::string timeout = "60s";
};

int run_diff(const DiffOptions& o, const Context& ctx) {
    BranchTarget target =
        resolve_branch_target(o.identity, *ctx.env, o.identity.branch_id.value_or("").empty());
    const ConnectionChoice choice = resolve_connection(o.connection, *ctx.env);
    const auto timeout = flag_duration("--timeout", o.timeout);
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    const Deadline deadline = Deadline::in(session->clock, timeout);
    const Limits limits{ctx.cancel, deadline, std::nullopt};
    const BranchDetails branch = locate_branch(session->client, target, limits);
    if (!branch.branch.parent_id || branch.branch.parent_id->empty()) {
        throw Error(ErrorKind::NotFound, "branch " + branch.branch.name + " (id " +
                                             branch.branch.id +
                                             ") has no parent to compare it with")
            .with_operation("diff branch " + branch.branch.name)
            .with_hint("diff compares a branch made from a parent (a sandbox's) with that parent");
    }
    const BranchDetails parent = session->client.describe_branch(*branch.branch.parent_id, limits);

    NullProgress progress;
    Lifecycle lifecycle(session->client, session->clock, progress, ctx.run_control());
    auto connection = [&](const BranchDetails& d) {
        ConnectionInfo info =
            lifecycle.connection_for(d, choice.endpoint, choice.sslmode, deadline);
        if (!choice.database.empty()) {
            info.database = choice.database;
        }
        return info;
    };
    auto left = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(deadline.left(session->clock));
    };
    const ConnectionInfo parent_info = connection(parent);
    const ConnectionInfo branch_info = connection(branch);
    const SchemaSnapshot before =
        read_schema(parent_info, "parent " + parent.branch.name, left(), ctx.cancel);
    const SchemaSnapshot after =
        read_schema(branch_info, "branch " + branch.branch.name, left(), ctx.cancel);
    const std::vector<SchemaChange> changes = diff_schemas(before, after);
    const DiffSubject subject{branch.branch.name, branch.branch.id, parent.branch.name,
                              parent.branch.id};
    if (o.format == "json") {
        std::cout << render_diff_json(changes, subject);
    } else if (o.format == "markdown") {
        std::cout << render_diff_markdown(changes, subject);
    } else {
        std::cout << render_diff_text(changes, subject);
    }
    return changes.empty() ? 0 : k_exit_schema_differs;
}

}  // namespace

Command add_diff(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<DiffOptions>();
    CLI::App* app = root.add_subcommand(
        "diff", "Show the schema changes of the sandbox's branch against its parent");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    add_connection_flags(*app, opts->connection);
    app->add_option("--format,-f", opts->format,
                    "text, markdown (for a pull-request comment) or json")
        ->check(CLI::IsMember({"text", "markdown", "json"}));
    app->add_option(
        "--timeout", opts->timeout,
        "How long the whole diff may take (default 60s); " + duration_range_text("--timeout"));
    app->footer(
        R"TXT(Compares tables, columns (type, nullable, default), indexes, constraints, views,
functions and extensions in the user schemas of both databases (not owners,
grants, triggers, types or data). Exits 0 when the schemas are the same and
14 when they differ (like `git diff --exit-code`); errors keep their codes.
Examples:
  xbranch diff --sandbox my-feature
  xbranch diff --sandbox my-feature --format markdown > schema-diff.md)TXT");
    return {app, [opts, &ctx] { return run_diff(*opts, ctx); }};
}

}  // namespace xbranch::cli
