// xbranch url: print the branch's connection string, password included.
#include <iostream>

#include "app.hpp"

namespace xbranch::cli {
namespace {

struct UrlOptions {
    IdentityFlags identity;
    ConnectionFlags connection;
    bool force = false;
};

int run_url(const UrlOptions& o, const Context& ctx) {
    // A root branch's password is not handed out by accident.
    const BranchConnection c = connect_to_branch(
        o.identity, o.connection, o.force,
        "its credentials are usually the production database's; pass --force to print them "
        "anyway",
        ctx);
    std::cout << build_connection_string(c.info) << "\n";
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
