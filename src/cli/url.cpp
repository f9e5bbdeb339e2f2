// xbranch url: print the branch's connection string, password included.
#include <iostream>

#include "app.hpp"
#include "xbranch/error.hpp"

namespace xbranch::cli {
namespace {

struct UrlOptions {
    IdentityFlags identity;
    ConnectionFlags connection;
    bool force = false;
};

int run_url(const UrlOptions& o, const Context& ctx) {
    BranchTarget target =
        resolve_branch_target(o.identity, *ctx.env, o.identity.branch_id.value_or("").empty());
    const ConnectionChoice choice = resolve_connection(o.connection, *ctx.env);
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    BranchDetails d = locate_branch(session->client, target);
    // A branch without a parent is a root: usually the production database.
    // Its password is not handed out by accident.
    if (!d.branch.parent_id && !o.force) {
        throw Error(ErrorKind::Conflict, "branch " + d.branch.name + " (id " + d.branch.id +
                                             ") is a root branch (it has no parent)")
            .with_hint(
                "its credentials are usually the production database's; pass --force "
                "to print them anyway");
    }
    NullProgress progress;
    Lifecycle lifecycle(session->client, session->clock, progress, ctx.run_control());
    ConnectionInfo info = lifecycle.connection_for(d, choice.endpoint, choice.sslmode,
                                                   Deadline::at(session->clock.now()));
    if (!choice.database.empty()) {
        info.database = choice.database;
    }
    std::cout << build_connection_string(info) << "\n";
    return 0;
}

}  // namespace

Command add_url(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<UrlOptions>();
    CLI::App* app = root.add_subcommand(
        "url", "Print the branch's connection string WITH its password (a secret: pipe it)");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    add_connection_flags(*app, opts->connection);
    app->add_flag("--force", opts->force,
                  "Also print a root branch's connection string (one without a parent, usually "
                  "production)");
    app->footer(
        R"TXT(The output is a secret: it holds the password. Prefer piping it over showing it:
  psql "$(xbranch url --sandbox my-feature)"
  DATABASE_URL="$(xbranch url --sandbox my-feature --endpoint pooled_rw)" npm test)TXT");
    return {app, [opts, &ctx] { return run_url(*opts, ctx); }};
}

}  // namespace xbranch::cli
