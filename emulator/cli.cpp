#include "cli.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>

#include "emulator.hpp"
#include "http_server.hpp"

namespace emu {

namespace {

constexpr const char* k_footer = R"(Admin API (no auth, test use only): GET /_emulator/health,
GET|DELETE /_emulator/requests, GET /_emulator/branches, GET|POST /_emulator/config,
GET|POST /_emulator/faults, POST /_emulator/next-behavior,
POST /_emulator/branches/{id}/behavior|mark-ready|password-lag. See docs/interfaces.md.

Password lag (PostgreSQL mode): with --password-lag-ms N a new child branch's role
first has another, random password; the served password starts to work N ms after the
branch first reports STATUS_TYPE_HEALTHY (a background ticker applies it, whether or not
requests arrive). Until then a login with the served password fails with SQLSTATE 28P01.
Per branch: POST /_emulator/branches/{id}/password-lag {"ms": N}; for new branches:
POST /_emulator/config {"passwordLagMs": N}.

Database names: each branch owns exactly one database, named
<db-prefix><sanitised branch name>_<branch id> (at most 63 bytes), and the credentials'
`dbname` is that name; no other database belongs to the branch, so connecting to any
other name (e.g. `xata` or `app`) fails with SQLSTATE 3D000.

The API key is also read from XATA_EMULATOR_API_KEY when --api-key is absent.)";

void add_flags(CLI::App& app, Options& o) {
    app.add_option("--host", o.host, "listen address (IPv4; localhost means 127.0.0.1)")
        ->capture_default_str();
    app.add_option("--port", o.port, "listen port; 0 picks a free one")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--port-file", o.port_file, "write the port there once listening");
    app.add_option("--api-key", o.api_key, "the bearer token that is accepted (required)")
        ->envname("XATA_EMULATOR_API_KEY");
    app.add_option("--readonly-key", o.readonly_key, "a token that gets 403 on writes");
    app.add_option("--org", o.org, "organization id")->capture_default_str();
    app.add_option("--project", o.project, "project id")->capture_default_str();
    app.add_option("--root-branch", o.root_branch, "name of the root branch made at start")
        ->capture_default_str();
    app.add_option("--pg", o.pg, "libpq conninfo of a superuser; absent: memory mode");
    app.add_option("--pg-public-host", o.pg_public_host, "host put in credentials");
    app.add_option("--pg-public-port", o.pg_public_port, "port put in credentials")
        ->check(CLI::Range(0, 65535));
    app.add_option("--db-prefix", o.db_prefix, "prefix of database and role names")
        ->capture_default_str();
    app.add_option("--seed-sql", o.seed_sql_file, "SQL run in the root database at start");
    app.add_option("--credentials-shape", o.credentials_shape,
                   "hosted (credentials with host/port/dbname, /limits served) or core "
                   "(username and password only, /limits 404)")
        ->check(CLI::IsMember({"hosted", "core"}))
        ->capture_default_str();
    app.add_option("--password-style", o.password_style,
                   "plain, or special (passwords hold @:/?#%&+ space and quotes)")
        ->check(CLI::IsMember({"plain", "special"}))
        ->capture_default_str();
    app.add_option("--hibernated-ms", o.hibernated_ms,
                   "a new branch reports HIBERNATED with 0 instances this long")
        ->check(CLI::Range(0L, k_max_ms))
        ->capture_default_str();
    app.add_option("--transient-ms", o.transient_ms, "then TRANSIENT this long, then HEALTHY")
        ->check(CLI::Range(0L, k_max_ms))
        ->capture_default_str();
    app.add_option("--password-lag-ms", o.password_lag_ms,
                   "PostgreSQL mode: the served password works only this long after HEALTHY")
        ->check(CLI::Range(0L, k_max_ms))
        ->capture_default_str();
    app.add_option("--max-branches", o.max_branches,
                   "active branches per project (400 `project [ID] has too many branches` "
                   "over it; maxBranchesPerProject in /limits)")
        ->check(CLI::Range(1L, k_max_count))
        ->capture_default_str();
    app.add_option("--max-branches-per-hour", o.max_branches_per_hour,
                   "creates in a rolling hour (403 over it; maxBranchesPerHour in /limits)")
        ->check(CLI::Range(1L, k_max_count))
        ->capture_default_str();
    app.add_flag_callback(
        "--private-branches", [&o] { o.public_access = false; },
        "new branches answer publicAccess: false (default true)");
    app.add_option("--seed", o.seed, "seed of the fault and rate-limit generators")
        ->capture_default_str();
    app.add_option("--fault-rate", o.fault_rate, "probability of a random fault per API call")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--latency-ms", o.latency_ms,
                   "answer every API call this much later (a far API's round trip)")
        ->check(CLI::Range(0L, k_max_ms))
        ->capture_default_str();
    app.add_option("--rate-limit", o.rate_limit, "API requests per second (429 above); 0: none")
        ->check(CLI::Range(0L, k_max_count))
        ->capture_default_str();
    app.add_flag("--drop-on-exit", o.drop_on_exit,
                 "drop the databases and roles it made when it stops");
    app.add_flag("--quiet", o.quiet, "no per-request line on stderr");
}

bool write_port_file(const std::string& path, std::uint16_t port) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp);
        f << port << "\n";
        if (!f) {
            return false;
        }
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

std::optional<int> parse_options(int argc, const char* const* argv, Options& opts,
                                 std::ostream& out, std::ostream& err) {
    CLI::App app("xata-emulator: a local Xata branch API for tests", "xata-emulator");
    app.footer(k_footer);
    add_flags(app, opts);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return 0;
    } catch (const CLI::ParseError& e) {
        err << "xata-emulator: " << e.what() << "\n";
        return 2;
    }
    if (opts.host == "localhost") {
        opts.host = "127.0.0.1";
    }
    if (opts.api_key.empty()) {
        err << "xata-emulator: --api-key is required\n";
        return 2;
    }
    return std::nullopt;
}

int run(int argc, const char* const* argv) {
    Options o;
    if (auto code = parse_options(argc, argv, o, std::cout, std::cerr)) {
        return *code;
    }

    // Signals are taken by sigwait below; every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Emulator emulator(o);
    std::string error;
    if (!emulator.init(error)) {
        std::cerr << "xata-emulator: " << error << "\n";
        return 1;
    }
    HttpServer server([&emulator](const HttpRequest& r) { return emulator.handle(r); });
    if (!server.listen(o.host, o.port, error)) {
        std::cerr << "xata-emulator: " << error << "\n";
        emulator.shutdown();
        return 1;
    }
    server.start();
    if (!o.port_file.empty() && !write_port_file(o.port_file, server.port())) {
        std::cerr << "xata-emulator: cannot write " << o.port_file << "\n";
    }
    std::cout << "xata-emulator listening on http://" << o.host << ":" << server.port()
              << std::endl;

    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "xata-emulator: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    server.stop();
    emulator.shutdown();
    std::cerr << "xata-emulator: stopped\n";
    return 0;
}

}  // namespace emu
