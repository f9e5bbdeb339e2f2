// xbranch gc: delete old branches with xbranch's prefix whose sandbox's delete step never ran.
#include <spdlog/spdlog.h>

#include <iostream>

#include "app.hpp"
#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"

namespace xbranch::cli {
namespace {

struct GcOptions {
    std::optional<std::string> prefix;
    std::optional<std::string> parent;
    std::string older_than;
    std::vector<std::string> keep_sandboxes;
    bool dry_run = false;
};

int run_gc(const GcOptions& o, const Context& ctx) {
    auto limit = parse_duration(o.older_than);
    if (!limit) {
        throw Error(ErrorKind::Usage,
                    "invalid --older-than '" + o.older_than + "': use e.g. 12h, 7d, 90m");
    }
    IdentityFlags flags;
    flags.prefix = o.prefix;
    flags.parent = o.parent;
    BranchTarget target = resolve_branch_target(flags, *ctx.env, false);
    const std::string& prefix = target.prefix.value;
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    auto branches = session->client.list_branches();
    const long long now = now_unix();
    const long long limit_s = limit->count() / 1000;

    // The parent, by name or id, is never a candidate.
    std::string parent_id = target.parent.is_id ? target.parent.setting.value : "";
    for (const auto& b : branches) {
        if (b.name == target.parent.setting.value) {
            parent_id = b.id;
        }
    }
    std::vector<std::string> keep;
    for (const auto& s : o.keep_sandboxes) {
        keep.push_back(prefix + sanitize_label(s) + "-");
    }
    int deleted = 0;
    int failed = 0;
    int kept = 0;
    for (const auto& b : branches) {
        // Never the parent, never a root branch (xbranch only makes children).
        if (b.name.rfind(prefix, 0) != 0 || b.id == parent_id ||
            b.name == target.parent.setting.value || !b.parent_id || b.parent_id->empty()) {
            continue;
        }
        bool keep_it = false;
        for (const auto& k : keep) {
            keep_it = keep_it || b.name.rfind(k, 0) == 0;
        }
        const auto created = parse_timestamp(b.created_at);
        if (!created) {
            spdlog::warn("skipping {}: unreadable creation time '{}'", b.name, b.created_at);
            continue;
        }
        const long long age = now - *created;
        if (keep_it || age < limit_s) {
            ++kept;
            continue;
        }
        if (o.dry_run) {
            std::cout << "would delete " << b.name << " (id " << b.id << ", age " << format_age(age)
                      << ")\n";
            ++deleted;
            continue;
        }
        try {
            session->client.delete_branch(b.id);
            std::cout << "deleted " << b.name << " (id " << b.id << ", age " << format_age(age)
                      << ")\n";
            ++deleted;
        } catch (const Error& e) {
            spdlog::error("could not delete {}: {}", b.name, e.describe());
            ++failed;
        }
    }
    std::cout << (o.dry_run ? "would delete " : "deleted ") << deleted << ", kept " << kept
              << (failed ? ", failed " + std::to_string(failed) : "") << "\n";
    if (failed > 0) {
        throw Error(ErrorKind::Unavailable,
                    std::to_string(failed) + " branch(es) could not be deleted")
            .with_operation("gc");
    }
    return 0;
}

}  // namespace

Command add_gc(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<GcOptions>();
    CLI::App* app = root.add_subcommand(
        "gc",
        "Delete branches with xbranch's prefix older than a limit (orphans of vanished sandboxes)");
    app->add_option("--older-than", opts->older_than, "Age limit: 90m, 12h, 7d")->required();
    app->add_option("--keep-sandbox", opts->keep_sandboxes,
                    "Never delete this sandbox's branches (repeatable)");
    app->add_option("--prefix", opts->prefix,
                    "Prefix of xbranch's branches [env XBRANCH_PREFIX, default sb-]");
    app->add_option("--parent", opts->parent,
                    "The parent branch, never deleted [env XATA_BRANCH_ID/NAME, default main]");
    app->add_flag("--dry-run", opts->dry_run, "Only say what would be deleted");
    app->footer(
        R"TXT(Branches without the prefix, the parent branch and root branches are never touched.

Examples:
  xbranch gc --older-than 7d --dry-run
  xbranch gc --older-than 24h --keep-sandbox long-lived-demo)TXT");
    return {app, [opts, &ctx] { return run_gc(*opts, ctx); }};
}

}  // namespace xbranch::cli
