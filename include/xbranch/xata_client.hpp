// Typed calls to the Xata branch API. Maps HTTP statuses to Error kinds and
// reasons in one place, and retries idempotent calls under the RetryPolicy,
// bounded by the client's Limits (cancellation token, deadline, per-request cap).
#pragma once

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

class XataClient {
  public:
    // What every call of this client may use (xbranch::Limits). A cancelled
    // token makes calls throw Interrupted; a passed deadline makes them throw
    // Timeout (reason DeadlineReached); each request gets at most
    // min(request_cap, time left).
    using Limits = ::xbranch::Limits;
    // Sets limits for a block of calls and restores the previous ones after.
    class Scope {
      public:
        Scope(XataClient& client, Limits limits) : m_client(client), m_saved(client.limits()) {
            client.set_limits(limits);
        }
        ~Scope() { m_client.set_limits(m_saved); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

      private:
        XataClient& m_client;
        Limits m_saved;
    };

    XataClient(HttpTransport& transport, Clock& clock, ApiTarget target, RetryPolicy policy = {},
               std::uint64_t seed = std::random_device{}());

    const Limits& limits() const { return m_limits; }
    void set_limits(Limits limits) { m_limits = limits; }

    std::vector<Branch> list_branches();
    std::optional<Branch> find_branch_by_name(const std::string& name);
    CreateOutcome create_branch(const std::string& name, const std::string& parent_id,
                                const std::string& description);
    BranchDetails describe_branch(const std::string& id);
    // Retries 409 (modified concurrently) and 403 "temporarily unavailable" too.
    void wake_branch(const std::string& id);
    // PATCH {"description": text}; 409 "modified concurrently", 403 "temporarily
    // unavailable" and 5xx are asked again within the call's deadline, as wake.
    void update_description(const std::string& id, const std::string& text);
    // False when the branch was already gone (404) before this call; true also
    // when an earlier try of this call may have deleted it and a retry saw 404.
    bool delete_branch(const std::string& id);
    Credentials credentials(const std::string& id);
    // GET .../limits, once (no retries: a create goes on without it). nullopt
    // where the call does not exist (Xata Core: 404); other failures throw.
    std::optional<ProjectLimits> project_limits();

    int request_count() const { return m_requests; }
    const RetryPolicy& policy() const { return m_policy; }
    Clock& clock() const { return m_clock; }
    std::string branch_url(const std::string& id) const;
    // The hosted service's database host for a branch: <id>.<region>.xata.tech.
    static std::string hosted_host(const std::string& id, const std::string& region);

    // Turns a non-2xx answer into the Error it means. Public for tests.
    static Error error_from_response(const std::string& operation, const HttpResponse& response);
    static Error error_from_transport(const std::string& operation, const TransportError& error);
    // The Interrupted and DeadlineReached errors of this client's limits.
    Error interrupted_error(const std::string& operation) const;
    Error deadline_error(const std::string& operation, const std::string& last) const;

  private:
    // Sends once; throws Interrupted when cancelled (before or during), and
    // the deadline error when no time is left before sending, both naming
    // `operation` (the URL goes only to the debug log).
    HttpOutcome send_once(const std::string& operation, const std::string& method,
                          const std::string& url, const std::string& body);
    // Sends with retries (GET, PATCH, DELETE) in one RetryLoop. `check`, when
    // given, judges a final answer (e.g. parses it; Retry for a mangled body).
    // Returns the last answer or throws. `maybe_performed`: set when a try
    // that may have been performed got no usable answer.
    HttpResponse send_retrying(const std::string& operation, const std::string& method,
                               const std::string& url, const std::string& body = {},
                               const std::function<Attempt(const HttpResponse&)>& check = {},
                               bool* maybe_performed = nullptr);
    std::string project_url() const;
    template <typename Parse>
    auto get_parsed(const std::string& operation, const std::string& url, Parse parse);

    HttpTransport& m_transport;
    Clock& m_clock;
    ApiTarget m_target;
    RetryPolicy m_policy;
    std::mt19937_64 m_rng;
    Limits m_limits;
    int m_requests = 0;
};

}  // namespace xbranch
