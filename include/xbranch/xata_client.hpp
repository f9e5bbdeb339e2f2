// Typed calls to the Xata branch API. Maps HTTP statuses to Error kinds in
// one place, and retries idempotent calls under the RetryPolicy.
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
    XataClient(HttpTransport& transport, Clock& clock, ApiTarget target, RetryPolicy policy = {},
               std::uint64_t seed = std::random_device{}());

    std::vector<Branch> list_branches();
    std::optional<Branch> find_branch_by_name(const std::string& name);
    CreateOutcome create_branch(const std::string& name, const std::string& parent_id,
                                const std::string& description);
    BranchDetails describe_branch(const std::string& id);
    void wake_branch(const std::string& id);
    // False when the branch was already gone (404).
    bool delete_branch(const std::string& id);
    Credentials credentials(const std::string& id);

    int request_count() const { return m_requests; }
    const RetryPolicy& policy() const { return m_policy; }
    std::string branch_url(const std::string& id) const;

    // Turns a non-2xx answer into the Error it means. Public for tests.
    static Error error_from_response(const std::string& operation, const HttpResponse& response);
    static Error error_from_transport(const std::string& operation, const TransportError& error);

  private:
    HttpOutcome send_once(const std::string& method, const std::string& url,
                          const std::string& body);
    // Sends with retries (GET, PATCH, DELETE); returns the last answer or throws
    // Unavailable when every attempt failed at the transport level.
    HttpResponse send_retrying(const std::string& operation, const std::string& method,
                               const std::string& url, const std::string& body = {});
    std::string project_url() const;
    // GET with retries, also when a 2xx answer cannot be parsed (a truncated
    // or mangled body is as passing as a 503).
    template <typename Parse>
    auto get_parsed(const std::string& operation, const std::string& url, Parse parse);
    bool backoff(const std::string& operation, int attempt, const std::string& why,
                 std::optional<std::chrono::milliseconds> retry_after);

    HttpTransport& m_transport;
    Clock& m_clock;
    ApiTarget m_target;
    RetryPolicy m_policy;
    std::mt19937_64 m_rng;
    int m_requests = 0;
};

}  // namespace xbranch
