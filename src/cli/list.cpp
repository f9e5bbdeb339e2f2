// xbranch list: the branches xbranch made (by prefix), with age, parent and status.
#include "app.hpp"
#include "render.hpp"
#include "xbranch/error.hpp"
#include "xbranch/gc_policy.hpp"
#include "xbranch/naming.hpp"

namespace xbranch::cli {
namespace {

struct ListOptions {
    std::optional<std::string> prefix;
    bool all = false;
    bool no_status = false;
    std::size_t in_flight = k_describes_in_flight;
    std::string output = "text";
};

int run_list(const ListOptions& o, const Context& ctx) {
    IdentityFlags flags;
    flags.prefix = o.prefix;
    BranchTarget target = resolve_branch_target(flags, *ctx.env, false);
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    auto branches = session->client.list_branches(session->limits);
    std::vector<ListRow> rows;
    const long long now = now_unix();
    for (const auto& b : branches) {
        if (!o.all && b.name.rfind(target.prefix.value, 0) != 0) {
            continue;
        }
        ListRow row{b.name, b.id, b.parent_id, "-", b.created_at, -1, std::nullopt};
        if (const auto created = parse_timestamp(b.created_at)) {
            row.age_seconds = now - *created;
        }
        rows.push_back(std::move(row));
    }
    if (!o.no_status) {
        // The list answer has neither status nor description: the STATUS and
        // EXPIRES columns come from one describe per listed row, overlapped.
        // Ctrl-C ends the listing (exit 130); any other failure is that row's "?".
        std::vector<std::string> ids;
        ids.reserve(rows.size());
        for (const auto& r : rows) {
            ids.push_back(r.id);
        }
        const auto described = session->client.describe_branches(ids, session->limits, o.in_flight);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const DescribeResult& d = described[i];
            if (!d.ok()) {
                rows[i].status = "?";
                continue;
            }
            rows[i].status = status_type_name(d.details->status.type);
            if (auto tag = decode_tag(d.details->branch.description); tag && tag->expires_at) {
                rows[i].expires_at = rfc3339_utc(*tag->expires_at);
            }
        }
    }
    print_list(rows, o.output == "json",
               o.all ? "" : " starting with '" + target.prefix.value + "'");
    return 0;
}

}  // namespace

Command add_list(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<ListOptions>();
    CLI::App* app =
        root.add_subcommand("list", "List the branches xbranch made (names with the prefix)");
    app->add_option("--prefix", opts->prefix,
                    setting_help("Prefix to match", "--prefix", {SettingId::Prefix}));
    app->add_flag("--all", opts->all, "List every branch of the project");
    app->add_flag("--no-status", opts->no_status,
                  "Skip the per-branch status lookup (one request instead of N+1)");
    app->add_option("--in-flight", opts->in_flight,
                    "Status lookups sent at once (1 sends them one after another)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app->add_option("--output,-o", opts->output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
    return {app, [opts, &ctx] { return run_list(*opts, ctx); }};
}

}  // namespace xbranch::cli
