// The tag xbranch keeps in a branch's description: who made the branch (a
// per-run token), when it expires, and whether its hooks completed. One
// compact, versioned text that fits the API's description rule.
//
// Version 1 form, fields separated by one space, in this order:
//   xb1 r<token> [e<YYYYMMDDHHMM>] [h<p|d><fingerprint>] [- free text]
//   "xb1 rk3j4h5g6f7 e202612011530 hd1a2b - my note"
// token: 10 chars [a-z0-9]; expiry: UTC, minute precision; hooks: p pending,
// d done, fingerprint 4 chars [a-z0-9] of the hook set. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xbranch {

inline constexpr std::size_t k_max_description = 50;
inline constexpr std::size_t k_token_length = 10;
inline constexpr std::size_t k_fingerprint_length = 4;
inline constexpr std::string_view k_tag_marker_v1 = "xb1";

enum class HookState { None, Pending, Done };

struct BranchTag {
    std::string token;                       // the run that created the branch
    std::optional<std::int64_t> expires_at;  // Unix seconds, a whole minute
    HookState hooks = HookState::None;
    std::string hooks_fingerprint;  // with Pending or Done
    std::string note;               // free text kept after the fields, if it fits

    bool operator==(const BranchTag&) const = default;
};

// The API's rule for descriptions: at most 50 characters of [a-zA-Z0-9 -],
// the first alphanumeric. The empty description is valid (none).
bool valid_description(std::string_view text);

// True when the description carries an xbranch tag of any version ("xb" +
// digits as its first word), even one this build cannot read.
bool has_xbranch_marker(std::string_view description);

// Always a valid description. Throws Error(Internal) when the fields are
// malformed (a token that is not 10 chars of [a-z0-9], an expiry before 1970
// or after 9999, a fingerprint of the wrong shape). The note is trimmed to
// what fits and to legal characters, and dropped when nothing of it fits.
std::string encode_tag(const BranchTag& tag);

// nullopt for a description that is not a version-1 tag (foreign text,
// another version, a damaged tag); never throws.
std::optional<BranchTag> decode_tag(std::string_view description);

// A fresh run token from 64 random bits: 10 chars of [a-z0-9].
std::string make_run_token(std::uint64_t random_bits);

// The 4-char fingerprint of a hook set (order matters): changes when a hook
// is added, removed or edited.
std::string hooks_fingerprint(const std::vector<std::string>& hook_specs);

// What a reset carries from the branch it deletes to the one it makes again
// under the same name: the expiry as the same moment (the TTL runs on; it
// does not restart) and the note. The token is the new run's (it made the
// new branch) and the hook state the new run's hooks'. A foreign description
// (no xbranch marker) is kept as the note when it is a valid one; a tag of
// another version or a damaged one carries nothing over.
struct ResetCarryOver {
    std::optional<std::int64_t> expires_at;
    std::string note;

    bool operator==(const ResetCarryOver&) const = default;
};
ResetCarryOver carry_over_for_reset(std::string_view old_description);

// Expiry rounding: the encoded expiry is `unix_seconds` rounded UP to a whole
// minute (a TTL never ends early).
std::int64_t round_up_to_minute(std::int64_t unix_seconds);

}  // namespace xbranch
