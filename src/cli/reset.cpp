// xbranch reset: the sandbox's branch made afresh from its parent under the same name.
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "create_flags.hpp"
#include "xbranch/error.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/progress.hpp"

namespace xbranch::cli {
namespace {

struct ResetOptions {
    CreateFlags create;
    OutputFlags out;
    bool force = false;
};

// The create rendering plus the id it replaced ("" when there was none).
std::string render_reset(const CreateResult& result, const OutputFlags& out,
                         const std::string& old_id) {
    const OutputFormat format = output_format(out);
    std::string text = render(output_values(result), format, out.show_secrets);
    if (format == OutputFormat::Json) {
        auto j = nlohmann::json::parse(text);
        j["replacedId"] = old_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(old_id);
        return j.dump(2) + "\n";
    }
    if (format == OutputFormat::Text) {
        const std::string line = old_id.empty()
                                     ? "  replaced    nothing (there was no branch)\n"
                                     : "  replaced    " + old_id + " -> " + result.branch.id + "\n";
        // After the "id" line, where a reader looks for the id.
        const auto at = text.find('\n', text.find("  id  "));
        text.insert(at == std::string::npos ? text.size() : at + 1, line);
    }
    return text;
}

int run_reset(const ResetOptions& o, const Context& ctx) {
    auto run = start_create_run(o.create, ctx, o.out.output_dir);
    const BranchTarget& target = run->target;
    Lifecycle& lifecycle = *run->lifecycle;

    // delete's rules: never the parent, a root or a parent of live branches;
    // a name without the prefix only with --force.
    Lifecycle::DeleteRequest del;
    del.name = target.name.value;
    del.parent = target.parent.setting.value;
    del.parent_is_id = target.parent.is_id;
    del.prefix = target.prefix.value;
    del.force = o.force;
    std::string old_id;
    const CreateResult result = run->with_progress([&] {
        const auto removed = lifecycle.remove(del);
        if (removed.deleted) {
            old_id = removed.id;
            spdlog::warn("reset: deleted branch {} (id {}); creating it again from {}",
                         target.name.value, old_id, target.parent.setting.value);
        } else {
            spdlog::warn("reset: there was no branch {}; creating it from {}", target.name.value,
                         target.parent.setting.value);
        }
        try {
            return lifecycle.create(run->request);
        } catch (Error& e) {
            // The old branch is gone already; say so, so nobody goes looking
            // for it (and any output files still name it).
            if (!old_id.empty()) {
                e.add_hint("reset had deleted the old branch (id " + old_id +
                           ") before this; the sandbox has no branch until a reset or create "
                           "succeeds");
            }
            throw;
        }
    });
    hand_over(result, o.out, o.create.keep_on_failure, lifecycle, *ctx.env);
    run->output_folders.keep();
    if (!old_id.empty()) {
        spdlog::warn("reset: branch {} has a new id: {} -> {}", result.branch.name, old_id,
                     result.branch.id);
    }
    std::cout << render_reset(result, o.out, old_id) << std::flush;
    return 0;
}

}  // namespace

Command add_reset(CLI::App& root, Context& ctx) {
    auto opts = std::make_shared<ResetOptions>();
    CLI::App* app = root.add_subcommand(
        "reset",
        "Recreate the sandbox's branch from its parent under the same name (its data is lost)");
    add_create_flags(*app, opts->create,
                     "Time limit for the create after the delete: every request, retry, the wait "
                     "for readiness and the connection check (90s, 10m, ...)");
    add_output_flags(*app, opts->out);
    app->add_flag("--force", opts->force, "Allow resetting a branch whose name lacks the prefix");
    app->footer(
        std::string(k_hooks_help) + "\n\n" +
        R"TXT(reset deletes the branch (found by name exactly as create derives it), creates it again
from its parent under the same name, waits until it is usable, runs the hooks, then
rewrites the --output-dir files atomically. Everything written to the branch is gone.
The branch id changes: stderr and the text output say old id -> new id, the JSON output
has "replacedId" (null when there was no branch, and reset created one). Like delete,
reset never touches the parent branch, a root branch or a parent of live branches.

Examples:
  xbranch reset --sandbox my-feature
  xbranch reset --sandbox my-feature --output-dir /outputs --sql seed.sql
  xbranch reset --sandbox my-feature --output json | jq -r .replacedId)TXT");
    return {app, [opts, &ctx] { return run_reset(*opts, ctx); }};
}

}  // namespace xbranch::cli
