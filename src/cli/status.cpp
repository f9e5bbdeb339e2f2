// xbranch status: what the API says about the sandbox's branch.
#include "app.hpp"
#include "render.hpp"
#include "xbranch/gc_policy.hpp"

namespace xbranch::cli {
namespace {

struct StatusOptions {
    IdentityFlags identity;
    std::string output = "text";
};

int run_status(const StatusOptions& o, const Context& ctx) {
    BranchTarget target =
        resolve_branch_target(o.identity, *ctx.env, o.identity.branch_id.value_or("").empty());
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    BranchDetails d = locate_branch(session->client, target, session->limits);
    StatusRow row{d, -1, ""};
    if (const auto created = parse_timestamp(d.branch.created_at)) {
        row.age_seconds = now_unix() - *created;
    }
    if (const auto tag = decode_tag(d.branch.description); tag && tag->expires_at) {
        row.expires_at = rfc3339_utc(*tag->expires_at);
    }
    print_status(row, o.output == "json");
    return 0;
}

}  // namespace

Command add_status(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<StatusOptions>();
    CLI::App* app = root.add_subcommand(
        "status", "Show the sandbox's branch: id, parent, phase, instances, age");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    app->add_option("--output,-o", opts->output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    app->footer(R"TXT(Examples:
  xbranch status --sandbox my-feature
  xbranch status --branch-id e80atan1sl5khdkr8pkc33fovk --output json)TXT");
    return {app, [opts, &ctx] { return run_status(*opts, ctx); }};
}

}  // namespace xbranch::cli
