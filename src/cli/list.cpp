// xbranch list: the branches xbranch made (by prefix), with age, parent and status.
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "xbranch/error.hpp"
#include "xbranch/gc_policy.hpp"
#include "xbranch/naming.hpp"

namespace xbranch::cli {
namespace {

struct ListOptions {
    std::optional<std::string> prefix;
    bool all = false;
    bool no_status = false;
    std::string output = "text";
};

int run_list(const ListOptions& o, const Context& ctx) {
    IdentityFlags flags;
    flags.prefix = o.prefix;
    BranchTarget target = resolve_branch_target(flags, *ctx.env, false);
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    auto branches = session->client.list_branches();
    nlohmann::json rows = nlohmann::json::array();
    const long long now = now_unix();
    for (const auto& b : branches) {
        if (!o.all && b.name.rfind(target.prefix.value, 0) != 0) {
            continue;
        }
        std::string status = "-";
        nlohmann::json expires;  // from the tag, read by the same describe as the status
        if (!o.no_status) {
            try {
                const BranchDetails d = session->client.describe_branch(b.id);
                status = status_type_name(d.status.type);
                if (auto tag = decode_tag(d.branch.description); tag && tag->expires_at) {
                    expires = rfc3339_utc(*tag->expires_at);
                }
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::Interrupted) {
                    throw;  // Ctrl-C ends the listing (exit 130), not one row
                }
                status = "?";
            } catch (const std::exception&) {
                status = "?";
            }
        }
        const auto created = parse_timestamp(b.created_at);
        rows.push_back({{"name", b.name},
                        {"id", b.id},
                        {"parentID", b.parent_id ? nlohmann::json(*b.parent_id) : nlohmann::json()},
                        {"status", status},
                        {"createdAt", b.created_at},
                        {"ageSeconds", created ? now - *created : -1},
                        {"expiresAt", expires}});
    }
    if (o.output == "json") {
        std::cout << nlohmann::json{{"branches", rows}}.dump(2) << "\n";
        return 0;
    }
    std::printf("%-40s %-26s %-26s %-11s %-6s %s\n", "NAME", "ID", "PARENT", "STATUS", "AGE",
                "EXPIRES");
    for (const auto& r : rows) {
        const long long age = r["ageSeconds"].get<long long>();
        std::printf("%-40s %-26s %-26s %-11s %-6s %s\n", r["name"].get<std::string>().c_str(),
                    r["id"].get<std::string>().c_str(),
                    r["parentID"].is_null() ? "-" : r["parentID"].get<std::string>().c_str(),
                    r["status"].get<std::string>().c_str(),
                    age >= 0 ? format_age(age).c_str() : "?",
                    r["expiresAt"].is_null() ? "-" : r["expiresAt"].get<std::string>().c_str());
    }
    if (rows.empty()) {
        std::printf("(no branches%s)\n",
                    o.all ? "" : (" starting with '" + target.prefix.value + "'").c_str());
    }
    return 0;
}

}  // namespace

Command add_list(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<ListOptions>();
    CLI::App* app =
        root.add_subcommand("list", "List the branches xbranch made (names with the prefix)");
    app->add_option("--prefix", opts->prefix, "Prefix to match [env XBRANCH_PREFIX, default sb-]");
    app->add_flag("--all", opts->all, "List every branch of the project");
    app->add_flag("--no-status", opts->no_status,
                  "Skip the per-branch status lookup (one request instead of N+1)");
    app->add_option("--output,-o", opts->output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    return {app, [opts, &ctx] { return run_list(*opts, ctx); }};
}

}  // namespace xbranch::cli
