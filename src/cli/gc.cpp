// xbranch gc: delete xbranch's branches that no live sandbox owns (--orphans),
// whose TTL passed (--expired), or that are older than a limit. The selection
// is gc_policy's; this file binds flags, asks the APIs and prints.
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "app.hpp"
#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"
#include "xbranch/gc_policy.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/signadot_client.hpp"

namespace xbranch::cli {
namespace {

constexpr long long k_min_unforced_older_than_s = 3600;

struct GcFlags {
    std::optional<std::string> prefix;
    std::optional<std::string> parent;
    bool orphans = false;
    bool expired = false;
    std::optional<std::string> older_than;
    std::string grace = "15m";
    std::vector<std::string> keep_sandboxes;
    bool dry_run = false;
    bool force = false;
    std::string output = "text";
    bool allow_empty_sandbox_list = false;
    std::optional<std::string> empty_list_older_than;
};

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

long long seconds_of(const std::string& text, const char* flag) {
    return flag_duration(flag, text).count() / 1000;
}

struct Row {
    const GcCandidate* candidate = nullptr;
    std::string action;  // kept, deleted, would delete, already gone, failed, not done
    std::string detail;
};

std::string expiry_of(const GcCandidate& c) {
    return c.tag && c.tag->expires_at ? rfc3339_utc(*c.tag->expires_at) : std::string("-");
}

void print_rows(const std::vector<Row>& rows, const GcFlags& f, bool interrupted_run, int deleted,
                int kept, int failed) {
    if (f.output == "json") {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& r : rows) {
            const GcCandidate& c = *r.candidate;
            items.push_back({{"name", c.branch.name},
                             {"id", c.branch.id},
                             {"ageSeconds", c.age ? nlohmann::json(*c.age) : nlohmann::json()},
                             {"expiresAt", c.tag && c.tag->expires_at
                                               ? nlohmann::json(rfc3339_utc(*c.tag->expires_at))
                                               : nlohmann::json()},
                             {"reason", c.reason ? nlohmann::json(gc_reason_name(*c.reason))
                                                 : nlohmann::json()},
                             {"kept", c.reason ? nlohmann::json() : nlohmann::json(c.kept_why)},
                             {"action", r.action},
                             {"detail", redact(r.detail)}});
        }
        nlohmann::json out = {{"dryRun", f.dry_run}, {"interrupted", interrupted_run},
                              {"candidates", items}, {"deleted", deleted},
                              {"kept", kept},        {"failed", failed}};
        std::cout << out.dump(2) << "\n";
        return;
    }
    if (!rows.empty()) {
        std::printf("%-44s %-6s %-21s %-11s %s\n", "NAME", "AGE", "EXPIRES", "REASON", "RESULT");
    }
    for (const auto& r : rows) {
        const GcCandidate& c = *r.candidate;
        const std::string result =
            r.action + (r.detail.empty() ? "" : " (" + redact(r.detail) + ")");
        std::printf("%-44s %-6s %-21s %-11s %s\n", c.branch.name.c_str(),
                    c.age ? format_age(*c.age).c_str() : "?", expiry_of(c).c_str(),
                    c.reason ? gc_reason_name(*c.reason) : "-", result.c_str());
    }
    std::cout << (f.dry_run ? "would delete " : "deleted ") << deleted << ", kept " << kept
              << (failed ? ", failed " + std::to_string(failed) : "")
              << (interrupted_run ? ", interrupted" : "") << "\n";
}

// Reads the description (the tag) of each branch in `ids` not tried yet:
// one describe each. A branch gone meanwhile leaves `branches`; any other
// failure is kept in `tag_errors` and the branch stays unread (so kept).
// Returns whether anything changed.
bool read_tags(Session& session, const std::set<std::string>& ids, std::vector<GcBranch>& branches,
               std::set<std::string>& tried, std::map<std::string, std::string>& tag_errors) {
    bool changed = false;
    for (auto it = branches.begin(); it != branches.end();) {
        const Branch& b = it->branch;
        if (ids.count(b.id) == 0 || !tried.insert(b.id).second) {
            ++it;
            continue;
        }
        changed = true;
        try {
            it->branch.description = session.client.describe_branch(b.id).branch.description;
            it->tag = decode_tag(it->branch.description);
            it->description_read = true;
            ++it;
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Interrupted) {
                throw;
            }
            if (e.kind() == ErrorKind::NotFound) {
                spdlog::debug("{} is gone already", b.name);
                it = branches.erase(it);
                continue;
            }
            spdlog::warn("could not read the tag of {}, so it is kept: {}", b.name, e.describe());
            tag_errors[b.id] = e.describe();
            ++it;
        }
    }
    return changed;
}

// Asks Signadot (when it must) and then Xata; reads every candidate's tag
// only for --expired (it needs them all); the other modes read just those
// the policy would delete (see select).
void gather(Session& session, const std::optional<SignadotTarget>& signadot, bool all_tags,
            const GcPolicyOptions& policy, std::vector<LiveSandbox>& sandboxes,
            std::vector<GcBranch>& branches, int& signadot_requests, std::set<std::string>& tried,
            std::map<std::string, std::string>& tag_errors) {
    if (signadot) {
        SignadotClient sd(session.transport, *signadot);
        sd.set_limits(CallLimits{session.client.limits().cancel, std::nullopt});
        try {
            sandboxes = sd.list_sandboxes();
        } catch (Error& e) {
            if (e.kind() == ErrorKind::Interrupted) {
                throw;
            }
            e.add_hint(
                "nothing was deleted: without a trusted list of live sandboxes gc cannot "
                "tell an orphan from a live sandbox's branch");
            throw;
        }
        signadot_requests = sd.request_count();
        spdlog::debug("Signadot: {} live sandbox(es) in org {}", sandboxes.size(), signadot->org);
    }

    for (auto& b : session.client.list_branches()) {
        branches.push_back({std::move(b), std::nullopt});
    }
    // Tags cost one describe each (the list has no descriptions): for
    // --expired, every prefixed child that is not the parent.
    if (all_tags) {
        std::set<std::string> wanted;
        for (const auto& g : branches) {
            const Branch& b = g.branch;
            if (b.name.rfind(policy.prefix, 0) == 0 && b.parent_id && !b.parent_id->empty() &&
                b.id != policy.parent_id && b.name != policy.parent_name) {
                wanted.insert(b.id);
            }
        }
        read_tags(session, wanted, branches, tried, tag_errors);
    }
}

// The verdict, reading the tags of the branches a rule selects but whose
// description is unread, then deciding again (a branch found gone can free
// its parent, whose tag is then read in the next round).
std::vector<GcCandidate> select(Session& session, std::vector<GcBranch>& branches,
                                const std::vector<LiveSandbox>& sandboxes,
                                const GcPolicyOptions& policy, std::set<std::string>& tried,
                                std::map<std::string, std::string>& tag_errors) {
    for (;;) {
        auto candidates = select_gc(branches, sandboxes, now_unix(), policy);
        std::set<std::string> unread;
        for (const auto& c : candidates) {
            if (c.needs_tag) {
                unread.insert(c.branch.id);
            }
        }
        if (!read_tags(session, unread, branches, tried, tag_errors)) {
            return candidates;
        }
    }
}

// An empty sandbox list that would cost tagged branches: nothing is deleted,
// exit 5, and the message says how to check and how to confirm.
void refuse_empty_list(const EmptyListCheck& check, const SignadotTarget& signadot,
                       const GcFlags& f) {
    std::string message = "Signadot listed no live sandboxes in organization " +
                          quote_input(signadot.org) + ", but " + std::to_string(check.orphans) +
                          " branch(es) would be deleted as orphans";
    if (f.empty_list_older_than) {
        message += "; " + std::to_string(check.under_min_age) +
                   " of them are younger than --empty-sandbox-list-older-than " +
                   quote_input(*f.empty_list_older_than);
    }
    throw Error(ErrorKind::Conflict, message)
        .with_operation("gc")
        .with_hint(
            "nothing was deleted: a key for the wrong or an empty organization answers an empty "
            "list too. Check SIGNADOT_ORG and that SIGNADOT_API_KEY belongs to it "
            "(`xbranch gc --orphans --dry-run --allow-empty-sandbox-list` shows what would go); "
            "if the organization really has no sandboxes, pass --allow-empty-sandbox-list, or "
            "--empty-sandbox-list-older-than DURATION to trust the empty list only when every "
            "such branch is at least that old");
}

int run_gc(const GcFlags& f, const Context& ctx) {
    if (!f.orphans && !f.expired && !f.older_than) {
        throw Error(ErrorKind::Usage, "gc needs at least one of --orphans, --expired, --older-than")
            .with_hint("e.g. `xbranch gc --orphans --expired --dry-run`");
    }
    GcPolicyOptions policy;
    policy.orphans = f.orphans;
    policy.expired = f.expired;
    policy.dry_run = f.dry_run;
    policy.keep_sandboxes = f.keep_sandboxes;
    policy.grace = seconds_of(f.grace, "--grace");
    policy.trust_empty_sandbox_list = f.allow_empty_sandbox_list;
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
    IdentityFlags identity;
    identity.prefix = f.prefix;
    identity.parent = f.parent;
    const BranchTarget target = resolve_branch_target(identity, *ctx.env, false);
    policy.prefix = target.prefix.value;
    if (target.parent.is_id) {
        policy.parent_id = target.parent.setting.value;
    } else {
        policy.parent_name = target.parent.setting.value;
    }
    // Every setting is checked before the first request.
    auto session = open_session(ctx);
    log_settings(session->config, &target);
    std::optional<SignadotTarget> signadot;
    if (f.orphans) {
        signadot = signadot_target_from_env(*ctx.env);
    }

    int signadot_requests = 0;
    std::vector<LiveSandbox> sandboxes;
    std::vector<GcBranch> branches;
    std::set<std::string> tried;
    std::map<std::string, std::string> tag_errors;
    std::vector<GcCandidate> candidates;
    try {
        gather(*session, signadot, f.expired, policy, sandboxes, branches, signadot_requests, tried,
               tag_errors);
        candidates = select(*session, branches, sandboxes, policy, tried, tag_errors);
        if (const auto doubt = check_empty_sandbox_list(candidates, sandboxes, policy);
            doubt.refuse) {
            refuse_empty_list(doubt, *signadot, f);
        }
    } catch (Error& e) {
        if (e.kind() == ErrorKind::Interrupted) {
            e.add_hint("nothing was deleted");
        }
        throw;
    }

    std::vector<Row> rows;
    int deleted = 0;
    int kept = 0;
    int failed = 0;
    bool stopped = false;
    for (const auto& c : candidates) {
        Row row{&c, "kept", c.kept_why};
        if (const auto tag_error = tag_errors.find(c.branch.id);
            c.needs_tag && tag_error != tag_errors.end()) {
            // Kept, but not by choice: the run says so in its exit code.
            row = {&c, "failed", "kept: could not read its tag: " + tag_error->second};
            ++failed;
        } else if (!c.deletes()) {
            ++kept;
        } else if (stopped || (ctx.cancel != nullptr && ctx.cancel->cancelled())) {
            stopped = true;
            row = {&c, "not done", "interrupted"};
        } else if (f.dry_run) {
            row = {&c, "would delete", ""};
            ++deleted;
        } else {
            try {
                const bool existed = session->client.delete_branch(c.branch.id);
                row = {&c, existed ? "deleted" : "already gone", ""};
                ++deleted;
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::Interrupted) {
                    stopped = true;
                    row = {&c, "not done", "interrupted; the delete may have gone through"};
                } else {
                    row = {&c, "failed", e.describe()};
                    ++failed;
                    spdlog::error("could not delete {}: {}", c.branch.name, e.describe());
                }
            }
        }
        rows.push_back(std::move(row));
    }
    print_rows(rows, f, stopped, deleted, kept, failed);
    spdlog::debug("gc cost {} Xata API request(s) and {} Signadot API request(s)",
                  session->client.request_count(), signadot_requests);
    if (stopped) {
        throw Error(ErrorKind::Interrupted,
                    "stopped after deleting " + std::to_string(deleted) + " branch(es)")
            .with_operation("gc")
            .with_signal(ctx.cancel != nullptr ? ctx.cancel->signal_number() : 0);
    }
    if (failed > 0) {
        throw Error(ErrorKind::Unavailable,
                    std::to_string(failed) + " branch(es) could not be checked or deleted")
            .with_operation("gc");
    }
    return 0;
}

}  // namespace

Command add_gc(CLI::App& root, Context& ctx) {
    auto f = std::make_shared<GcFlags>();
    CLI::App* app = root.add_subcommand(
        "gc", "Delete xbranch's branches whose sandbox is gone, whose TTL passed, or that are old");
    app->add_flag("--orphans", f->orphans,
                  "Delete branches no live Signadot sandbox owns [env SIGNADOT_API_KEY, "
                  "SIGNADOT_ORG, SIGNADOT_API_URL]");
    app->add_flag("--expired", f->expired, "Delete branches whose TTL (from create --ttl) passed");
    app->add_option("--older-than", f->older_than,
                    "Delete branches older than this: 12h, 7d (under 1h needs --force)");
    app->add_option("--grace", f->grace,
                    "--orphans spares branches younger than this (a sandbox being created)")
        ->capture_default_str();
    app->add_option("--keep-sandbox", f->keep_sandboxes,
                    "Never delete this sandbox's branches (exact name; repeatable)");
    app->add_option("--prefix", f->prefix,
                    "Prefix of xbranch's branches [env XBRANCH_PREFIX, default sb-]");
    app->add_option("--parent", f->parent,
                    "The parent branch, never deleted [env XATA_BRANCH_ID/NAME, default main]");
    app->add_flag("--dry-run", f->dry_run, "Only say what would be deleted");
    app->add_flag("--force", f->force, "Allow an --older-than under one hour");
    app->add_flag("--allow-empty-sandbox-list", f->allow_empty_sandbox_list,
                  "--orphans: trust a Signadot answer that lists no sandboxes at all (without "
                  "it, such an answer deletes nothing and exits 5)");
    app->add_option("--empty-sandbox-list-older-than", f->empty_list_older_than,
                    "--orphans: trust an empty sandbox list when every branch it would delete "
                    "is at least this old (7d, ...)");
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
