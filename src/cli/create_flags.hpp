// The flags create, run and reset share, and what they turn into: one
// CreateRequest and the edges of the connection check and the hooks.
#pragma once

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/lifecycle.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/process.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/usable.hpp"

namespace xbranch::cli {

struct CreateFlags {
    IdentityFlags identity;
    std::string timeout = "10m";
    ConnectionFlags connection;
    bool keep_on_failure = false;
    std::optional<std::string> description;  // unset: none (reset: the old branch's note)
    std::optional<std::string> ttl;
    bool no_connect_check = false;
    std::vector<std::string> sql_files;
    std::vector<std::string> exec_commands;
};

// --sandbox.., --parent, --timeout, --sslmode, --endpoint, --database,
// --keep-on-failure, --description, --ttl, --no-connect-check, --sql, --exec.
void add_create_flags(CLI::App& app, CreateFlags& flags, const std::string& timeout_what);

// The real edges; `processes` is the one a signal may reach.
struct CreateEdges {
    PqProber prober;
    PqSqlRunner sql;
    PosixProcessRunner processes;
    PqHookLocker locker;
};
// Hook output goes to stderr, redacted, so stdout stays the result's.
UsableEdges usable_edges(CreateEdges& edges);

// Throws Error(Usage) for a bad --timeout or a --sql file it cannot read
// (before anything is created).
CreateRequest build_create_request(const CreateFlags& flags, const BranchTarget& target,
                                   const ConnectionChoice& connection);

// --output-dir, --output/-o, --show-secrets: where create and reset hand over.
struct OutputFlags {
    std::optional<std::string> output_dir;
    std::string output = "text";
    bool show_secrets = false;
};
void add_output_flags(CLI::App& app, OutputFlags& flags);
OutputFormat output_format(const OutputFlags& flags);

// Masks the secrets for GitHub, writes the --output-dir files atomically and
// the GitHub outputs. When that fails, deletes the branch this run created
// (unless keep_on_failure) and rethrows with the cleanup state set.
// `staged`, when given, holds the output files staged during the
// connection check (CreateRequest::on_connection): committed when they are
// still the files to write, else written afresh.
void hand_over(const CreateResult& result, const OutputFlags& flags, bool keep_on_failure,
               Lifecycle& lifecycle, const Environment& env,
               std::future<StagedOutputs>* staged = nullptr);

// What create, run and reset set up before their first request, in this
// order: the target, the request (bad flags or --sql files fail here, before
// anything exists), the session, the output folder's preflight, the
// progress display, the lifecycle with the real edges.
struct CreateRun {
    MadeFolders output_folders;  // removed again unless the outputs were handed over
    BranchTarget target;
    CreateRequest request;
    std::unique_ptr<Session> session;
    std::unique_ptr<Progress> progress;
    CreateEdges edges;
    std::unique_ptr<Lifecycle> lifecycle;

    // Runs `step` (lifecycle calls) and finishes the progress line whatever happens.
    template <typename Step>
    auto with_progress(Step step) -> decltype(step()) {
        try {
            auto r = step();
            progress->finish();
            return r;
        } catch (...) {
            progress->finish();
            throw;
        }
    }
    CreateResult create() {
        return with_progress([this] { return lifecycle->create(request); });
    }
};
std::unique_ptr<CreateRun> start_create_run(const CreateFlags& flags, const Context& ctx,
                                            const std::optional<std::string>& output_dir);

// The help text about hooks and reruns, for the commands' footers.
extern const char* const k_hooks_help;

}  // namespace xbranch::cli
