#include "xbranch/http.hpp"

namespace xbranch {

const char* transport_kind_name(TransportError::Kind kind) {
    switch (kind) {
        case TransportError::Kind::Timeout:
            return "timeout";
        case TransportError::Kind::Connect:
            return "connection failed";
        case TransportError::Kind::Tls:
            return "TLS error";
        case TransportError::Kind::Dropped:
            return "connection dropped";
        case TransportError::Kind::Cancelled:
            return "cancelled";
        case TransportError::Kind::TooLarge:
            return "answer too large";
        case TransportError::Kind::Other:
            return "network error";
    }
    return "network error";
}

std::vector<HttpOutcome> HttpTransport::send_many(const std::vector<HttpRequest>& requests,
                                                  const CallLimits& limits,
                                                  std::size_t /*max_in_flight*/) {
    std::vector<HttpOutcome> out;
    out.reserve(requests.size());
    for (const auto& request : requests) {
        out.push_back(send(request, limits));
    }
    return out;
}

}  // namespace xbranch
