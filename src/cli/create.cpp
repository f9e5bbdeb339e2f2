// xbranch create: create (or adopt) the sandbox's branch, wait, hand over the connection.
#include <spdlog/spdlog.h>

#include <iostream>
#include <random>

#include "app.hpp"
#include "create_flags.hpp"
#include "github_env.hpp"
#include "xbranch/error.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::cli {
namespace {

struct CreateOptions {
    CreateFlags create;
    std::optional<std::string> output_dir;
    std::string output = "text";
    bool show_secrets = false;
};

int run_create(const CreateOptions& o, const Context& ctx) {
    BranchTarget target = resolve_branch_target(o.create.identity, *ctx.env, /*require_name=*/true);
    const ConnectionChoice connection = resolve_connection(o.create.connection, *ctx.env);
    CreateRequest req = build_create_request(o.create, target, connection);
    const OutputFormat format = o.output == "json"  ? OutputFormat::Json
                                : o.output == "env" ? OutputFormat::Env
                                                    : OutputFormat::Text;
    auto session = open_session(ctx);
    log_settings(session->config, &target);

    // A folder we cannot write must cost no branch: check it first.
    if (o.output_dir) {
        preflight_output_dir(*o.output_dir);
    }

    auto progress = make_progress(stderr, ctx.color, ctx.global.verbosity < 0);
    Lifecycle lifecycle(session->client, session->clock, *progress, ctx.run_control());
    CreateEdges edges;
    lifecycle.set_edges(usable_edges(edges));

    CreateResult result;
    try {
        result = lifecycle.create(req);
    } catch (...) {
        progress->finish();
        throw;
    }
    progress->finish();
    github_mask_secrets(result, *ctx.env, std::cout);

    auto clean_up = [&](Error& e) {
        if (!result.created_by_us) {
            return;
        }
        const Branch& b = result.branch;
        if (o.create.keep_on_failure) {
            e.with_cleanup(CleanupState::Kept, b.id, b.name);
            return;
        }
        const bool gone = lifecycle.cleanup(b, e.what());
        e.with_cleanup(gone ? CleanupState::Deleted : CleanupState::Left, b.id, b.name);
    };
    try {
        if (o.output_dir) {
            write_output_files(*o.output_dir, output_files(output_values(result)));
            spdlog::debug("wrote outputs to {}", *o.output_dir);
        }
        github_write_outputs(result, *ctx.env);
    } catch (Error& e) {
        clean_up(e);
        throw;
    } catch (const std::exception& ex) {
        Error e(ErrorKind::Io, std::string("writing the outputs failed: ") + ex.what());
        clean_up(e);
        throw e;
    }
    spdlog::info("branch {} (id {}) is ready after {} API requests{}", result.branch.name,
                 result.branch.id, session->client.request_count(),
                 result.adopted ? "; it already existed and was adopted" : "");
    std::cout << render(output_values(result), format, o.show_secrets) << std::flush;
    return 0;
}

}  // namespace

Command add_create(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<CreateOptions>();
    CLI::App* app = root.add_subcommand("create",
                                        "Create (or adopt) the sandbox's branch, wait until it is "
                                        "usable, hand over its connection");
    add_create_flags(*app, opts->create,
                     "Time limit for the whole create: every request, retry, the wait for "
                     "readiness and the connection check (90s, 10m, ...)");
    app->add_option(
        "--output-dir", opts->output_dir,
        "Write branch-name, branch-id, connection-string, host, port, database, username, "
        "password, pooled-connection-string there (one value per file; secrets mode 0600)");
    app->add_option("--output,-o", opts->output, "What to print on stdout: text, json or env")
        ->check(CLI::IsMember({"text", "json", "env"}))
        ->capture_default_str();
    app->add_flag("--show-secrets", opts->show_secrets,
                  "Print the password unmasked in json/env/text output");
    app->footer(
        std::string(k_hooks_help) + "\n\n" +
        R"TXT(The branch name is derived from the sandbox: PREFIX + sandbox [+ resource] [+ sandbox id]
+ a hash of all three, at most 63 characters; the same sandbox always gets the same
name, so running create again adopts the branch instead of making a second one.

Examples:
  xbranch create --sandbox my-feature
  xbranch create --sandbox my-feature --parent staging --timeout 2m --output json
  xbranch create --sandbox my-feature --ttl 7d   # `xbranch gc --expired` removes it after
  eval "$(xbranch create --sandbox my-feature --output env --show-secrets)"
  # in a Signadot plugin step (the operator sets SIGNADOT_SANDBOX_NAME/ID):
  xbranch create --output-dir /outputs
  xbranch create --sandbox my-feature --database app --sql schema.sql --sql seed.sql)TXT");
    return {app, [opts, &ctx] { return run_create(*opts, ctx); }};
}

}  // namespace xbranch::cli
