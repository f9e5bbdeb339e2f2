// Branch names derived from the sandbox: deterministic, DNS-label safe, and
// different sandboxes never share one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xbranch {

inline constexpr std::size_t k_max_branch_name = 63;  // a DNS label
inline constexpr std::size_t k_max_prefix = 20;
inline constexpr std::string_view k_default_prefix = "sb-";
// The names `xbranch run` gives its branches (run-<8 characters>), whatever
// the prefix; gc considers them as well as the prefixed ones.
inline constexpr std::string_view k_run_branch_prefix = "run-";

struct SandboxIdentity {
    std::string sandbox;     // SIGNADOT_SANDBOX_NAME
    std::string sandbox_id;  // SIGNADOT_SANDBOX_ID (unique per sandbox instance)
    std::string resource;    // SIGNADOT_RESOURCE_NAME
};

// Lower-cases and keeps [a-z0-9-], folding any other run of characters into
// one '-', trimming '-' at both ends.
std::string sanitize_label(std::string_view raw);

// prefix + readable part + '-' + 8-char hash of the exact identity, at most 63
// characters. Throws Error(Usage) when the sandbox name is empty or has
// nothing legal in it, or when the prefix is invalid (the message names no
// flag: the CLI adds the hint).
std::string derive_branch_name(const SandboxIdentity& id, std::string_view prefix);

// The prefix: 2-20 chars of [a-z0-9-], starting with a letter, ending with '-'.
bool valid_prefix(std::string_view prefix);

// A name given with --branch: 1-63 chars of [a-zA-Z0-9-_.], starting with an alphanumeric.
bool valid_branch_name(std::string_view name);

// Xata branch ids: 26 chars of lowercase base32hex starting with a letter.
bool looks_like_branch_id(std::string_view text);

// Stable 8-character base-32 hash (FNV-1a 64).
std::string short_hash(std::string_view data);

}  // namespace xbranch
