#include "app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

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
  XATA_ORGANIZATION_ID  organization id    XATA_PROJECT_ID  project id
  SIGNADOT_SANDBOX_NAME, SIGNADOT_SANDBOX_ID, SIGNADOT_RESOURCE_NAME  set by the Signadot operator

Exit codes:
  0 ok   2 usage/config   3 auth (401/403)   4 not found   5 conflict   6 timed out
  7 branch fault   8 API unavailable   9 local I/O   10 unexpected API answer   1 bug
  130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP)

Examples:
  xbranch create --sandbox my-feature --output-dir /outputs
  xbranch create --sandbox my-feature --parent staging --output json
  xbranch url --sandbox my-feature
  xbranch delete --sandbox my-feature
  xbranch gc --older-than 7d --dry-run

Run `xbranch COMMAND --help` for a command's flags.)TXT";

void print_error(const Error& e) {
    if (log_format() == LogFormat::Json) {
        std::string line =
            "{\"level\":\"error\",\"kind\":\"" + json_escape(kind_name(e.kind())) +
            "\",\"exitCode\":" + std::to_string(exit_code(e.kind(), e.signal_number())) +
            ",\"msg\":\"" + json_escape(e.describe()) + "\"";
        if (e.http_status()) {
            line += ",\"httpStatus\":" + std::to_string(*e.http_status());
        }
        if (!e.request_id().empty()) {
            line += ",\"requestId\":\"" + json_escape(e.request_id()) + "\"";
        }
        if (const std::string hint = hint_text(e); !hint.empty()) {
            line += ",\"hint\":\"" + json_escape(redact(hint)) + "\"";
        }
        if (e.cleanup() == CleanupState::Left) {
            line += ",\"leftBranchId\":\"" + json_escape(e.cleanup_branch_id()) + "\"";
        }
        std::cerr << line << "}\n";
        return;
    }
    std::cerr << "xbranch: error: " << e.describe() << "\n";
    if (const std::string hint = hint_text(e); !hint.empty()) {
        std::cerr << "hint: " << redact(hint) << "\n";
    }
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
    app.footer(k_footer);
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", version_text(),
                         "Print the version and the libcurl/TLS versions");

    int verbose = 0;
    bool quiet = false;
    std::string log_format_text = "text";
    app.add_option("--base-url", ctx.global.base_url, "Xata API address [env XATA_API_BASE_URL]");
    app.add_option("--org", ctx.global.organization,
                   "Organization id [env XATA_ORGANIZATION_ID, XATA_ORGANIZATIONID]");
    app.add_option("--project", ctx.global.project,
                   "Project id [env XATA_PROJECT_ID, XATA_PROJECTID]");
    app.add_option(
        "--cacert", ctx.global.cacert,
        "CA bundle to verify the API's TLS certificate [env CURL_CA_BUNDLE, SSL_CERT_FILE]");
    app.add_option("--connect-timeout", ctx.global.connect_timeout_s,
                   "Seconds to wait for a connection")
        ->capture_default_str();
    app.add_option("--request-timeout", ctx.global.request_timeout_s,
                   "Seconds one API request may take")
        ->capture_default_str();
    app.add_flag("-v,--verbose", verbose,
                 "More detail: requests, timings, where each setting came from (-vv: more)");
    app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
    app.add_option("--log-format", log_format_text,
                   "Log lines as text or json [env XBRANCH_LOG_FORMAT]")
        ->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--no-color", ctx.global.no_color, "No colours [env NO_COLOR]");

    std::vector<Command> commands = {add_create(app, ctx), add_status(app, ctx), add_url(app, ctx),
                                     add_delete(app, ctx), add_list(app, ctx),   add_gc(app, ctx)};

    // Errors before logging is configured still reach stderr in plain text.
    setup_logging(0, LogFormat::Text);
    try {
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
        if (!app.get_option("--log-format")->count()) {
            if (auto v = env.get("XBRANCH_LOG_FORMAT"); v && (*v == "json" || *v == "text")) {
                log_format_text = *v;
            }
        }
        ctx.global.verbosity = quiet ? -1 : verbose;
        ctx.global.log_format = log_format_text;
        ctx.color = ctx.stderr_is_tty && !ctx.global.no_color && !env.get("NO_COLOR") &&
                    env.get("TERM").value_or("") != "dumb";
        setup_logging(ctx.global.verbosity,
                      log_format_text == "json" ? LogFormat::Json : LogFormat::Text);
        install_signal_tokens(run_token, cleanup_token);

        for (auto& c : commands) {
            if (c.app->parsed()) {
                return c.run();
            }
        }
        throw Error(ErrorKind::Usage, "no command given").with_hint("run `xbranch --help`");
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
