// Hook inputs, pure: the environment every hook (and `run`'s command) gets,
// and the fingerprint of a hook set that the branch tag records (tag.hpp).
//
// How to wire it (lead): build the HookSpec list in command-line order (each
// SQL file read once: its content is both run and fingerprinted, so a file
// edited between runs changes the fingerprint). Before the first hook, write
// the tag with HookState::Pending and hook_set_fingerprint(specs); after the
// last one succeeded, HookState::Done. A rerun that adopts a branch whose tag
// says Done with the same fingerprint skips the hooks; Pending (or Done with
// another fingerprint) means the hooks did not complete for this set. An empty
// set records HookState::None. Pass hook_environment() as RunOptions::env.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xbranch/connection.hpp"
#include "xbranch/process.hpp"

namespace xbranch {

struct HookSpec {
    enum class Kind { Sql, Exec };
    Kind kind = Kind::Exec;
    std::string value;    // the SQL file's path as given, or the shell command
    std::string content;  // Sql: the file's content (not used for Exec)
};

// DATABASE_URL, PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE
// (left out when sslmode is empty or "none"), XBRANCH_BRANCH_NAME,
// XBRANCH_BRANCH_ID, XBRANCH_PARENT; in that order.
EnvVars hook_environment(const ConnectionInfo& info, std::string_view branch_name,
                         std::string_view branch_id, std::string_view parent);

// 16 hex digits (FNV-1a, 64 bits) of a file's content: a change detector, not
// a security measure.
std::string content_hash(std::string_view content);

// One string per hook, in order: "sql <path> <content hash>", "exec <command>".
std::vector<std::string> fingerprint_input(const std::vector<HookSpec>& specs);

// hooks_fingerprint(fingerprint_input(specs)); empty for an empty set.
std::string hook_set_fingerprint(const std::vector<HookSpec>& specs);

}  // namespace xbranch
