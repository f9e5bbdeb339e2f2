// Quota awareness: the project's branch cap (hosted service only) read from
// GET .../limits, a pure check against the live branch count, and the
// server's own "too many branches" refusals, all as Error(QuotaExceeded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/error.hpp"
#include "xbranch/http.hpp"
#include "xbranch/xata_types.hpp"

namespace xbranch {

// "/organizations/{org}/projects/{project}/limits", appended to the base URL.
std::string limits_path(std::string_view organization, std::string_view project);

// The limits from a GET .../limits answer: 200 parsed (Error(Protocol) when
// unreadable), 404 nullopt (Xata Core has no such call: no limits known),
// any other status throws the Error it means.
std::optional<ProjectLimits> limits_from_response(const HttpResponse& response);

struct QuotaCheck {
    bool at_cap = false;
    std::size_t live = 0;          // active branches of the project
    std::optional<long long> cap;  // maxBranchesPerProject, when known
    std::vector<Branch> oldest;    // the oldest prefixed branches, oldest first
};

// Pure: compares the live branch count (the list create already made) with
// maxBranchesPerProject; without limits it is never at cap. `oldest` holds
// up to `show` prefixed, non-root branches by createdAt.
QuotaCheck check_quota(const std::vector<Branch>& branches,
                       const std::optional<ProjectLimits>& limits, std::string_view prefix,
                       std::size_t show = 5);

// "a (2026-01-01T00:00:00Z), b (...)": branches for a message.
std::string branches_text(const std::vector<Branch>& branches);

// The Error for a check at cap: the count, the oldest branches, and the
// caller's command that would free room (the CLI's words) as the hint.
Error quota_error(const QuotaCheck& check, std::string_view free_room_command);

// The server's own refusals of a create: 400 "... too many branches" (the
// project's count) and 403 over the organization's allowance, as
// Error(QuotaExceeded); nullopt for any other answer.
std::optional<Error> quota_refusal(const HttpResponse& response);

}  // namespace xbranch
