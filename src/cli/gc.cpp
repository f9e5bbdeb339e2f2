// xbranch gc: delete xbranch's branches that no live sandbox owns (--orphans),
// whose TTL passed (--expired), or that are older than a limit. The selection
// is gc_policy's; this file binds flags, asks the APIs and prints.
#include <spdlog/spdlog.h>

#include "app.hpp"
#include "render.hpp"
#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"
#include "xbranch/gc_run.hpp"
#include "xbranch/signadot_client.hpp"

namespace xbranch::cli {
namespace {

constexpr long long k_min_unforced_older_than_s = 3600;

struct GcFlags {
    GcPolicyOptions policy;  // the flags that are policy as given
    IdentityFlags identity;  // --prefix, --parent
    std::optional<std::string> older_than;
    std::string grace = "15m";
    bool force = false;
    std::string output = "text";
    std::optional<std::string> empty_list_older_than;
    std::size_t in_flight = k_describes_in_flight;
};

long long seconds_of(const std::string& text, const char* flag) {
    return flag_duration(flag, text).count() / 1000;
}

// An empty sandbox list that would cost tagged branches: nothing is deleted,
// exit 5, and the message says how to check and how to confirm.
void refuse_empty_list(const EmptyListCheck& check, const std::string& org, const GcFlags& f) {
    std::string message = "Signadot listed no live sandboxes in organization " + quote_input(org) +
                          ", but " + std::to_string(check.orphans) +
                          " branch(es) would be deleted as orphans";
    if (f.empty_list_older_than) {
        message += "; " + std::to_string(check.under_min_age) +
                   " of them are younger than --empty-sandbox-list-older-than " +
                   quote_input(*f.empty_list_older_than);
    }
    throw Error(ErrorKind::Conflict, message)
        .with_operation("gc")
        .with_reason(ErrorReason::EmptySandboxList);
}

int run_gc(const GcFlags& f, const Context& ctx) {
    GcPolicyOptions policy = f.policy;
    if (!policy.orphans && !policy.expired && !f.older_than) {
        throw Error(ErrorKind::Usage, "gc needs at least one of --orphans, --expired, --older-than")
            .with_hint("e.g. `xbranch gc --orphans --expired --dry-run`");
    }
    policy.grace = seconds_of(f.grace, "--grace");
    if (f.empty_list_older_than) {
        policy.empty_list_min_age =
            seconds_of(*f.empty_list_older_than, "--empty-sandbox-list-older-than");
    }
    if (f.older_than) {
        policy.older_than = seconds_of(*f.older_than, "--older-than");
        if (*policy.older_than < k_min_unforced_older_than_s && !f.force) {
            throw Error(ErrorKind::Usage, "--older-than " + quote_input(*f.older_than) +
                                              " is under one hour: it can delete branches of "
                                              "sandboxes being created right now")
                .with_hint("add --force if that is what you mean");
        }
    }
    const BranchTarget target = resolve_branch_target(f.identity, *ctx.env, false);
    policy.prefix = target.prefix.value;
    (target.parent.is_id ? policy.parent_id : policy.parent_name) = target.parent.setting.value;
    // Every setting is checked before the first request.
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    std::optional<SignadotClient> signadot;
    std::string org;
    if (policy.orphans) {
        SignadotTarget where = signadot_target_from_env(*ctx.env);
        org = where.org;
        signadot.emplace(session->transport, session->clock, std::move(where));
    }
    const GcPlan plan = plan_gc(session->client, signadot ? &*signadot : nullptr, policy.expired,
                                policy, now_unix, session->limits, f.in_flight);
    if (const auto doubt = check_empty_sandbox_list(plan.candidates, plan.sandboxes, policy);
        doubt.refuse) {
        refuse_empty_list(doubt, org, f);
    }
    const GcReport report = execute_gc(session->client, plan, policy.dry_run, session->limits);
    print_gc(report, policy.dry_run, f.output == "json");
    spdlog::debug("gc cost {} Xata API request(s) and {} Signadot API request(s)",
                  session->client.request_count(), plan.signadot_requests);
    throw_if_incomplete(report, ctx.cancel != nullptr ? ctx.cancel->signal_number() : 0);
    return 0;
}

}  // namespace

Command add_gc(CLI::App& root, Context& ctx) {
    auto f = std::make_shared<GcFlags>();
    CLI::App* app = root.add_subcommand(
        "gc", "Delete xbranch's branches whose sandbox is gone, whose TTL passed, or that are old");
    app->add_flag("--orphans", f->policy.orphans,
                  setting_help("Delete branches no live Signadot sandbox owns", "--orphans",
                               {SettingId::SignadotApiKey, SettingId::SignadotOrg,
                                SettingId::SignadotApiUrl}));
    app->add_flag("--expired", f->policy.expired,
                  "Delete branches whose TTL (from create --ttl) passed");
    app->add_option("--older-than", f->older_than,
                    "Delete branches older than this: 12h, 7d (under 1h needs --force)");
    app->add_option("--grace", f->grace,
                    "--orphans spares branches younger than this (a sandbox being created)")
        ->capture_default_str();
    app->add_option("--keep-sandbox", f->policy.keep_sandboxes,
                    "Never delete this sandbox's branches (exact name; repeatable)");
    app->add_option("--prefix", f->identity.prefix,
                    setting_help("Prefix of xbranch's branches", "--prefix", {SettingId::Prefix}));
    app->add_option("--parent", f->identity.parent,
                    setting_help("The parent branch, never deleted", "--parent",
                                 {SettingId::ParentId, SettingId::ParentName}));
    app->add_flag("--dry-run", f->policy.dry_run, "Only say what would be deleted");
    app->add_flag("--force", f->force, "Allow an --older-than under one hour");
    app->add_flag("--allow-empty-sandbox-list", f->policy.trust_empty_sandbox_list,
                  "--orphans: trust a Signadot answer that lists no sandboxes at all (without "
                  "it, such an answer deletes nothing and exits 5)");
    app->add_option("--empty-sandbox-list-older-than", f->empty_list_older_than,
                    "--orphans: trust an empty sandbox list when every branch it would delete "
                    "is at least this old (7d, ...)");
    app->add_option("--in-flight", f->in_flight, "Tag lookups sent at once (1: one at a time)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app->add_option("--output,-o", f->output, "text (a table) or json")
        ->check(CLI::IsMember({"text", "json"}));
    app->footer(
        R"TXT(Only branches with the prefix and run-* ones (`xbranch run`'s; --orphans never
takes them) are considered; the parent branch, root branches and branches
that are the parent of other branches are never deleted. An
answer from Signadot that cannot be trusted (HTTP error, timeout, a body that
is not the documented list) deletes nothing and exits non-zero. So does an
empty list while branches would go as orphans (exit 5: a key for the wrong
or an empty organization lists nothing); --allow-empty-sandbox-list confirms it.

Examples:
  xbranch gc --orphans --expired --dry-run
  xbranch gc --orphans --grace 30m --keep-sandbox long-lived-demo
  xbranch gc --older-than 7d --output json)TXT");
    return {app, [f, &ctx] { return run_gc(*f, ctx); }};
}

}  // namespace xbranch::cli
