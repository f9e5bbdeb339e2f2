#include "hints.hpp"

namespace xbranch::cli {
namespace {

// The gc run that frees room at the branch cap (what the CronJob runs).
constexpr const char* k_gc_free_room = "xbranch gc --orphans --expired";

std::string reason_hint(const Error& e) {
    switch (e.reason()) {
        case ErrorReason::None:
        case ErrorReason::MissingPermission:  // the core's hint says it all
            return {};
        case ErrorReason::BadApiKey:
            return "check XATA_API_KEY: the key must be valid and belong to a member of the "
                   "organization (create one under Account settings > API keys)";
        case ErrorReason::NotFoundInProject:
            return "check XATA_ORGANIZATION_ID, XATA_PROJECT_ID and the parent branch";
        case ErrorReason::ProjectNotFound:
            return "the project does not answer, so xbranch cannot tell whether the branch is "
                   "gone: check XATA_ORGANIZATION_ID and XATA_PROJECT_ID (or --org, --project)";
        case ErrorReason::ParentNotFound:
            return "name an existing branch with --parent NAME|ID (or XATA_BRANCH_NAME / "
                   "XATA_BRANCH_ID); `xbranch list --all` shows them";
        case ErrorReason::TlsVerify:
            return "the server's certificate could not be verified; pass --cacert FILE (or set "
                   "CURL_CA_BUNDLE) with the CA that signed it. Verification is never switched "
                   "off";
        case ErrorReason::Connect:
            return "check XATA_API_BASE_URL and your network or proxy settings";
        case ErrorReason::BranchInTheWay:
            return "that branch is in the way; delete it (" + delete_command(e.branch_id()) +
                   ") or pick another name with --branch or --prefix";
        case ErrorReason::ReadyTimeout:
            return "raise --timeout, or look at the branch in the Xata console";
        case ErrorReason::DeadlineReached:
            return "the API did not answer in time: raise --timeout (or --request-timeout), or "
                   "check that XATA_API_BASE_URL points at a working Xata API";
        case ErrorReason::NeedsForce:
            return "pass --force if you really mean it";
        case ErrorReason::ResponseTooLarge:
            return "check that XATA_API_BASE_URL points at the Xata API, not at another service";
        case ErrorReason::Redirected:
            return "set XATA_API_BASE_URL (or --base-url) to the address the API really answers "
                   "at";
        case ErrorReason::QuotaReached:
            return "free room: `" + std::string(k_gc_free_room) +
                   " --dry-run` shows the branches whose sandbox is gone or whose TTL passed "
                   "(--orphans asks Signadot: SIGNADOT_API_KEY and SIGNADOT_ORG), without "
                   "--dry-run it deletes them; `xbranch delete --branch NAME` deletes one of the "
                   "oldest";
        case ErrorReason::PrivateBranch:
            return "the branch is private (publicAccess false): it is reachable only from inside "
                   "the customer's network, so run xbranch there, or pass --no-connect-check";
        case ErrorReason::DatabaseMissing:
            return "name a database that exists in the branch with --database NAME (or "
                   "XATA_DATABASE_NAME); the default is the credentials' database, else xata";
        case ErrorReason::HooksRunning:
            return "another xbranch run (its hooks are running) holds branch " + e.branch_name() +
                   "; try again when it has finished, or raise --timeout to wait longer";
        case ErrorReason::BranchVanished:
            return "someone else (another xbranch run, `xbranch gc`, the Xata console) deleted "
                   "branch " +
                   e.branch_name() +
                   " while this run was setting it up; nothing of this run's is left, run the "
                   "command again";
        case ErrorReason::EmptySandboxList:
            return "nothing was deleted: a key for the wrong or an empty organization answers an "
                   "empty list too. Check SIGNADOT_ORG and that SIGNADOT_API_KEY belongs to it "
                   "(`xbranch gc --orphans --dry-run --allow-empty-sandbox-list` shows what would "
                   "go); if the organization really has no sandboxes, pass "
                   "--allow-empty-sandbox-list, or --empty-sandbox-list-older-than DURATION to "
                   "trust the empty list only when every such branch is at least that old";
    }
    return {};
}

std::string cleanup_hint(const Error& e) {
    const std::string& id = e.cleanup_branch_id();
    const std::string& name = e.cleanup_branch_name();
    switch (e.cleanup()) {
        case CleanupState::None:
            return {};
        case CleanupState::Deleted:
            return "the branch " + name + " created by this run was deleted";
        case CleanupState::Kept:
            return "kept branch " + name + " (id " + id + ") because of --keep-on-failure";
        case CleanupState::Left:
            return "the branch " + name + " (id " + id +
                   ") created by this run could not be deleted and is left behind; delete it "
                   "with `" +
                   delete_command(id) + "`";
        case CleanupState::Unknown:
            return "the outcome of the create request is unknown: a branch " + name +
                   " may exist; `xbranch delete --branch " + name + "` removes it if so";
    }
    return {};
}

void join(std::string& out, const std::string& more) {
    if (more.empty()) {
        return;
    }
    if (!out.empty()) {
        // One separator, whatever punctuation the previous part ended with.
        while (!out.empty() && (out.back() == '.' || out.back() == ' ')) {
            out.pop_back();
        }
        out += ". ";
    }
    out += more;
}

}  // namespace

std::string delete_command(const std::string& branch_id) {
    return "xbranch delete --branch-id " + branch_id;
}

std::string hint_text(const Error& e) {
    std::string out;
    join(out, reason_hint(e));
    join(out, e.hint());
    join(out, cleanup_hint(e));
    return out;
}

}  // namespace xbranch::cli
