// xbranch url: the one command that prints a connection string unmasked.
#include <iostream>

#include "app.hpp"
#include "xbranch/error.hpp"

namespace xbranch::cli {
namespace {

struct UrlOptions {
    IdentityFlags identity;
    std::string sslmode = "require";
    std::string endpoint = "rw";
};

int run_url(const UrlOptions& o, const Context& ctx) {
    BranchTarget target =
        resolve_branch_target(o.identity, *ctx.env, o.identity.branch_id.value_or("").empty());
    auto endpoint = parse_endpoint(o.endpoint);
    if (!endpoint) {
        throw Error(ErrorKind::Usage,
                    "invalid --endpoint '" + o.endpoint + "': use rw, r, ro or pooler");
    }
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    BranchDetails d = locate_branch(session->client, target);
    NullProgress progress;
    Lifecycle lifecycle(session->client, session->clock, progress, ctx.run_control());
    ConnectionInfo info = lifecycle.connection_for(
        d, *endpoint, o.sslmode == "none" ? "" : o.sslmode, Deadline::at(session->clock.now()));
    std::cout << build_connection_string(info) << "\n";
    return 0;
}

}  // namespace

Command add_url(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<UrlOptions>();
    CLI::App* app = root.add_subcommand(
        "url",
        "Print the branch's connection string WITH its password (the only command that does)");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    app->add_option("--sslmode", opts->sslmode,
                    "sslmode parameter (none = leave out) [env XBRANCH_SSLMODE]")
        ->envname("XBRANCH_SSLMODE")
        ->capture_default_str();
    app->add_option("--endpoint", opts->endpoint, "rw, r, ro or pooler")
        ->check(CLI::IsMember({"rw", "r", "ro", "pooler"}))
        ->capture_default_str();
    app->footer(
        R"TXT(The output is a secret: it holds the password. Prefer piping it over showing it:
  psql "$(xbranch url --sandbox my-feature)"
  DATABASE_URL="$(xbranch url --sandbox my-feature --endpoint pooler)" npm test)TXT");
    return {app, [opts, &ctx] { return run_url(*opts, ctx); }};
}

}  // namespace xbranch::cli
