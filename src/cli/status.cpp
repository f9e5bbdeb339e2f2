// xbranch status: what the API says about the sandbox's branch.
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "xbranch/gc_policy.hpp"

namespace xbranch::cli {
namespace {

struct StatusOptions {
    IdentityFlags identity;
    std::string output = "text";
};

int run_status(const StatusOptions& o, const Context& ctx) {
    BranchTarget target =
        resolve_branch_target(o.identity, *ctx.env, o.identity.branch_id.value_or("").empty());
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    BranchDetails d = locate_branch(session->client, target);
    const auto created = parse_timestamp(d.branch.created_at);
    const long long age = created ? now_unix() - *created : -1;
    const auto tag = decode_tag(d.branch.description);
    const std::string expires = tag && tag->expires_at ? rfc3339_utc(*tag->expires_at) : "";
    if (o.output == "json") {
        nlohmann::json j = {{"name", d.branch.name},
                            {"id", d.branch.id},
                            {"parentID", d.branch.parent_id ? nlohmann::json(*d.branch.parent_id)
                                                            : nlohmann::json()},
                            {"region", d.branch.region},
                            {"status", status_type_name(d.status.type)},
                            {"phase", d.status.phase},
                            {"instances", d.status.instance_count},
                            {"readyInstances", d.status.instance_ready_count},
                            {"createdAt", d.branch.created_at},
                            {"ageSeconds", age}};
        j["expiresAt"] = expires.empty() ? nlohmann::json() : nlohmann::json(expires);
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << "branch     " << d.branch.name << "\n"
              << "id         " << d.branch.id << "\n"
              << "parent     " << d.branch.parent_id.value_or("(none)") << "\n"
              << "status     " << status_type_name(d.status.type)
              << (d.status.phase.empty() ? "" : " (" + d.status.phase + ")") << "\n"
              << "instances  " << d.status.instance_ready_count << "/" << d.status.instance_count
              << " ready\n"
              << "region     " << d.branch.region << "\n"
              << "age        " << (age >= 0 ? format_age(age) : "unknown") << "\n"
              << "expires    " << (expires.empty() ? "never" : expires) << "\n";
    return 0;
}

}  // namespace

Command add_status(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<StatusOptions>();
    CLI::App* app = root.add_subcommand(
        "status", "Show the sandbox's branch: id, parent, phase, instances, age");
    add_identity_flags(*app, opts->identity, /*with_branch_id=*/true);
    app->add_option("--output,-o", opts->output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    app->footer(R"TXT(Examples:
  xbranch status --sandbox my-feature
  xbranch status --branch-id e80atan1sl5khdkr8pkc33fovk --output json)TXT");
    return {app, [opts, &ctx] { return run_status(*opts, ctx); }};
}

}  // namespace xbranch::cli
