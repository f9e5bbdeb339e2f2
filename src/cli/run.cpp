// xbranch run: a throwaway branch for one command, deleted when it ends.
#include <spdlog/spdlog.h>

#include <iostream>

#include "app.hpp"
#include "create_flags.hpp"
#include "xbranch/error.hpp"
#include "xbranch/hooks.hpp"
#include "xbranch/run_end.hpp"

namespace xbranch::cli {
namespace {

struct RunCommandOptions {
    CreateFlags create;
    bool keep = false;
    std::vector<std::string> argv;
};

int run_run(RunCommandOptions o, const Context& ctx) {
    // Only a name the user gave: SIGNADOT_SANDBOX_NAME alone must not make
    // run use (and then delete) the sandbox's own branch.
    if (!o.create.identity.sandbox && !o.create.identity.branch) {
        o.create.identity.branch = random_run_branch_name();
    }
    auto run = start_create_run(o.create, ctx, std::nullopt);
    const CreateResult result = run->create();
    const Branch branch = result.branch;
    // Only a branch this run made is thrown away; an adopted one is someone's.
    const bool delete_after = !o.keep && result.created_by_us;
    if (!result.created_by_us && !o.keep) {
        spdlog::warn("branch {} (id {}) already existed; it is used and kept", branch.name,
                     branch.id);
    }
    // delete wants --force for a name without the prefix (run-... has none).
    const std::string delete_command =
        "xbranch delete --branch-id " + branch.id +
        (branch.name.rfind(run->target.prefix.value, 0) == 0 ? "" : " --force");

    // Static: the handler may still reach it while the process exits.
    static ChildSignals child;
    if (!ctx.cancel->cancelled()) {
        spdlog::info("running {} on branch {} (id {})", o.argv.front(), branch.name, branch.id);
    }
    const RunChild cmd =
        run_child(run->edges.processes, o.argv,
                  hook_environment(result.connection, branch.name, branch.id, run->request.parent),
                  *ctx.cancel, child);
    if (cmd.result && cmd.result->outcome == ProcessResult::Outcome::FailedToStart) {
        std::cerr << "xbranch: error: " << printable(o.argv.front() + ": " + cmd.result->describe())
                  << "\n";
    } else if (cmd.result) {
        spdlog::info("{} ended: {}", o.argv.front(), cmd.result->describe());
    }
    // A fresh budget: the signals CMD got were its own (run_child).
    const RunEnd end =
        end_run(cmd.status, delete_after, [&] { return run->lifecycle->discard(branch); });
    if (o.keep) {
        std::cerr << "Kept branch " << branch.name << " (id " << branch.id
                  << "); delete it with: " << delete_command << "\n";
    } else if (delete_after && !end.left_by) {
        spdlog::info("deleted branch {} (id {})", branch.name, branch.id);
    } else if (end.left_by) {
        std::cerr << "xbranch: error: could not delete branch " << branch.name << " (id "
                  << branch.id << "): " << end.left_by->describe()
                  << "; it is left. Delete it with: " << delete_command << "\n";
    }
    if (end.left_by && end.exit_status != cmd.status) {
        std::cerr << "xbranch: " << escape_input(o.argv.front())
                  << " succeeded, but its branch is left: exit " << end.exit_status << " ("
                  << kind_name(end.left_by->kind()) << ")\n";
    }
    return end.exit_status;
}

}  // namespace

Command add_run(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<RunCommandOptions>();
    CLI::App* app = root.add_subcommand(
        "run", "Run one command on a throwaway branch (created, used, deleted)");
    add_create_flags(*app, opts->create,
                     "Time limit for creating the branch: every request, retry, the wait for "
                     "readiness and the connection check (not the command's run time)");
    app->add_flag("--keep", opts->keep, "Keep the branch after the command ends");
    app->add_option("command", opts->argv, "The command and its arguments, after --")->required();
    app->footer(
        std::string(k_hooks_help) + "\n\n" +
        R"TXT(run creates a branch (named run-<8 random characters> unless --sandbox or --branch
names one), waits until it is usable, runs the hooks, then runs CMD with the terminal's
stdin/stdout/stderr and DATABASE_URL, PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD,
PGSSLMODE, XBRANCH_BRANCH_NAME, XBRANCH_BRANCH_ID and XBRANCH_PARENT set. Afterwards it
deletes the branch (unless --keep, which prints the command that deletes it; a branch that existed
before is never deleted).
SIGINT, SIGTERM and SIGHUP are passed on to CMD; a CMD still running 10 s after a
SIGTERM or SIGHUP gets SIGKILL (Ctrl-C is left to CMD). Signals that came while CMD ran
were CMD's: however many, the delete afterwards gets its own ~10 s. A signal after CMD
ended does not stop the delete, a second one does. A delete that cannot finish names
the branch id left and the command that deletes it.

Exit status: CMD's; 128+N when CMD was killed by signal N; 127 when CMD could not
start; xbranch's own codes (see `xbranch --help`) when the branch could not be made.
When CMD succeeded but its branch could not be deleted: the delete's code (e.g. 8 API
unavailable, 6 out of time, 130 a second Ctrl-C), never 0; when CMD failed, its status.

Examples:
  xbranch run -- sh -c 'psql -X -c "select 1" "$DATABASE_URL"'
  xbranch run --sql schema.sql -- ./migrate --dry-run
  xbranch run --parent staging --timeout 2m -- sh -c 'pytest tests/integration'
  xbranch run --keep -- ./seed.sh      # the branch stays; stderr says how to delete it)TXT");
    return {app, [opts, &ctx] { return run_run(*opts, ctx); }};
}

}  // namespace xbranch::cli
