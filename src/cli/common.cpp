#include <spdlog/spdlog.h>

#include "app.hpp"

namespace xbranch::cli {

Session::Session(ApiConfig cfg, TransportOptions options)
    : config(std::move(cfg)),
      transport(std::move(options)),
      client(transport, clock,
             ApiTarget{config.base_url.value, config.api_key.value, config.organization.value,
                       config.project.value}) {}

std::unique_ptr<Session> open_session(const Context& ctx) {
    ApiConfig cfg = resolve_api_config(ctx.global, *ctx.env);
    TransportOptions options;
    options.connect_timeout = cfg.connect_timeout;
    options.request_timeout = cfg.request_timeout;
    options.ca_file = cfg.cacert.value;
    options.user_agent = "xbranch/" XBRANCH_VERSION;
    auto session = std::make_unique<Session>(std::move(cfg), std::move(options));
    session->client.set_limits({ctx.cancel, {}, {}});  // every call stops on the run's token
    return session;
}

void add_identity_flags(CLI::App& app, IdentityFlags& f, bool with_branch_id) {
    app.add_option("--sandbox", f.sandbox, "Sandbox name [env SIGNADOT_SANDBOX_NAME]");
    app.add_option("--sandbox-id", f.sandbox_id,
                   "Sandbox id, unique per sandbox instance [env SIGNADOT_SANDBOX_ID, "
                   "SIGNADOT_SANDBOX_ROUTING_KEY]");
    app.add_option("--resource", f.resource,
                   "Resource name in the sandbox spec [env SIGNADOT_RESOURCE_NAME]");
    app.add_option("--prefix", f.prefix,
                   "Prefix of derived branch names [env XBRANCH_PREFIX, default sb-]");
    app.add_option("--branch", f.branch,
                   "Use this branch name instead of deriving one from the sandbox");
    if (with_branch_id) {
        app.add_option("--branch-id", f.branch_id,
                       "Work on the branch with this id (wins over names)");
    }
    app.add_option("--parent", f.parent,
                   "Parent branch name or id [env XATA_BRANCH_ID, XATA_BRANCH_NAME, default main]");
}

void log_settings(const ApiConfig& api, const BranchTarget* t) {
    std::vector<std::pair<std::string, Setting>> s = {
        {"api key", api.api_key}, {"base url", api.base_url}, {"organization", api.organization},
        {"project", api.project}, {"ca file", api.cacert},
    };
    if (t != nullptr) {
        s.insert(s.end(), {{"sandbox", t->sandbox},
                           {"sandbox id", t->sandbox_id},
                           {"resource", t->resource},
                           {"prefix", t->prefix},
                           {"branch", t->name},
                           {"branch id", t->branch_id},
                           {"parent", t->parent.setting}});
    }
    for (const auto& line : describe_settings(s)) {
        spdlog::debug("config: {}", line);
    }
}

std::string version_text() {
    return std::string("xbranch ") + XBRANCH_VERSION + "\n" + CurlTransport::library_version() +
           "\n";
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

BranchDetails locate_branch(XataClient& client, const BranchTarget& target) {
    if (!target.branch_id.empty()) {
        return client.describe_branch(target.branch_id.value);
    }
    auto found = client.find_branch_by_name(target.name.value);
    if (!found) {
        throw Error(ErrorKind::NotFound, "no branch named '" + target.name.value + "'")
            .with_operation("find branch")
            .with_hint(
                "create it with `xbranch create` using the same "
                "--sandbox/--sandbox-id/--resource/--prefix");
    }
    return client.describe_branch(found->id);
}

long long now_unix() {
    return static_cast<long long>(std::time(nullptr));
}

}  // namespace xbranch::cli
