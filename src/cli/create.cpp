// xbranch create: create (or adopt) the sandbox's branch, wait, hand over the connection.
#include <spdlog/spdlog.h>

#include <iostream>
#include <random>

#include "app.hpp"
#include "github_env.hpp"
#include "xbranch/error.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::cli {
namespace {

struct CreateOptions {
    IdentityFlags identity;
    std::string timeout = "10m";
    std::optional<std::string> output_dir;
    std::string output = "text";
    bool show_secrets = false;
    ConnectionFlags connection;
    bool keep_on_failure = false;
    std::string description;
    std::optional<std::string> ttl;
};

int run_create(const CreateOptions& o, const Context& ctx) {
    BranchTarget target = resolve_branch_target(o.identity, *ctx.env, /*require_name=*/true);
    auto timeout = parse_duration(o.timeout);
    if (!timeout || timeout->count() <= 0) {
        throw Error(ErrorKind::Usage,
                    "invalid --timeout '" + o.timeout + "': use e.g. 90s, 10m, 1500ms");
    }
    const ConnectionChoice connection = resolve_connection(o.connection, *ctx.env);
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
    CreateRequest req;
    req.branch_name = target.name.value;
    req.parent = target.parent.setting.value;
    req.parent_is_id = target.parent.is_id;
    req.description = o.description;
    req.prefix = target.prefix.value;
    // The run's token in the branch's tag: how a later lookup tells this run's
    // branch from one a concurrent run made and handed out.
    std::random_device random;
    req.run_token = make_run_token((static_cast<std::uint64_t>(random()) << 32) ^
                                   static_cast<std::uint64_t>(random()));
    req.timeout = *timeout;
    req.endpoint = connection.endpoint;
    req.sslmode = connection.sslmode;
    req.keep_on_failure = o.keep_on_failure;
    if (o.ttl) {
        // Whole seconds, rounded up: a TTL never ends early (the tag rounds up to a minute).
        req.ttl = std::chrono::ceil<std::chrono::seconds>(*parse_duration(*o.ttl));
    }

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
        if (o.keep_on_failure) {
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
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/false);
    app->add_option("--timeout", opts->timeout,
                    "Time limit for the whole create: every request, retry and the wait for "
                    "readiness (90s, 10m, ...)")
        ->capture_default_str();
    app->add_option(
        "--output-dir", opts->output_dir,
        "Write branch-name, branch-id, connection-string, host, port, database, username, "
        "password there (one value per file; secrets mode 0600)");
    app->add_option("--output,-o", opts->output, "What to print on stdout: text, json or env")
        ->check(CLI::IsMember({"text", "json", "env"}))
        ->capture_default_str();
    app->add_flag("--show-secrets", opts->show_secrets,
                  "Print the password unmasked in json/env/text output");
    add_connection_flags(*app, opts->connection);
    app->add_flag("--keep-on-failure", opts->keep_on_failure,
                  "Keep a branch this run created when a later step fails (default: delete it)");
    app->add_option("--description", opts->description,
                    "Branch description (<= 50 chars: letters, digits, '-', ' ')");
    app->add_option("--ttl", opts->ttl,
                    "Record an expiry (now + DURATION, rounded up to a minute) in the branch's "
                    "tag for `xbranch gc --expired`; an adopted branch keeps its own")
        ->check(duration_check(std::chrono::seconds(1), std::chrono::hours(24 * 3650)));
    app->footer(
        R"TXT(The branch name is derived from the sandbox: PREFIX + sandbox [+ resource] [+ sandbox id]
+ a hash of all three, at most 63 characters; the same sandbox always gets the same
name, so running create again adopts the branch instead of making a second one.

Examples:
  xbranch create --sandbox my-feature
  xbranch create --sandbox my-feature --parent staging --timeout 2m --output json
  xbranch create --sandbox my-feature --ttl 7d   # `xbranch gc --expired` removes it after
  eval "$(xbranch create --sandbox my-feature --output env --show-secrets)"
  # in a Signadot plugin step (the operator sets SIGNADOT_SANDBOX_NAME/ID):
  xbranch create --output-dir /outputs)TXT");
    return {app, [opts, &ctx] { return run_create(*opts, ctx); }};
}

}  // namespace xbranch::cli
