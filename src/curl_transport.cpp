#include "xbranch/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// How often a transfer looks at the CancelToken while libcurl waits on the network.
constexpr ms k_poll_slice{50};

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error(ErrorKind::Internal, "libcurl failed to initialise");
        }
    });
}

// What the callbacks of one transfer share.
struct Transfer {
    HttpResponse response;
    const CancelToken* cancel = nullptr;
    std::size_t max_bytes = k_max_response_bytes;
    bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    // Refuse a huge answer as it arrives instead of buffering it (a 50 MB body
    // once drove the process to 4 GB): a short write makes libcurl abort.
    if (t->response.body.size() + n > t->max_bytes) {
        t->too_large = true;
        return 0;
    }
    t->response.body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& headers = static_cast<Transfer*>(user)->response.headers;
    std::string_view line(data, size * count);
    if (line.substr(0, 5) == "HTTP/") {
        headers.clear();  // a new response (after 100 Continue or a redirect)
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
        headers[name] = std::string(value);
    }
    return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* t = static_cast<const Transfer*>(user);
    return t->cancel != nullptr && t->cancel->cancelled() ? 1 : 0;  // non-zero aborts
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
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

Slist header_list(const HttpRequest& request) {
    Slist headers;
    auto add = [&headers](const std::string& line) {
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (next == nullptr) {
            throw Error(ErrorKind::Internal, "out of memory building request headers");
        }
        (void)headers.release();
        headers.reset(next);
    };
    std::string line;
    for (const auto& [name, value] : request.headers) {
        line.assign(name).append(": ").append(value);
        add(line);
    }
    add("Expect:");
    return headers;
}

// min(configured, time left), and never below 1 ms: libcurl reads 0 as "no timeout".
long timeout_ms(ms configured, const std::optional<ms>& time_left) {
    ms t = time_left ? std::min(configured, *time_left) : configured;
    return static_cast<long>(std::max(t, ms{1}).count());
}

void set_method(CURL* h, const HttpRequest& request) {
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
}

}  // namespace

struct CurlTransport::Impl {
    TransportOptions options;
    CURL* handle = nullptr;
    // Drives `handle` and owns the connection cache, so polling reuses one connection.
    CURLM* multi = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {};

    void set_options(const HttpRequest& request, const CallLimits& limits, Transfer& t,
                     const Slist& headers);
    CURLcode perform(const CallLimits& limits);
    HttpOutcome finish(CURLcode rc, Transfer& t);
};

// curl_easy_perform looks at the token only through the progress callback,
// which libcurl calls about once a second while no bytes move: a Ctrl-C during
// a hanging request took up to ~1 s. The multi interface hands control back
// every k_poll_slice, so the token is read at least that often; libcurl's own
// timers (the timeouts set above) still end the poll on time.
CURLcode CurlTransport::Impl::perform(const CallLimits& limits) {
    const auto cancelled = [&limits] {
        return limits.cancel != nullptr && limits.cancel->cancelled();
    };
    // The same bound as CURLOPT_TIMEOUT_MS: a guard should libcurl's timer not fire.
    const auto stop_at = std::chrono::steady_clock::now() +
                         ms{timeout_ms(options.request_timeout, limits.time_left)};
    if (curl_multi_add_handle(multi, handle) != CURLM_OK) {
        throw Error(ErrorKind::Internal, "libcurl could not start a transfer");
    }
    CURLcode rc = CURLE_OK;
    for (;;) {
        int running = 0;
        const CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            std::snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_multi_strerror(mc));
            rc = CURLE_RECV_ERROR;
            break;
        }
        if (running == 0) {
            rc = CURLE_GOT_NOTHING;  // replaced by the transfer's own result below
            int queued = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == handle) {
                    rc = msg->data.result;
                }
            }
            break;
        }
        if (cancelled()) {
            rc = CURLE_ABORTED_BY_CALLBACK;  // what the progress callback would have caused
            break;
        }
        if (std::chrono::steady_clock::now() >= stop_at) {
            rc = CURLE_OPERATION_TIMEDOUT;
            break;
        }
        // Returns early when a socket is ready, libcurl's next timer is due, or a
        // signal interrupts the wait (EINTR is not an error for libcurl).
        if (curl_multi_poll(multi, nullptr, 0, static_cast<int>(k_poll_slice.count()), nullptr) !=
            CURLM_OK) {
            std::snprintf(errbuf, CURL_ERROR_SIZE, "poll() failed while waiting for the answer");
            rc = CURLE_RECV_ERROR;
            break;
        }
    }
    // Removing an unfinished transfer closes its connection; a finished one goes
    // back to the multi handle's cache.
    (void)curl_multi_remove_handle(multi, handle);
    return rc;
}

void CurlTransport::Impl::set_options(const HttpRequest& request, const CallLimits& limits,
                                      Transfer& t, const Slist& headers) {
    CURL* h = handle;
    setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    setopt(h, CURLOPT_URL, request.url.c_str());
    setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    setopt(h, CURLOPT_NOSIGNAL, 1L);
    setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(options.connect_timeout, limits.time_left));
    setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms(options.request_timeout, limits.time_left));
    setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_file.empty()) {
        setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
    }
    if (!options.user_agent.empty()) {
        setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    }
    setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    setopt(h, CURLOPT_WRITEDATA, &t);
    setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    setopt(h, CURLOPT_HEADERDATA, &t);
    setopt(h, CURLOPT_NOPROGRESS, 0L);
    setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    setopt(h, CURLOPT_XFERINFODATA, &t);
    if (options.max_response_bytes > 0) {
        // Refuses early when the server announces the size; on_body covers the rest.
        setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_bytes));
    }
    set_method(h, request);
    setopt(h, CURLOPT_HTTPHEADER, headers.get());
}

HttpOutcome CurlTransport::Impl::finish(CURLcode rc, Transfer& t) {
    HttpOutcome outcome;
    if (rc != CURLE_OK) {
        double pretransfer = 0;
        curl_easy_getinfo(handle, CURLINFO_PRETRANSFER_TIME, &pretransfer);
        TransportError err = classify(rc, errbuf, pretransfer > 0);
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            err.kind = TransportError::Kind::Cancelled;
        } else if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
            err.kind = TransportError::Kind::TooLarge;
            err.message = "the answer is larger than " +
                          std::to_string(options.max_response_bytes / (std::size_t{1024} * 1024)) +
                          " MiB";
        }
        outcome.error = std::move(err);
        return outcome;
    }
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &t.response.status);
    // libcurl reads both forms (seconds, HTTP date); 0 also means "absent".
    curl_off_t retry_after = 0;
    if (t.response.headers.count("retry-after") != 0 &&
        curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK) {
        t.response.retry_after = ms{std::clamp<curl_off_t>(retry_after, 0, 86400) * 1000};
    }
    outcome.response = std::move(t.response);
    return outcome;
}

CurlTransport::CurlTransport(TransportOptions options) : m_impl(std::make_unique<Impl>()) {
    global_init();
    m_impl->options = std::move(options);
    m_impl->handle = curl_easy_init();
    m_impl->multi = curl_multi_init();
    if (m_impl->handle == nullptr || m_impl->multi == nullptr) {
        if (m_impl->multi != nullptr) {
            curl_multi_cleanup(m_impl->multi);
        }
        if (m_impl->handle != nullptr) {
            curl_easy_cleanup(m_impl->handle);
        }
        throw Error(ErrorKind::Internal, "libcurl could not create a handle");
    }
}

CurlTransport::~CurlTransport() {
    if (m_impl) {
        // The easy handle is never left in the multi handle (perform removes it).
        if (m_impl->handle != nullptr) {
            curl_easy_cleanup(m_impl->handle);
        }
        if (m_impl->multi != nullptr) {
            curl_multi_cleanup(m_impl->multi);
        }
    }
}

CurlTransport::CurlTransport(CurlTransport&&) noexcept = default;
CurlTransport& CurlTransport::operator=(CurlTransport&&) noexcept = default;

HttpOutcome CurlTransport::send(const HttpRequest& request, const CallLimits& limits) {
    if (limits.cancel != nullptr && limits.cancel->cancelled()) {
        HttpOutcome o;
        o.error =
            TransportError{TransportError::Kind::Cancelled, "cancelled before sending", false};
        return o;
    }
    // reset keeps the handle; the multi handle keeps the connections.
    curl_easy_reset(m_impl->handle);
    m_impl->errbuf[0] = '\0';
    Transfer t;
    t.cancel = limits.cancel;
    t.max_bytes = m_impl->options.max_response_bytes > 0 ? m_impl->options.max_response_bytes
                                                         : static_cast<std::size_t>(-1);
    const Slist headers = header_list(request);
    m_impl->set_options(request, limits, t, headers);
    const CURLcode rc = m_impl->perform(limits);
    return m_impl->finish(rc, t);
}

std::string CurlTransport::library_version() {
    return curl_version();
}

}  // namespace xbranch
