#include "app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <vector>

#include "hints.hpp"
#include "xbranch/cancel.hpp"
#include "xbranch/error.hpp"
#include "xbranch/log.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::cli {
namespace {

constexpr const char* k_footer = R"TXT(Environment:
  XATA_API_KEY          API key (required; read only from the environment, never printed)
  XATA_API_BASE_URL     API address (default https://api.xata.tech)
  XATA_ORGANIZATION_ID  organization id (also XATA_ORG_ID)    XATA_PROJECT_ID  project id
  XBRANCH_SSLMODE, XBRANCH_PREFIX, XBRANCH_LOG_FORMAT, NO_COLOR  see the flags; -v shows each
                        setting's value and where it came from
  SIGNADOT_SANDBOX_NAME, SIGNADOT_SANDBOX_ID, SIGNADOT_RESOURCE_NAME  set by the Signadot operator

Exit codes:
  0 ok   2 usage/config   3 auth (401/403)   4 not found   5 conflict   6 timed out
  7 branch fault   8 API unavailable   9 local I/O   10 unexpected API answer   1 bug
  11 not connectable (no login worked before the time limit, or the database is missing)
  12 branch quota reached   13 a --sql/--exec hook failed
  130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP)

Examples:
  xbranch create --sandbox my-feature --output-dir /outputs
  xbranch create --sandbox my-feature --parent staging --output json
  xbranch url --sandbox my-feature
  xbranch delete --sandbox my-feature
  xbranch gc --older-than 7d --dry-run
  xbranch run --timeout 2m -- ./smoke-test.sh    # a throwaway branch for one command
  xbranch reset --sandbox my-feature             # the branch afresh from its parent

Run `xbranch COMMAND --help` for a command's flags.)TXT";

void print_error(const Error& e) {
    if (log_format() == LogFormat::Json) {
        nlohmann::ordered_json line = {{"level", "error"},
                                       {"kind", kind_name(e.kind())},
                                       {"exitCode", exit_code(e.kind(), e.signal_number())},
                                       {"msg", e.describe()}};
        if (e.http_status()) {
            line["httpStatus"] = *e.http_status();
        }
        if (!e.request_id().empty()) {
            line["requestId"] = redact(e.request_id());
        }
        if (const std::string hint = hint_text(e); !hint.empty()) {
            line["hint"] = redact(hint);
        }
        if (e.cleanup() == CleanupState::Left) {
            line["leftBranchId"] = e.cleanup_branch_id();
        }
        std::cerr << json_line(line) << "\n";
        return;
    }
    std::cerr << "xbranch: error: " << e.describe() << "\n";
    if (const std::string hint = hint_text(e); !hint.empty()) {
        std::cerr << "hint: " << redact(hint) << "\n";
    }
}

// The global options; values land in ctx.global (and the two locals).
void add_global_options(CLI::App& app, Context& ctx, int& verbose, bool& quiet) {
    app.footer(k_footer);
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", version_text(),
                         "Print the version and the libcurl/TLS versions");
    auto& g = ctx.global;
    app.add_option("--base-url", g.base_url, "Xata API address [env XATA_API_BASE_URL]");
    app.add_option("--org", g.organization,
                   "Organization id [env XATA_ORGANIZATION_ID, XATA_ORGANIZATIONID, XATA_ORG_ID]");
    app.add_option("--project", g.project, "Project id [env XATA_PROJECT_ID, XATA_PROJECTID]");
    app.add_option(
        "--cacert", g.cacert,
        "CA bundle to verify the API's TLS certificate [env CURL_CA_BUNDLE, SSL_CERT_FILE]");
    app.add_option("--connect-timeout", g.connect_timeout,
                   "How long to wait for a connection, 1ms to 24h (10s, 1500ms, bare seconds; "
                   "default 10s)");
    app.add_option("--request-timeout", g.request_timeout,
                   "How long one API request may take, 1ms to 24h (default 30s)");
    app.add_flag("--allow-insecure-http", g.allow_insecure_http,
                 "Allow a plain http:// base URL to a host that is not loopback (sends the API "
                 "key unencrypted)");
    app.add_flag("-v,--verbose", verbose,
                 "More detail: requests, timings, where each setting came from (-vv: more)");
    app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
    app.add_option("--log-format", g.log_format,
                   "Log lines as text or json [env XBRANCH_LOG_FORMAT]");
    app.add_flag("--no-color", g.no_color, "No colours [env NO_COLOR]");
}

// Parses argv; returns an exit code when parsing alone ends the run (help,
// version), throws Error(Usage) for a parse error.
std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        throw Error(ErrorKind::Usage, e.what())
            .with_hint("run `xbranch --help` for the commands and flags");
    }
    return std::nullopt;
}

// Logging, colour and verbosity from the parsed flags and the settings table.
void configure_output(Context& ctx, int verbose, bool quiet) {
    const Environment& env = *ctx.env;
    const Setting format = resolve(SettingId::LogFormat, env, ctx.global.log_format);
    const bool no_color =
        !resolve(SettingId::NoColor, env,
                 ctx.global.no_color ? std::optional<std::string>("1") : std::nullopt)
             .empty();
    const Setting term = resolve(SettingId::Term, env);
    ctx.global.verbosity = quiet ? -1 : verbose;
    ctx.global.log_format = format.value;
    ctx.color = ctx.stderr_is_tty && !no_color && term.value != "dumb";
    setup_logging(ctx.global.verbosity, format.value == "json" ? LogFormat::Json : LogFormat::Text);
}

int run_command(const std::vector<Command>& commands) {
    for (const auto& c : commands) {
        if (c.app->parsed()) {
            const int rc = c.run();
            finish_stdout();
            return rc;
        }
    }
    throw Error(ErrorKind::Usage, "no command given").with_hint("run `xbranch --help`");
}

}  // namespace

int run(int argc, char** argv) {
    ProcessEnvironment env;
    // Static: the signal handler may still reach them while the process exits.
    static CancelToken run_token;
    static CancelToken cleanup_token;
    Context ctx;
    ctx.env = &env;
    ctx.cancel = &run_token;
    ctx.cleanup_cancel = &cleanup_token;
    ctx.stdout_is_tty = isatty(STDOUT_FILENO) != 0;
    ctx.stderr_is_tty = isatty(STDERR_FILENO) != 0;

    CLI::App app{
        "xbranch: a Xata Postgres branch for every Signadot sandbox.\n"
        "Creates (or adopts) a copy-on-write branch of a parent branch, waits until it\n"
        "is usable, and hands over its connection string; deletes it afterwards.",
        "xbranch"};
    int verbose = 0;
    bool quiet = false;
    add_global_options(app, ctx, verbose, quiet);
    std::vector<Command> commands = {add_create(app, ctx), add_status(app, ctx), add_url(app, ctx),
                                     add_delete(app, ctx), add_list(app, ctx),   add_gc(app, ctx),
                                     add_run(app, ctx),    add_reset(app, ctx)};

    // Errors before the flags are parsed already follow --log-format.
    setup_logging(0, early_json_logs(argc, argv, env) ? LogFormat::Json : LogFormat::Text);
    try {
        if (auto done = parse_args(app, argc, argv)) {
            return *done;
        }
        configure_output(ctx, verbose, quiet);
        install_signal_tokens(run_token, cleanup_token);
        prepare_stdout();
        return run_command(commands);
    } catch (const Error& e) {
        print_error(e);
        return exit_code(e.kind(), e.signal_number());
    } catch (const std::exception& e) {
        print_error(
            Error(ErrorKind::Internal, std::string("unexpected: ") + e.what())
                .with_hint("this is a bug in xbranch; please report it with the output of -v"));
        return exit_code(ErrorKind::Internal);
    }
}

}  // namespace xbranch::cli
