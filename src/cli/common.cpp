#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "app.hpp"
#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::cli {

Session::Session(ApiSettings cfg, TransportOptions options)
    : config(std::move(cfg)),
      transport(std::move(options)),
      client(transport, clock,
             ApiTarget{config.base_url.value, config.api_key.value, config.organization.value,
                       config.project.value}) {}

std::unique_ptr<Session> open_session(const Context& ctx) {
    ApiSettings cfg = resolve_api_config(ctx.global, *ctx.env);
    const ApiConfig plain = cfg.plain();
    TransportOptions options;
    options.connect_timeout = plain.connect_timeout;
    options.request_timeout = plain.request_timeout;
    options.ca_file = plain.ca_file;
    options.user_agent = "xbranch/" XBRANCH_VERSION;
    auto session = std::make_unique<Session>(std::move(cfg), std::move(options));
    session->limits = {ctx.cancel, {}, std::nullopt};  // every call stops on the run's token
    return session;
}

void add_identity_flags(CLI::App& app, IdentityFlags& f, bool with_branch_id) {
    using Id = SettingId;
    app.add_option("--sandbox", f.sandbox,
                   setting_help("Sandbox name", "--sandbox", {Id::Sandbox}));
    app.add_option(
        "--sandbox-id", f.sandbox_id,
        setting_help("Sandbox id, unique per sandbox instance", "--sandbox-id", {Id::SandboxId}));
    app.add_option("--resource", f.resource,
                   setting_help("Resource name in the sandbox spec", "--resource", {Id::Resource}));
    app.add_option("--prefix", f.prefix,
                   setting_help("Prefix of derived branch names", "--prefix", {Id::Prefix}));
    app.add_option("--branch", f.branch,
                   "Use this branch name instead of deriving one from the sandbox");
    if (with_branch_id) {
        app.add_option("--branch-id", f.branch_id,
                       "Work on the branch with this id (wins over names)");
    }
    app.add_option(
        "--parent", f.parent,
        setting_help("Parent branch name or id", "--parent", {Id::ParentId, Id::ParentName}));
}

void add_connection_flags(CLI::App& app, ConnectionFlags& flags) {
    app.add_option("--sslmode", flags.sslmode,
                   setting_help("sslmode of the connection string: disable, allow, prefer, "
                                "require, verify-ca, verify-full, or none to leave it out",
                                "--sslmode", {SettingId::SslMode}));
    app.add_option("--endpoint", flags.endpoint,
                   "rw (primary), ro (replicas only), r (primary or replica) or pooled_rw "
                   "(PgBouncer; also spelled pooler)")
        ->check(CLI::IsMember({"rw", "ro", "r", "pooled_rw", "pooler"}))
        ->capture_default_str();
    app.add_option("--database", flags.database,
                   setting_help("Database in the URL path", "--database", {SettingId::Database}));
}

ConnectionChoice resolve_connection(const ConnectionFlags& flags, const Environment& env) {
    ConnectionChoice c;
    const auto endpoint = parse_endpoint(flags.endpoint);
    if (!endpoint) {
        throw Error(ErrorKind::Usage, "invalid --endpoint " + quote_input(flags.endpoint) +
                                          ": use rw, ro, r or pooled_rw (pooler)");
    }
    c.endpoint = *endpoint;
    const std::string mode = resolve(SettingId::SslMode, env, flags.sslmode).value;
    c.sslmode = mode == "none" ? "" : mode;
    c.database = resolve(SettingId::Database, env, flags.database).value;
    return c;
}

BranchConnection connect_to_branch(const IdentityFlags& identity, const ConnectionFlags& connection,
                                   bool force, const std::string& force_hint, const Context& ctx) {
    const BranchTarget target =
        resolve_branch_target(identity, *ctx.env, identity.branch_id.value_or("").empty());
    const ConnectionChoice choice = resolve_connection(connection, *ctx.env);
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    BranchConnection out;
    out.details = locate_branch(session->client, target, session->limits);
    const Branch& branch = out.details.branch;
    if (!branch.parent_id && !force) {
        throw Error(ErrorKind::Conflict, "branch " + branch.name + " (id " + branch.id +
                                             ") is a root branch (it has no parent)")
            .with_hint(force_hint);
    }
    NullProgress progress;
    Lifecycle lifecycle(session->client, session->clock, progress, ctx.run_control());
    // No wait for a lagging password: one try, bounded by the run's token.
    out.info = lifecycle.connection_for(out.details, choice.endpoint, choice.sslmode, Deadline{},
                                        /*wait_for_lag=*/false);
    if (!choice.database.empty()) {
        out.info.database = choice.database;
    }
    return out;
}

// The API settings were resolved (and recorded) through the table; the
// parameter keeps the call sites saying what they resolved.
void log_settings(const ApiSettings& /*api*/, const BranchTarget* t) {
    if (t != nullptr) {
        spdlog::debug("config: branch = {} ({})", t->name.empty() ? "(unset)" : t->name.value,
                      t->name.origin);
        spdlog::debug("config: branch id = {} ({})",
                      t->branch_id.empty() ? "(unset)" : t->branch_id.value, t->branch_id.origin);
    }
    ProcessEnvironment env;
    for (const auto& line : describe_settings(env)) {
        spdlog::debug("config: {}", line);
    }
}

OutputValues output_values(const CreateResult& r) {
    OutputValues v;
    v.branch_name = r.branch.name;
    v.branch_id = r.branch.id;
    v.parent_id = r.parent_id;
    v.region = r.branch.region;
    v.status = status_type_name(r.status.type);
    v.adopted = r.adopted;
    v.connection = r.connection;
    v.pooled = r.pooled;
    return v;
}

void prepare_stdout() {
    std::signal(SIGPIPE, SIG_IGN);
}

void finish_stdout() {
    std::cout.flush();
    errno = 0;
    const bool flushed = std::fflush(stdout) == 0;
    const int err = errno;
    if (!flushed || std::ferror(stdout) != 0 || !std::cout) {
        throw Error(ErrorKind::Io, std::string("cannot write to standard output") +
                                       (err != 0 ? std::string(": ") + std::strerror(err) : ""))
            .with_hint("the result did not reach the reader; check the disk or the pipe");
    }
}

std::string version_text() {
    // CLI11 adds the final newline itself.
    return std::string("xbranch ") + XBRANCH_VERSION + "\n" + CurlTransport::library_version();
}

std::string format_age(long long seconds) {
    if (seconds < 0) {
        seconds = 0;
    }
    if (seconds < 120) {
        return std::to_string(seconds) + "s";
    }
    if (seconds < 7200) {
        return std::to_string(seconds / 60) + "m";
    }
    if (seconds < 172800) {
        return std::to_string(seconds / 3600) + "h";
    }
    return std::to_string(seconds / 86400) + "d";
}

}  // namespace xbranch::cli

#include <ctime>

#include "xbranch/error.hpp"

namespace xbranch::cli {

BranchDetails locate_branch(XataClient& client, const BranchTarget& target, const Limits& limits) {
    if (!target.branch_id.empty()) {
        return client.describe_branch(target.branch_id.value, limits);
    }
    auto found = client.find_branch_by_name(target.name.value, limits);
    if (!found) {
        throw Error(ErrorKind::NotFound, "no branch named " + quote_input(target.name.value))
            .with_operation("find branch")
            .with_hint(
                "create it with `xbranch create` using the same "
                "--sandbox/--sandbox-id/--resource/--prefix");
    }
    return client.describe_branch(found->id, limits);
}

long long now_unix() {
    return static_cast<long long>(std::time(nullptr));
}

// The Signadot settings, read from the environment in this one place.
SignadotTarget signadot_target_from_env(const Environment& env) {
    const Setting key = resolve(SettingId::SignadotApiKey, env);
    const Setting org = resolve(SettingId::SignadotOrg, env);
    const Setting url = resolve(SettingId::SignadotApiUrl, env);
    if (key.empty()) {
        throw Error(ErrorKind::Usage,
                    "SIGNADOT_API_KEY is not set: gc --orphans asks Signadot "
                    "which sandboxes are alive")
            .with_hint(
                "export SIGNADOT_API_KEY with a Signadot API key that can list sandboxes; "
                "it is read only from the environment, never printed");
    }
    register_secret(key.value);
    if (org.empty()) {
        throw Error(ErrorKind::Usage,
                    "SIGNADOT_ORG is not set: gc --orphans needs the Signadot "
                    "organization name");
    }
    return {url.value, key.value, org.value};
}

}  // namespace xbranch::cli
