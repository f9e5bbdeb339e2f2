// HttpTransport over libcurl: one multi handle (its connection cache) and
// easy handles reused for the whole run, so polling keeps its connection
// alive; every wait also watches the CancelToken's fd. TLS verification is
// always on.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "xbranch/http.hpp"

namespace xbranch {

class CurlTransport final : public HttpTransport {
  public:
    explicit CurlTransport(TransportOptions options);
    ~CurlTransport() override;
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;
    CurlTransport(CurlTransport&&) noexcept;
    CurlTransport& operator=(CurlTransport&&) noexcept;

    HttpOutcome send(const HttpRequest& request, const CallLimits& limits) override;
    // On one multi handle: at most `max_in_flight` transfers at a time, each
    // with its own outcome, in the requests' order; a cancel ends them all.
    std::vector<HttpOutcome> send_many(const std::vector<HttpRequest>& requests,
                                       const CallLimits& limits,
                                       std::size_t max_in_flight) override;

    // "libcurl/7.88.1 OpenSSL/3.0.x ..." for --version.
    static std::string library_version();

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace xbranch
