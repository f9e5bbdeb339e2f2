// The network behind an interface: requests and answers are plain data, so
// building and parsing them is testable without a socket. Every send gets the
// caller's CallLimits: a cancellation token and the time left to its deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/cancel.hpp"

namespace xbranch {

struct HttpRequest {
    std::string method;  // GET, POST, PATCH, DELETE
    std::string url;
    std::map<std::string, std::string> headers;
    std::string body;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    // The server's Retry-After (seconds or a date), as a wait; nullopt when absent.
    std::optional<std::chrono::milliseconds> retry_after;

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

// A transport failure is not an HTTP status: nothing usable came back.
struct TransportError {
    enum class Kind {
        Timeout,    // no (complete) answer in time
        Connect,    // refused, unresolvable
        Tls,        // the certificate failed verification
        Dropped,    // the connection closed without an answer
        Cancelled,  // the caller's CancelToken was set
        TooLarge,   // the answer exceeded TransportOptions::max_response_bytes
        Other,
    };
    Kind kind = Kind::Other;
    std::string message;
    // True when the request may have reached the server (so a POST's outcome is unknown).
    bool maybe_sent = true;
};

// "timeout", "connection failed", ...: for messages.
const char* transport_kind_name(TransportError::Kind kind);

struct HttpOutcome {
    std::optional<HttpResponse> response;
    std::optional<TransportError> error;

    bool ok() const { return response.has_value(); }
};

// What one send may use. The transport aborts with Cancelled once `cancel` is
// set, and never waits longer than `time_left` (nor its own timeouts).
struct CallLimits {
    const CancelToken* cancel = nullptr;
    std::optional<std::chrono::milliseconds> time_left;  // nullopt: only the configured timeouts
};

class HttpTransport {
  public:
    virtual ~HttpTransport() = default;
    virtual HttpOutcome send(const HttpRequest& request, const CallLimits& limits) = 0;
    // Sends every request, at most `max_in_flight` (at least 1) at a time, and
    // returns their outcomes in the requests' order. The default sends them
    // one after another; a transport that can overlap them overrides it.
    virtual std::vector<HttpOutcome> send_many(const std::vector<HttpRequest>& requests,
                                               const CallLimits& limits, std::size_t max_in_flight);
};

// Far more than any answer of this API; a bigger one is refused, not buffered.
inline constexpr std::size_t k_max_response_bytes = std::size_t{8} * 1024 * 1024;

struct TransportOptions {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    std::string ca_file;  // empty: the system store
    std::string user_agent;
    std::size_t max_response_bytes = k_max_response_bytes;
};

}  // namespace xbranch
