#include "create_flags.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "github_env.hpp"
#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::cli {

const char* const k_hooks_help =
    R"TXT(Ready means usable: after the API reports the branch healthy, xbranch logs in with
exactly the connection it hands out and runs SELECT 1, retrying within --timeout
(--no-connect-check skips it). Then the hooks run: every --sql file in order, then
every --exec command in order (/bin/sh -c, with DATABASE_URL, PG* and XBRANCH_BRANCH_*
set; their output goes to stderr). The branch's tag records the hooks as pending,
then done. A rerun that adopts a branch whose hooks are done does not run them again
(a different hook set is only warned about); one whose hooks are still pending (a run
was killed mid-hook, so the branch was never handed out) deletes that branch and
creates it afresh, then runs the hooks.)TXT";

void add_create_flags(CLI::App& app, CreateFlags& f, const std::string& timeout_what) {
    add_identity_flags(app, f.identity, /*with_branch_id=*/false);
    app.add_option("--timeout", f.timeout, timeout_what + "; " + duration_range_text("--timeout"))
        ->capture_default_str();
    add_connection_flags(app, f.connection);
    app.add_flag("--keep-on-failure", f.keep_on_failure,
                 "Keep a branch this run created when a later step fails (default: delete it)");
    app.add_option("--description", f.description,
                   "Branch description (<= 50 chars: letters, digits, '-', ' ')");
    app.add_option("--ttl", f.ttl,
                   "Record an expiry (now + DURATION, rounded up to a minute) in the branch's "
                   "tag for `xbranch gc --expired`; 1s to 3650d; an adopted branch keeps its own");
    app.add_flag("--no-connect-check", f.no_connect_check,
                 "Do not log in before reporting the branch ready (it may refuse logins for a "
                 "few seconds)");
    // One value per occurrence: a list option would also take `--` as the
    // end of its list, and `run --sql F -- CMD --flag` would hand --flag to
    // xbranch instead of CMD.
    app.add_option("--sql", f.sql_files,
                   "SQL file to run on a new branch after the connection check (repeat the "
                   "flag for more, run in order; once per branch)")
        ->allow_extra_args(false);
    app.add_option("--exec", f.exec_commands,
                   "Shell command to run on a new branch after the --sql files (repeat the flag "
                   "for more, run in order; once per branch)")
        ->allow_extra_args(false);
}

UsableEdges usable_edges(CreateEdges& edges) {
    UsableEdges e;
    e.prober = &edges.prober;
    e.sql = &edges.sql;
    e.processes = &edges.processes;
    e.locker = &edges.locker;
    e.hook_output = [](OutputStream, std::string_view line) {
        std::cerr << printable(redact(line)) << "\n" << std::flush;
    };
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    e.unit_random = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
    return e;
}

void add_output_flags(CLI::App& app, OutputFlags& f) {
    app.add_option(
           "--output-dir", f.output_dir,
           "Write branch-name, branch-id, connection-string, host, port, database, username, "
           "password, pooled-connection-string there (one value per file; secrets mode 0600)")
        // An empty value (a template's unset variable) would resolve to the
        // working folder and fail only after the branch exists.
        ->check(CLI::Validator(
            [](const std::string& value) {
                return value.empty() ? std::string(
                                           "the folder is empty (give a path, or leave "
                                           "the flag out)")
                                     : std::string();
            },
            "DIR", "non-empty"));
    app.add_option("--output,-o", f.output, "What to print on stdout: text, json or env")
        ->check(CLI::IsMember({"text", "json", "env"}))
        ->capture_default_str();
    app.add_flag("--show-secrets", f.show_secrets,
                 "Print the password unmasked in json/env/text output");
}

OutputFormat output_format(const OutputFlags& f) {
    return f.output == "json"  ? OutputFormat::Json
           : f.output == "env" ? OutputFormat::Env
                               : OutputFormat::Text;
}

void hand_over(const CreateResult& result, const OutputFlags& flags, bool keep_on_failure,
               Lifecycle& lifecycle, const Environment& env, std::future<StagedOutputs>* staged) {
    github_mask_secrets(result, env, std::cout);
    auto clean_up = [&](Error& e) { lifecycle.clean_up_after_failure(result, keep_on_failure, e); };
    try {
        if (flags.output_dir) {
            const std::vector<OutputFile> files = output_files(output_values(result));
            std::optional<StagedOutputs> early;
            if (staged != nullptr && staged->valid()) {
                early.emplace(staged->get());  // a failed staging throws here
            }
            if (early && early->dir() == std::filesystem::path(*flags.output_dir) &&
                same_files(early->files(), files)) {
                early->commit();
                spdlog::debug("wrote outputs to {} (staged during the connection check)",
                              *flags.output_dir);
            } else {
                early.reset();
                write_output_files(*flags.output_dir, files);
                spdlog::debug("wrote outputs to {}", *flags.output_dir);
            }
        }
        github_write_outputs(result, env);
    } catch (Error& e) {
        clean_up(e);
        throw;
    } catch (const std::exception& ex) {
        Error e(ErrorKind::Io, std::string("writing the outputs failed: ") + ex.what());
        clean_up(e);
        throw e;
    }
}

namespace {

std::string read_sql_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) {
        text << in.rdbuf();
    }
    if (!in || in.bad()) {
        throw Error(ErrorKind::Usage, "cannot read --sql file '" + path + "'")
            .with_hint("nothing was created; check the path");
    }
    return text.str();
}

}  // namespace

CreateRequest build_create_request(const CreateFlags& f, const BranchTarget& target,
                                   const ConnectionChoice& connection) {
    const auto timeout = flag_duration("--timeout", f.timeout);
    // Checked here, before anything exists, like every other flag.
    // Whole seconds, rounded up: a TTL never ends early (the tag rounds up to
    // a minute). Set in place: a ternary into std::optional made GCC 12 -O3
    // warn (maybe-uninitialized) about the empty side.
    std::optional<std::chrono::seconds> ttl;
    if (f.ttl) {
        ttl = std::chrono::ceil<std::chrono::seconds>(flag_duration("--ttl", *f.ttl));
    }
    CreateRequest req;
    req.branch_name = target.name.value;
    req.parent = target.parent.setting.value;
    req.parent_is_id = target.parent.is_id;
    req.description = f.description.value_or("");
    req.prefix = target.prefix.value;
    // The run's token in the branch's tag: how a later lookup tells this run's
    // branch from one a concurrent run made and handed out.
    std::random_device random;
    req.run_token = make_run_token((static_cast<std::uint64_t>(random()) << 32) ^
                                   static_cast<std::uint64_t>(random()));
    req.timeout = timeout;
    req.endpoint = connection.endpoint;
    req.sslmode = connection.sslmode;
    req.database = connection.database;
    req.keep_on_failure = f.keep_on_failure;
    req.connect_check = !f.no_connect_check;
    req.ttl = ttl;
    for (const auto& path : f.sql_files) {
        req.hooks.push_back({HookSpec::Kind::Sql, path, read_sql_file(path)});
    }
    for (const auto& command : f.exec_commands) {
        if (command.empty()) {
            throw Error(ErrorKind::Usage, "an --exec command is empty");
        }
        req.hooks.push_back({HookSpec::Kind::Exec, command, {}});
    }
    return req;
}

std::unique_ptr<CreateRun> start_create_run(const CreateFlags& flags, const Context& ctx,
                                            const std::optional<std::string>& output_dir) {
    auto run = std::make_unique<CreateRun>();
    run->target = resolve_branch_target(flags.identity, *ctx.env, /*require_name=*/true);
    const ConnectionChoice connection = resolve_connection(flags.connection, *ctx.env);
    run->request = build_create_request(flags, run->target, connection);
    run->session = open_session(ctx);
    log_settings(run->session->config, &run->target);
    // A folder we cannot write must cost no branch: check it first.
    if (output_dir) {
        run->output_folders = preflight_output_dir(*output_dir);
    }
    run->progress = make_progress(stderr, ctx.color, ctx.global.verbosity < 0);
    run->lifecycle = std::make_unique<Lifecycle>(run->session->client, run->session->clock,
                                                 *run->progress, ctx.run_control());
    run->lifecycle->set_edges(usable_edges(run->edges));
    return run;
}

}  // namespace xbranch::cli
