// The one Signadot call xbranch makes: list the organization's live
// sandboxes. Any answer that is not the documented array throws, so a
// caller never mistakes "could not ask" for "no sandbox lives".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"
#include "xbranch/http.hpp"
#include "xbranch/limits.hpp"

namespace xbranch {

// What gc needs to know about a live sandbox.
struct LiveSandbox {
    std::string name;
    std::string routing_key;             // empty when the answer had none
    std::vector<std::string> resources;  // spec.resources[].name

    bool operator==(const LiveSandbox&) const = default;
};

struct SignadotTarget {
    std::string base_url;  // https://api.signadot.com (without /api/v2)
    std::string api_key;
    std::string org;
};

// Throws Error(Usage) naming the bad part: a base URL that is not http(s)://,
// a key or org with characters that cannot go into a header or a path.
void validate_signadot_target(const SignadotTarget& target);

// A 200 body of list-sandboxes: a JSON array of objects, each with a
// non-empty string `name`; `routingKey` and `spec.resources[].name` optional
// strings. Anything else throws Error(Protocol).
std::vector<LiveSandbox> parse_sandbox_list(std::string_view body);

// A non-2xx answer as an Error: 401/403 Auth, 404 NotFound (a wrong org),
// 5xx and 429 Unavailable, other statuses Protocol; with the ErrorResponse's
// requestId (else the x-request-id header) and its `error` text.
Error signadot_error(const HttpResponse& response);

class SignadotClient {
  public:
    // Registers the key as a secret; throws like validate_signadot_target.
    // `clock` measures the calls' deadlines.
    SignadotClient(HttpTransport& transport, Clock& clock, SignadotTarget target);

    // GET {base}/api/v2/orgs/{org}/sandboxes, once (no retry: the caller
    // deletes nothing on failure, and the next run asks again), within `limits`.
    std::vector<LiveSandbox> list_sandboxes(const Limits& limits);

    std::string sandboxes_url() const;
    int request_count() const { return m_requests; }

  private:
    // The only call to the transport.
    HttpOutcome send(const HttpRequest& request, const Limits& limits);

    HttpTransport& m_transport;
    Clock& m_clock;
    SignadotTarget m_target;
    int m_requests = 0;
};

}  // namespace xbranch
