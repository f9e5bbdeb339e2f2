#include "app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <vector>

#include "hints.hpp"
#include "suggest.hpp"
#include "xbranch/cancel.hpp"
#include "xbranch/error.hpp"
#include "xbranch/log.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::cli {
namespace {

constexpr const char* k_environment_help = R"TXT(Environment:
  XATA_API_KEY          API key (required; read only from the environment, never printed)
  XATA_API_BASE_URL     API address (default https://api.xata.tech)
  XATA_ORGANIZATION_ID  organization id (also XATA_ORG_ID)    XATA_PROJECT_ID  project id
  XBRANCH_SSLMODE, XBRANCH_PREFIX, XBRANCH_LOG_FORMAT, NO_COLOR  see the flags; -v shows each
                        setting's value and where it came from
  SIGNADOT_SANDBOX_NAME, SIGNADOT_SANDBOX_ID, SIGNADOT_RESOURCE_NAME  set by the Signadot operator)TXT";

constexpr const char* k_examples_help = R"TXT(Examples:
  xbranch create --sandbox my-feature --output-dir /outputs
  xbranch create --sandbox my-feature --parent staging --output json
  xbranch url --sandbox my-feature
  xbranch delete --sandbox my-feature
  xbranch gc --older-than 7d --dry-run
  xbranch run --timeout 2m -- ./smoke-test.sh    # a throwaway branch for one command
  xbranch reset --sandbox my-feature             # the branch afresh from its parent
  xbranch shell --sandbox my-feature             # psql on the branch

Run `xbranch COMMAND --help` for a command's flags.)TXT";

// Every command's help ends with the exit codes it can return.
void add_exit_code_footers(CLI::App& root, const std::vector<Command>& commands) {
    root.footer(std::string(k_environment_help) + "\n\n" + exit_codes_help({}) + "\n\n" +
                k_examples_help);
    for (const auto& c : commands) {
        const std::string own = c.app->get_footer();
        c.app->footer((own.empty() ? std::string() : own + "\n\n") +
                      exit_codes_help(c.app->get_name()));
    }
}

// Every error is printed here: redacted, and printable (the message may
// quote an API body or a libpq message with ESC sequences in it).
void print_error(const Error& e) {
    const std::string message = printable(e.describe());
    const std::string hint = printable(redact(hint_text(e)));
    if (log_format() == LogFormat::Json) {
        nlohmann::ordered_json line = {{"time", log_time_now()},
                                       {"level", "error"},
                                       {"kind", kind_name(e.kind())},
                                       {"exitCode", exit_code(e.kind(), e.signal_number())},
                                       {"msg", message}};
        if (e.http_status()) {
            line["httpStatus"] = *e.http_status();
        }
        if (!e.request_id().empty()) {
            line["requestId"] = printable(redact(e.request_id()));
        }
        if (!hint.empty()) {
            line["hint"] = hint;
        }
        if (e.cleanup() == CleanupState::Left) {
            line["leftBranchId"] = e.cleanup_branch_id();
        }
        std::cerr << json_line(line) << "\n";
        return;
    }
    std::cerr << "xbranch: error: " << message << "\n";
    if (!hint.empty()) {
        std::cerr << "hint: " << hint << "\n";
    }
}

// The global options; values land in ctx.global (and the two locals).
void add_global_options(CLI::App& app, Context& ctx, int& verbose, bool& quiet) {
    app.require_subcommand(1);
    app.fallthrough();
    app.set_version_flag("--version", version_text(),
                         "Print the version and the libcurl/TLS versions");
    auto& g = ctx.global;
    using Id = SettingId;
    app.add_option("--base-url", g.base_url,
                   setting_help("Xata API address", "--base-url", {Id::BaseUrl}));
    app.add_option("--org", g.organization,
                   setting_help("Organization id", "--org", {Id::Organization}));
    app.add_option("--project", g.project, setting_help("Project id", "--project", {Id::Project}));
    app.add_option(
        "--cacert", g.cacert,
        setting_help("CA bundle to verify the API's TLS certificate", "--cacert", {Id::CaCert}));
    app.add_option("--connect-timeout", g.connect_timeout,
                   setting_help("How long to wait for a connection, 1ms to 24h (10s, 1500ms, "
                                "bare seconds)",
                                "--connect-timeout", {Id::ConnectTimeout}));
    app.add_option("--request-timeout", g.request_timeout,
                   setting_help("How long one API request may take, 1ms to 24h",
                                "--request-timeout", {Id::RequestTimeout}));
    app.add_flag("--allow-insecure-http", g.allow_insecure_http,
                 "Allow a plain http:// base URL to a host that is not loopback (sends the API "
                 "key unencrypted)");
    app.add_flag("-v,--verbose", verbose,
                 "More detail: requests, timings, where each setting came from (-vv: more)");
    app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
    app.add_option("--log-format", g.log_format,
                   setting_help("Log lines as text or json", "--log-format", {Id::LogFormat}));
    app.add_flag("--no-color", g.no_color,
                 setting_help("No colours", "--no-color", {Id::NoColor, Id::Term}));
}

bool has_option(const CLI::App& app, const std::string& name) {
    for (const CLI::Option* o : app.get_options()) {
        if (o->check_name(name)) {
            return true;
        }
    }
    return false;
}

// The commands (other than `chosen`) that have the flag `name`.
std::string commands_with(const CLI::App& root, const CLI::App* chosen, const std::string& name) {
    std::string out;
    for (const CLI::App* sub : root.get_subcommands({})) {
        if (sub == chosen) {
            continue;
        }
        for (const CLI::Option* o : sub->get_options()) {
            if (o->check_name(name)) {
                out += (out.empty() ? "" : ", ") + sub->get_name();
                break;
            }
        }
    }
    return out;
}

// Every name of every option of `app` ("--sandbox", "-o", "--output").
void add_flag_names(const CLI::App& app, std::vector<std::string>& out) {
    for (const CLI::Option* o : app.get_options()) {
        for (const auto& name : o->get_snames()) {
            out.push_back("-" + name);
        }
        for (const auto& name : o->get_lnames()) {
            out.push_back("--" + name);
        }
    }
}

// The flags `chosen` takes: its own and the global ones (they fall through).
std::vector<std::string> known_flags(const CLI::App& root, const CLI::App* chosen) {
    std::vector<std::string> out;
    if (chosen != nullptr) {
        add_flag_names(*chosen, out);
    }
    add_flag_names(root, out);
    return out;
}

// CLI11 says "A subcommand is required" for a mistyped command too: name
// the first word that is not a global flag or its value, and the nearest
// command. Errors only; argv parsed fine up to the missing command.
Error command_error(const CLI::App& root, int argc, char** argv) {
    std::vector<std::string> commands;
    std::string listed;
    for (const CLI::App* sub : root.get_subcommands({})) {
        commands.push_back(sub->get_name());
        listed += (listed.empty() ? "" : ", ") + sub->get_name();
    }
    const std::string hint = "the commands are " + listed + "; run `xbranch --help`";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") {
            break;
        }
        if (arg.size() > 1 && arg[0] == '-') {
            const std::string name = arg.substr(0, arg.find('='));
            const CLI::Option* o = nullptr;
            for (const CLI::Option* candidate : root.get_options()) {
                if (candidate->check_name(name)) {
                    o = candidate;
                }
            }
            if (o == nullptr) {
                // Not a global flag: a command's flag before any command, or a typo.
                const std::string others = commands_with(root, nullptr, name);
                if (!others.empty()) {
                    std::string message = quote_input(name);
                    message += " is a flag of ";
                    message += others;
                    message += ": give the command first";
                    std::string example = "e.g. `xbranch ";
                    example += others.substr(0, others.find(','));
                    example += " ";
                    example += name;
                    example += " ...`; ";
                    example += hint;
                    return Error(ErrorKind::Usage, message).with_hint(example);
                }
                return Error(ErrorKind::Usage, "unknown flag " + quote_input(name) +
                                                   did_you_mean(name, known_flags(root, nullptr)))
                    .with_hint(hint);
            }
            if (o->get_expected_min() > 0 && name == arg) {
                ++i;  // the flag's value
            }
            continue;
        }
        return Error(ErrorKind::Usage,
                     "unknown command " + quote_input(arg) + did_you_mean(arg, commands))
            .with_hint(hint);
    }
    return Error(ErrorKind::Usage, "no command given").with_hint(hint);
}

// CLI11 says "The following argument was not expected" for any flag the
// chosen command lacks: say which flag, and where it belongs. Global flags
// are taken before or after the command (fallthrough), so they never land here.
Error extras_error(const CLI::App& root, const CLI::ExtrasError& e) {
    const CLI::App* chosen = nullptr;
    for (const CLI::App* sub : root.get_subcommands()) {
        chosen = sub;
    }
    const std::vector<std::string> extras = root.remaining(true);
    const std::string where = chosen != nullptr ? "xbranch " + chosen->get_name() : "xbranch";
    for (const std::string& arg : extras) {
        if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
            continue;
        }
        const std::string name = arg.substr(0, arg.find('='));
        const std::string others = commands_with(root, chosen, name);
        std::string message;
        if (chosen != nullptr && has_option(*chosen, name)) {
            // The command has it: it came before the command's name.
            Error out(ErrorKind::Usage, quote_input(name) + " is a flag of " + where +
                                            ": it goes after the command's name");
            std::string hint = "e.g. `" + where;
            hint += " " + name;
            hint += " ...`; only the global flags (see `xbranch --help`) may come first";
            out.with_hint(hint);
            return out;
        }
        if (others.empty()) {
            message = "unknown flag " + quote_input(name) + " for " + where +
                      did_you_mean(name, known_flags(root, chosen));
        } else {
            message = where + " has no flag " + quote_input(name);
            message += " (it is a flag of " + others + ")";
        }
        Error out(ErrorKind::Usage, message);
        out.with_hint("run `" + where + " --help` for its flags");
        return out;
    }
    return Error(ErrorKind::Usage, e.what())
        .with_hint("run `" + where + " --help` for the commands and flags");
}

// CLI11 reads `--name=` (nothing after the '=') as `--name` and takes the
// next argument as its value: `create --sandbox= --no-connect-check` made a
// branch named after the flag. Refused before parsing; what follows `--` is
// run's CMD and not xbranch's.
void refuse_empty_assignments(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") {
            return;
        }
        if (arg.size() > 3 && arg.substr(0, 2) == "--" && arg.find('=') == arg.size() - 1) {
            throw Error(ErrorKind::Usage, "the flag " + quote_input(arg.substr(0, arg.size() - 1)) +
                                              " has nothing after its '='")
                .with_hint(
                    "give it a value after the '=' (or as the next argument), or leave "
                    "the flag out");
        }
    }
}

// Parses argv; returns an exit code when parsing alone ends the run (help,
// version), throws Error(Usage) for a parse error.
std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
    refuse_empty_assignments(argc, argv);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ExtrasError& e) {
        throw extras_error(app, e);
    } catch (const CLI::RequiredError& e) {
        if (app.get_subcommands().empty()) {
            throw command_error(app, argc, argv);
        }
        throw Error(ErrorKind::Usage, e.what())
            .with_hint("run `xbranch --help` for the commands and flags");
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

    // Errors before the flags are parsed already follow --log-format.
    setup_logging(0, early_json_logs(argc, argv, env) ? LogFormat::Json : LogFormat::Text);
    try {
        CLI::App app{
            "xbranch: a Xata Postgres branch for every Signadot sandbox.\n"
            "Creates (or adopts) a copy-on-write branch of a parent branch, waits until it\n"
            "is usable, and hands over its connection string; deletes it afterwards.",
            "xbranch"};
        int verbose = 0;
        bool quiet = false;
        add_global_options(app, ctx, verbose, quiet);
        std::vector<Command> commands = {
            add_create(app, ctx), add_status(app, ctx), add_url(app, ctx), add_delete(app, ctx),
            add_list(app, ctx),   add_gc(app, ctx),     add_run(app, ctx), add_reset(app, ctx),
            add_diff(app, ctx),   add_shell(app, ctx)};
        add_exit_code_footers(app, commands);

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
