// xbranch reset: the sandbox's branch made afresh from its parent under the same name.
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

#include "app.hpp"
#include "create_flags.hpp"
#include "xbranch/error.hpp"
#include "xbranch/gc_policy.hpp"
#include "xbranch/outputs.hpp"
#include "xbranch/progress.hpp"
#include "xbranch/tag.hpp"

namespace xbranch::cli {
namespace {

struct ResetOptions {
    CreateFlags create;
    OutputFlags out;
    bool force = false;
};

// The create rendering with the id it replaced ("" when there was none).
std::string render_reset(const CreateResult& result, const OutputFlags& out,
                         const std::string& old_id) {
    OutputValues values = output_values(result);
    values.replaced_id = old_id;
    return render(values, output_format(out), out.show_secrets);
}

// The new branch keeps the old one's expiry (the same moment) and note,
// unless --ttl or --description say otherwise.
void carry_over(const std::string& old_description, const CreateFlags& flags,
                CreateRequest& request) {
    const ResetCarryOver kept = carry_over_for_reset(old_description);
    if (!flags.description) {
        request.description = kept.note;
    }
    if (flags.ttl || !kept.expires_at) {
        return;
    }
    request.expires_at = kept.expires_at;
    const std::string when = rfc3339_utc(*kept.expires_at);
    if (*kept.expires_at <= now_unix()) {
        spdlog::warn(
            "reset: the branch keeps its expiry {}, which has passed: `xbranch gc --expired` "
            "deletes it; pass --ttl to give it a new one",
            when);
    } else {
        spdlog::info("reset: the branch keeps its expiry {} (--ttl sets a new one)", when);
    }
}

// The output files name the branch reset deleted: remove them (all or
// none), and say what became of them.
void drop_output_files(const std::string& dir, const std::string& old_id, Error* e) {
    try {
        const std::size_t n = remove_output_files(dir);
        if (n > 0) {
            spdlog::warn("reset: removed the output files in {} (they named the deleted branch {})",
                         dir, old_id);
        }
        if (e != nullptr && n > 0) {
            e->add_hint("reset removed the output files in " + dir +
                        ", which named the deleted branch");
        }
    } catch (const Error& removal) {
        spdlog::error("reset: {}", removal.describe());
        if (e != nullptr) {
            e->add_hint("the output files in " + dir + " still name the deleted branch " + old_id +
                        " (" + removal.describe() + "): remove them");
        }
    }
}

// After the hand-over: the id change on stderr, the result on stdout.
void finish_reset(const CreateResult& result, const OutputFlags& out, const std::string& old_id) {
    if (!old_id.empty()) {
        spdlog::warn("reset: branch {} has a new id: {} -> {}", result.branch.name, old_id,
                     result.branch.id);
    }
    std::cout << render_reset(result, out, old_id) << std::flush;
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
    del.read_description = true;  // its tag: what the new branch keeps
    std::string old_id;
    // Once the old branch is deleted, a failure leaves the sandbox without
    // a branch: the output files, which name the deleted one, go too.
    auto after_failure = [&](Error* e) {
        if (old_id.empty()) {
            return;
        }
        if (e != nullptr) {
            e->add_hint("reset had deleted the old branch (id " + old_id +
                        ") before this; the sandbox has no branch until a reset or create "
                        "succeeds");
        }
        if (o.out.output_dir) {
            drop_output_files(*o.out.output_dir, old_id, e);
        }
    };
    // Only the create and the hand-over: once the files name the new branch
    // (a stdout lost after that, say), they stay.
    std::optional<CreateResult> result;
    try {
        result = run->with_progress([&] {
            const auto removed = lifecycle.remove(del);
            if (removed.deleted) {
                old_id = removed.id;
                spdlog::warn("reset: deleted branch {} (id {}); creating it again from {}",
                             target.name.value, old_id, target.parent.setting.value);
                carry_over(removed.description, o.create, run->request);
            } else {
                spdlog::warn("reset: there was no branch {}; creating it from {}",
                             target.name.value, target.parent.setting.value);
            }
            return lifecycle.create(run->request);
        });
        hand_over(*result, o.out, o.create.keep_on_failure, lifecycle, *ctx.env);
        run->output_folders.keep();
    } catch (Error& e) {
        after_failure(&e);
        throw;
    } catch (...) {
        after_failure(nullptr);
        throw;
    }
    finish_reset(*result, o.out, old_id);
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
The new branch keeps the old one's expiry (the same moment: the TTL runs on) and
note; --ttl and --description set new ones.

Examples:
  xbranch reset --sandbox my-feature
  xbranch reset --sandbox my-feature --output-dir /outputs --sql seed.sql
  xbranch reset --sandbox my-feature --output json | jq -r .replacedId)TXT");
    return {app, [opts, &ctx] { return run_reset(*opts, ctx); }};
}

}  // namespace xbranch::cli
