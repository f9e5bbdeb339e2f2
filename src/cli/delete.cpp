// xbranch delete: remove the sandbox's branch; already gone is success.
#include <spdlog/spdlog.h>

#include <iostream>

#include "app.hpp"
#include "xbranch/error.hpp"

namespace xbranch::cli {
namespace {

struct DeleteOptions {
    IdentityFlags identity;
    bool force = false;
};

int run_delete(const DeleteOptions& o, const Context& ctx) {
    BranchTarget target = resolve_branch_target(
        o.identity, *ctx.env, /*require_name=*/o.identity.branch_id.value_or("").empty());
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    NullProgress progress;
    Lifecycle lifecycle(session->client, session->clock, progress, ctx.run_control());
    Lifecycle::DeleteRequest req;
    if (!target.branch_id.empty()) {
        req.id = target.branch_id.value;
    } else {
        req.name = target.name.value;
    }
    req.parent = target.parent.setting.value;
    req.parent_is_id = target.parent.is_id;
    req.prefix = target.prefix.value;
    req.force = o.force;
    auto r = lifecycle.remove(req);
    const std::string what = r.name.empty()
                                 ? "branch id " + r.id
                                 : "branch " + r.name + (r.id.empty() ? "" : " (id " + r.id + ")");
    if (r.deleted) {
        std::cout << "Deleted " << what << "\n";
    } else {
        std::cout << "Nothing to delete: " << what << " does not exist (already deleted)\n";
    }
    return 0;
}

}  // namespace

Command add_delete(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<DeleteOptions>();
    CLI::App* app = root.add_subcommand(
        "delete", "Delete the sandbox's branch (succeeds if it is already gone)");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    app->add_flag("--force", opts->force, "Allow deleting a branch whose name lacks the prefix");
    app->footer(
        R"TXT(The branch is found by --branch-id, else by --branch NAME, else by the name derived from
the sandbox exactly as create derives it. The parent branch, a root branch and a branch
that is the parent of live branches are never deleted, not even with --force.

Examples:
  xbranch delete --sandbox my-feature
  xbranch delete --branch-id e80atan1sl5khdkr8pkc33fovk)TXT");
    return {app, [opts, &ctx] { return run_delete(*opts, ctx); }};
}

}  // namespace xbranch::cli
