// xbranch shell: psql on the sandbox's branch, the password only in psql's
// environment.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "app.hpp"
#include "xbranch/cancel.hpp"
#include "xbranch/error.hpp"
#include "xbranch/psql.hpp"

namespace xbranch::cli {
namespace {

// What `xbranch shell` exits with when no psql is on PATH (a shell's
// "command not found").
constexpr int k_no_psql_status = 127;

struct ShellOptions {
    IdentityFlags identity;
    ConnectionFlags connection;
    bool force = false;
    std::string psql = "psql";
    std::vector<std::string> psql_args;
};

// The runner the signal handler forwards to; set only while psql may run.
std::atomic<ProcessRunner*> g_psql_runner{nullptr};

// SIGTERM and SIGHUP go on to psql; SIGINT does not: a terminal's Ctrl-C
// reaches psql in our process group already (it cancels the query or clears
// the line), and xbranch itself only waits for psql.
extern "C" void forward_to_psql(int sig) {
    if (sig == SIGINT) {
        return;
    }
    if (ProcessRunner* runner = g_psql_runner.load(); runner != nullptr) {
        runner->forward_signal(sig);
    }
}

int run_shell(const ShellOptions& o, const Context& ctx) {
    // Before any request: without psql there is nothing to connect.
    const std::string path = ctx.env->get("PATH").value_or("/usr/bin:/bin");
    const std::optional<std::string> psql = find_executable(o.psql, path);
    if (!psql) {
        std::cerr << "xbranch: error: " << printable(quote_input(o.psql))
                  << " not found on PATH (exit " << k_no_psql_status << ")\n"
                  << "hint: install the PostgreSQL client (Debian/Ubuntu: apt-get install "
                     "postgresql-client), or name it with --psql PATH\n";
        return k_no_psql_status;
    }
    const BranchConnection c = connect_to_branch(
        o.identity, o.connection, o.force,
        "it is usually the production database; pass --force to open it anyway", ctx);
    const BranchDetails& d = c.details;
    const ConnectionInfo& info = c.info;
    const ClientCommand cmd = psql_command(*psql, info, o.psql_args);
    spdlog::info("psql on branch {} (id {}): {}:{}/{} as {}", d.branch.name, d.branch.id, info.host,
                 info.port, info.database, info.username);

    PosixProcessRunner runner;
    // Static: the handler may still reach it while the process exits.
    static ChildSignals child;
    g_psql_runner.store(&runner);
    set_signal_forwarder(forward_to_psql, &child);
    ProcessResult r;
    if (ctx.cancel->cancelled()) {
        r.outcome = ProcessResult::Outcome::Signaled;
        r.signal = ctx.cancel->signal_number();
    } else {
        RunOptions run_options;
        run_options.env = cmd.env;
        const CancelToken* ending = &child.end;
        run_options.cancel = ending;
        r = runner.run_foreground(cmd.argv, run_options);
    }
    set_signal_forwarder(nullptr, nullptr);
    g_psql_runner.store(nullptr);
    if (r.outcome == ProcessResult::Outcome::FailedToStart) {
        std::cerr << "xbranch: error: " << printable(*psql + ": " + r.describe()) << "\n";
    } else {
        spdlog::info("psql ended: {}", r.describe());
    }
    return r.shell_status();
}

}  // namespace

Command add_shell(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<ShellOptions>();
    CLI::App* app = root.add_subcommand(
        "shell", "Open psql on the sandbox's branch (arguments after -- go to psql)");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    add_connection_flags(*app, opts->connection);
    app->add_flag("--force", opts->force,
                  "Also open a root branch (one without a parent, usually production)");
    app->add_option("--psql", opts->psql, "The psql to run (a name looked up in PATH, or a path)")
        ->capture_default_str();
    app->add_option("psql_args", opts->psql_args, "Arguments for psql, after --");
    app->footer(
        R"TXT(shell runs psql on the branch, with the terminal's stdin/stdout/stderr. The
connection goes to psql as --dbname='host=... port=... dbname=... user=... sslmode=...'
without the password, which psql gets in its own environment (PGPASSWORD) only:
it is never on a command line, so `ps` and /proc/PID/cmdline do not show it.
Ctrl-C goes to psql (it cancels the query or clears the line); SIGTERM and SIGHUP
sent to xbranch are passed on to psql.

Exit status: psql's once it started (128+N when it was killed by signal N);
127 when no psql is on PATH (install the postgresql-client package); xbranch's
own codes (see `xbranch --help`) when the branch or its credentials could not be had.

Examples:
  xbranch shell --sandbox my-feature
  xbranch shell --sandbox my-feature -- -X -c 'select count(*) from users'
  xbranch shell --sandbox my-feature --endpoint ro -- -f report.sql)TXT");
    return {app, [opts, &ctx] { return run_shell(*opts, ctx); }};
}

}  // namespace xbranch::cli
