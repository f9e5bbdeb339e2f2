// The flags create, run and reset share, and what they turn into: one
// CreateRequest and the edges of the connection check and the hooks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "xbranch/db_probe.hpp"
#include "xbranch/lifecycle.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/process.hpp"
#include "xbranch/usable.hpp"

namespace xbranch::cli {

struct CreateFlags {
    IdentityFlags identity;
    std::string timeout = "10m";
    ConnectionFlags connection;
    bool keep_on_failure = false;
    std::string description;
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
void hand_over(const CreateResult& result, const OutputFlags& flags, bool keep_on_failure,
               Lifecycle& lifecycle, const Environment& env);

// The help text about hooks and reruns, for the commands' footers.
extern const char* const k_hooks_help;

}  // namespace xbranch::cli
