// The parts of the Xata branch API's answers that xbranch uses, and their
// parsers (pure, fuzzed). Shapes: openapi-public.yaml of Xata Core, plus the
// hosted service's credentials answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xbranch {

enum class StatusType { Unspecified, Healthy, Transient, Fault, Hibernated, Unknown };

StatusType parse_status_type(std::string_view text);
const char* status_type_name(StatusType s);  // "HEALTHY", "TRANSIENT", ...

struct Branch {
    std::string id;
    std::string name;
    std::optional<std::string> parent_id;
    std::string region;
    std::string created_at;   // RFC 3339, as sent
    std::string description;  // empty when none (the list call never sends it)
};

struct BranchStatus {
    StatusType type = StatusType::Unspecified;
    std::string phase;  // status.status, e.g. "Setting up primary"
    int instance_count = 0;
    int instance_ready_count = 0;
};

// "HEALTHY (Cluster in healthy state), instances 1/1": for messages and logs.
std::string status_text(const BranchStatus& s, bool with_instances = true);

struct BranchDetails {
    Branch branch;
    BranchStatus status;
    std::string description;                       // "" when none; carries xbranch's tag (tag.hpp)
    std::optional<std::string> connection_string;  // deprecated; may be null
    // publicAccess; false: reachable only from inside the customer's network.
    // nullopt when the answer does not say.
    std::optional<bool> public_access;
};

struct Credentials {
    std::string username;
    std::string password;
    // Hosted service only:
    std::optional<std::string> host;
    std::optional<int> port;
    std::optional<std::string> database;
    std::optional<std::string> connection_string;
};

// The hosted service's effective project limits; a field it did not send is nullopt.
struct ProjectLimits {
    std::optional<long long> max_branches_per_project;
    std::optional<long long> max_branches_per_hour;
};

struct ApiErrorBody {
    std::string id;
    std::string message;
};

// JSON answers nested deeper than this are refused (no answer of this API nests beyond 5).
inline constexpr int k_max_json_depth = 32;

// Each throws Error(Protocol) on bad JSON, nesting deeper than k_max_json_depth
// or a missing required field.
std::vector<Branch> parse_branch_list(std::string_view body);
Branch parse_branch_short(std::string_view body);
BranchDetails parse_branch_details(std::string_view body);
Credentials parse_credentials(std::string_view body);
// GET .../limits: the fields at the top level or under "limits"; a present
// field that is not a non-negative integer is Error(Protocol).
ProjectLimits parse_project_limits(std::string_view body);
// Never throws: an HTML page or plain text gives an empty id and a trimmed message.
ApiErrorBody parse_error_body(std::string_view body);

// Request bodies.
std::string make_create_body(std::string_view name, std::string_view parent_id,
                             std::string_view description);
std::string make_wake_body();

}  // namespace xbranch

namespace xbranch {
// "2025-05-01T10:20:30Z" / "...+02:00" / fractional seconds -> Unix seconds.
std::optional<long long> parse_timestamp(std::string_view text);
}  // namespace xbranch
