// The network behind an interface: requests and answers are plain data, so
// building and parsing them is testable without a socket.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

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

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

// A transport failure is not an HTTP status: nothing usable came back.
struct TransportError {
    enum class Kind { Timeout, Connect, Tls, Dropped, Other };
    Kind kind = Kind::Other;
    std::string message;
    // True when the request may have reached the server (so a POST's outcome is unknown).
    bool maybe_sent = true;
};

const char* transport_kind_name(TransportError::Kind kind);

struct HttpOutcome {
    std::optional<HttpResponse> response;
    std::optional<TransportError> error;

    bool ok() const { return response.has_value(); }
};

class HttpTransport {
  public:
    virtual ~HttpTransport() = default;
    virtual HttpOutcome send(const HttpRequest& request) = 0;
};

struct TransportOptions {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    std::string ca_file;  // empty: the system store
    std::string user_agent;
};

}  // namespace xbranch
