// Typed calls to the Xata branch API. Maps HTTP statuses to Error kinds and
// reasons in one place, and retries idempotent calls under the RetryPolicy,
// bounded by each call's Limits (cancellation token, deadline, per-request cap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"
#include "xbranch/http.hpp"
#include "xbranch/limits.hpp"
#include "xbranch/retry.hpp"
#include "xbranch/xata_types.hpp"

namespace xbranch {

struct ApiTarget {
    std::string base_url;  // https://api.xata.tech
    std::string api_key;
    std::string organization;
    std::string project;
};

// What a POST /branches came to. Definite failures (401, 404, 400, 412, ...) throw.
struct CreateOutcome {
    enum class Kind {
        Created,    // 201: the branch is ours
        Conflict,   // 409: a branch with that name exists
        Uncertain,  // timeout, dropped connection, 5xx, 429: it may or may not exist
    };
    Kind kind = Kind::Uncertain;
    std::optional<Branch> branch;                          // with Created
    std::optional<std::chrono::milliseconds> retry_after;  // with Uncertain
    std::string detail;                                    // what happened, for logs
    bool maybe_created = true;        // false when the request surely never reached the service
    std::optional<Error> last_error;  // the API's own error, when it sent one
};

// One branch's describe among many (XataClient::describe_branches): the
// details, or the Error the same call alone would have thrown (NotFound: gone).
struct DescribeResult {
    std::optional<BranchDetails> details;
    std::optional<Error> error;

    bool ok() const { return details.has_value(); }
    bool gone() const { return error && error->kind() == ErrorKind::NotFound; }
};

// Describes in flight at once by default: 1,000 branches at a 50 ms round
// trip take 1000 x 50 ms / 8 = 6.3 s, within a 10 s budget with room for a
// slower API; few enough that one run stays far below a rate limit's burst
// and one host's connection pool (libcurl's multi handle reuses them).
inline constexpr std::size_t k_describes_in_flight = 8;

class XataClient {
  public:
    // What a call may use (xbranch::Limits), passed on every call. A
    // cancelled token makes the call throw Interrupted; a passed deadline
    // makes it throw Timeout (reason DeadlineReached); each request gets at
    // most min(request_cap, time left).
    using Limits = ::xbranch::Limits;

    XataClient(HttpTransport& transport, Clock& clock, ApiTarget target, RetryPolicy policy = {},
               std::uint64_t seed = std::random_device{}());

    std::vector<Branch> list_branches(const Limits& limits);
    std::optional<Branch> find_branch_by_name(const std::string& name, const Limits& limits);
    CreateOutcome create_branch(const std::string& name, const std::string& parent_id,
                                const std::string& description, const Limits& limits);
    BranchDetails describe_branch(const std::string& id, const Limits& limits);
    // Describes every id, at most `max_in_flight` (at least 1) at a time over
    // HttpTransport::send_many, and returns one result per id in their order.
    // Statuses and retries as describe_branch: the failed, 429 and 5xx ones
    // are asked again in further rounds through the policy (a 429 sets the
    // shared RatePacer, and while it has a gap the rest go one at a time,
    // spaced by it). A per-branch failure (also the deadline) is that
    // branch's result; a cancel throws Interrupted and stops them all.
    std::vector<DescribeResult> describe_branches(
        const std::vector<std::string>& ids, const Limits& limits,
        std::size_t max_in_flight = k_describes_in_flight);
    // Retries 409 (modified concurrently) and 403 "temporarily unavailable" too.
    void wake_branch(const std::string& id, const Limits& limits);
    // PATCH {"description": text}; 409 "modified concurrently", 403 "temporarily
    // unavailable" and 5xx are asked again within the call's deadline, as wake.
    void update_description(const std::string& id, const std::string& text, const Limits& limits);
    // False when the branch was already gone (404) before this call; true also
    // when an earlier try of this call may have deleted it and a retry saw 404.
    bool delete_branch(const std::string& id, const Limits& limits);
    Credentials credentials(const std::string& id, const Limits& limits);
    // GET .../limits, once (no retries: a create goes on without it). nullopt
    // where the call does not exist (Xata Core: 404); other failures throw.
    std::optional<ProjectLimits> project_limits(const Limits& limits);

    int request_count() const { return m_requests; }
    const RetryPolicy& policy() const { return m_policy; }
    Clock& clock() const { return m_clock; }
    std::string branch_url(const std::string& id) const;
    // The hosted service's database host for a branch: <id>.<region>.xata.tech.
    static std::string hosted_host(const std::string& id, const std::string& region);

    // Turns a non-2xx answer into the Error it means. Public for tests.
    static Error error_from_response(const std::string& operation, const HttpResponse& response);
    static Error error_from_transport(const std::string& operation, const TransportError& error);
    // The Interrupted error (naming the token's signal) and the DeadlineReached error.
    static Error interrupted_error(const std::string& operation, const CancelToken* cancel);
    static Error deadline_error(const std::string& operation, const std::string& last);
    // What one send of a call may use: its token, and the time left to its
    // deadline capped by request_cap. Throws interrupted_error when the token
    // is set, deadline_error when no time is left.
    CallLimits call_limits(const std::string& operation, const Limits& limits) const;

  private:
    // Sends once; throws Interrupted when cancelled (before or during), and
    // the deadline error when no time is left before sending, both naming
    // `operation` (the URL goes only to the debug log).
    HttpOutcome send_once(const std::string& operation, const std::string& method,
                          const std::string& url, const std::string& body, const Limits& limits);
    // Sends with retries (GET, PATCH, DELETE) in one RetryLoop. `check`, when
    // given, judges a final answer (e.g. parses it; Retry for a mangled body).
    // Returns the last answer or throws. `maybe_performed`: set when a try
    // that may have been performed got no usable answer.
    HttpResponse send_retrying(const std::string& operation, const Limits& limits,
                               const std::string& method, const std::string& url,
                               const std::string& body = {},
                               const std::function<Attempt(const HttpResponse&)>& check = {},
                               bool* maybe_performed = nullptr);
    std::string project_url() const;
    template <typename Parse>
    auto get_parsed(const std::string& operation, const std::string& url, const Limits& limits,
                    Parse parse);

    HttpTransport& m_transport;
    Clock& m_clock;
    ApiTarget m_target;
    RetryPolicy m_policy;
    std::mt19937_64 m_rng;
    int m_requests = 0;
};

}  // namespace xbranch
