// The command line: one file per subcommand, registered in app.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "exit_codes.hpp"
#include "settings.hpp"
#include "xbranch/config.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/curl_transport.hpp"
#include "xbranch/lifecycle.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/signadot_client.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch::cli {

int run(int argc, char** argv);

// What every command gets: the global flags and the environment.
struct Context {
    GlobalFlags global;
    const Environment* env = nullptr;
    bool stdout_is_tty = false;
    bool stderr_is_tty = false;
    bool color = false;
    // The run's token (the first SIGINT/SIGTERM/SIGHUP) and the cleanup's (any
    // further one); set before a command runs, never null then.
    CancelToken* cancel = nullptr;
    CancelToken* cleanup_cancel = nullptr;

    RunControl run_control() const { return {cancel, cleanup_cancel}; }
};

// A registered subcommand: its CLI11 node and what to run when it was chosen.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command add_create(CLI::App& root, Context& ctx);
Command add_delete(CLI::App& root, Context& ctx);
Command add_status(CLI::App& root, Context& ctx);
Command add_url(CLI::App& root, Context& ctx);
Command add_list(CLI::App& root, Context& ctx);
Command add_gc(CLI::App& root, Context& ctx);
Command add_run(CLI::App& root, Context& ctx);
Command add_reset(CLI::App& root, Context& ctx);
Command add_diff(CLI::App& root, Context& ctx);
Command add_shell(CLI::App& root, Context& ctx);

// The API connection of one run: config, one libcurl handle, the client.
struct Session {
    ApiSettings config;
    SystemClock clock;
    CurlTransport transport;
    XataClient client;
    Limits limits;  // the run's token: what a command's calls use unless it bounds them more

    Session(ApiSettings cfg, TransportOptions options);
};
std::unique_ptr<Session> open_session(const Context& ctx);

// --sandbox, --sandbox-id, --resource, --prefix, --branch, [--branch-id], --parent
void add_identity_flags(CLI::App& app, IdentityFlags& flags, bool with_branch_id);

// --sslmode, --endpoint and --database, shared by create, run, reset and url.
struct ConnectionFlags {
    std::optional<std::string> sslmode;
    std::string endpoint = "rw";
    std::optional<std::string> database;
};
void add_connection_flags(CLI::App& app, ConnectionFlags& flags);

struct ConnectionChoice {
    Endpoint endpoint = Endpoint::ReadWrite;
    std::string sslmode;   // empty: leave the parameter out
    std::string database;  // empty: the credentials' dbname, else xata
};
// Throws Error(Usage) for an unknown sslmode (flag or XBRANCH_SSLMODE).
ConnectionChoice resolve_connection(const ConnectionFlags& flags, const Environment& env);

// What url and shell connect to: the branch the flags point at and its
// connection details. Resolves the target and the connection flags, looks
// the branch up, refuses a root branch (no parent: usually production)
// unless `force` (a Conflict, with `force_hint` saying what --force does), asks
// for the credentials once and applies --database.
struct BranchConnection {
    BranchDetails details;
    ConnectionInfo info;
};
BranchConnection connect_to_branch(const IdentityFlags& identity, const ConnectionFlags& connection,
                                   bool force, const std::string& force_hint, const Context& ctx);

// Logs "name = value (origin)" for every setting at debug level (-v),
// secrets masked. `api` and `target` are what this command resolved.
void log_settings(const ApiSettings& api, const BranchTarget* target);

// What create hands over, as the plain values outputs.hpp takes.
OutputValues output_values(const CreateResult& result);

// A closed pipe on stdout must be an error we report, not SIGPIPE.
void prepare_stdout();
// Flushes stdout; throws Error(Io) when anything written there was lost
// (full disk, closed pipe), so a lost result is never exit 0.
void finish_stdout();

std::string version_text();

std::string format_age(long long seconds);

}  // namespace xbranch::cli

namespace xbranch::cli {
// The branch a command points at: by --branch-id, else by name. Throws
// NotFound when there is none.
BranchDetails locate_branch(XataClient& client, const BranchTarget& target, const Limits& limits);
long long now_unix();
// SIGNADOT_API_KEY (registered as a secret), SIGNADOT_ORG and
// SIGNADOT_API_URL for gc --orphans; throws Error(Usage) naming what is unset.
SignadotTarget signadot_target_from_env(const Environment& env);
}  // namespace xbranch::cli
