#include "xbranch/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"

namespace xbranch {
namespace {

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error(ErrorKind::Internal, "libcurl failed to initialise");
        }
    });
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* body = static_cast<std::string*>(user);
    body->append(data, size * count);
    return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    std::string_view line(data, size * count);
    if (line.substr(0, 5) == "HTTP/") {
        headers->clear();  // a new response (after 100 Continue or a redirect)
        return size * count;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.remove_prefix(1);
        }
        while (!value.empty() &&
               (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.remove_suffix(1);
        }
        (*headers)[name] = std::string(value);
    }
    return size * count;
}

int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return interrupted() ? 1 : 0;  // non-zero aborts the transfer
}

TransportError classify(CURLcode code, const char* errbuf, bool request_sent) {
    TransportError e;
    e.message = errbuf != nullptr && errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code);
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            e.kind = TransportError::Kind::Timeout;
            e.maybe_sent = request_sent;
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            e.kind = TransportError::Kind::Connect;
            e.maybe_sent = false;
            break;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
            e.kind = TransportError::Kind::Tls;
            e.maybe_sent = false;
            break;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
            e.kind = TransportError::Kind::Dropped;
            e.maybe_sent = true;
            break;
        default:
            e.kind = TransportError::Kind::Other;
            e.maybe_sent = request_sent;
            break;
    }
    return e;
}

template <typename T>
void setopt(CURL* h, CURLoption opt, T value) {
    CURLcode rc = curl_easy_setopt(h, opt, value);
    if (rc != CURLE_OK) {
        throw Error(ErrorKind::Internal,
                    std::string("libcurl option could not be set: ") + curl_easy_strerror(rc));
    }
}

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

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
        case TransportError::Kind::Other:
            return "network error";
    }
    return "network error";
}

struct CurlTransport::Impl {
    TransportOptions options;
    CURL* handle = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {};
};

CurlTransport::CurlTransport(TransportOptions options) : m_impl(std::make_unique<Impl>()) {
    global_init();
    m_impl->options = std::move(options);
    m_impl->handle = curl_easy_init();
    if (m_impl->handle == nullptr) {
        throw Error(ErrorKind::Internal, "libcurl could not create a handle");
    }
}

CurlTransport::~CurlTransport() {
    if (m_impl && m_impl->handle != nullptr) {
        curl_easy_cleanup(m_impl->handle);
    }
}

CurlTransport::CurlTransport(CurlTransport&&) noexcept = default;
CurlTransport& CurlTransport::operator=(CurlTransport&&) noexcept = default;

HttpOutcome CurlTransport::send(const HttpRequest& request) {
    CURL* h = m_impl->handle;
    // reset keeps the connection cache, so polling reuses one connection.
    curl_easy_reset(h);
    m_impl->errbuf[0] = '\0';
    const auto& o = m_impl->options;

    HttpResponse response;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add_header = [&headers](const std::string& line) {
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (next == nullptr) {
            throw Error(ErrorKind::Internal, "out of memory building request headers");
        }
        (void)headers.release();
        headers.reset(next);
    };
    for (const auto& [name, value] : request.headers) {
        std::string line = name;
        line.append(": ").append(value);
        add_header(line);
    }
    add_header("Expect:");

    setopt(h, CURLOPT_ERRORBUFFER, m_impl->errbuf);
    setopt(h, CURLOPT_URL, request.url.c_str());
    setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    setopt(h, CURLOPT_NOSIGNAL, 1L);
    setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
    setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.request_timeout.count()));
    setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!o.ca_file.empty()) {
        setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
    }
    if (!o.user_agent.empty()) {
        setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
    }
    setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    setopt(h, CURLOPT_WRITEDATA, &response.body);
    setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    setopt(h, CURLOPT_HEADERDATA, &response.headers);
    setopt(h, CURLOPT_NOPROGRESS, 0L);
    setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);

    // libcurl silently sends a request again when a reused connection dies
    // without an answer. For POST that hides a create the server may have
    // performed (the caller then sees a 409 and thinks the branch was someone
    // else's), so a POST gets a connection of its own.
    setopt(h, CURLOPT_FRESH_CONNECT, request.method == "POST" ? 1L : 0L);
    if (request.method == "GET") {
        setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "POST") {
        setopt(h, CURLOPT_POST, 1L);
    } else {
        setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (!request.body.empty() || request.method == "POST") {
        setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
        setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    }
    setopt(h, CURLOPT_HTTPHEADER, headers.get());

    const CURLcode rc = curl_easy_perform(h);
    HttpOutcome outcome;
    if (rc != CURLE_OK) {
        double pretransfer = 0;
        curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME, &pretransfer);
        TransportError err = classify(rc, m_impl->errbuf, pretransfer > 0);
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            err.message = "interrupted";
        }
        outcome.error = std::move(err);
        return outcome;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
    outcome.response = std::move(response);
    return outcome;
}

std::string CurlTransport::library_version() {
    return curl_version();
}

}  // namespace xbranch
