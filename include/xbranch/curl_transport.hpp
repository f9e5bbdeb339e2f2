// HttpTransport over libcurl: one easy handle reused for the whole run, so
// polling keeps its connection alive. TLS verification is always on.
#pragma once

#include <memory>

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

    // "libcurl/7.88.1 OpenSSL/3.0.x ..." for --version.
    static std::string library_version();

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace xbranch
