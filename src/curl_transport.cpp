#include "xbranch/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

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

// The final response's headers (libcurl's header API: the last request's,
// so not those of a 100 Continue), names lower-cased; of a repeated header
// the last one.
void collect_headers(CURL* h, std::map<std::string, std::string>& out) {
    out.clear();
    curl_header* prev = nullptr;
    while (curl_header* hd = curl_easy_nextheader(h, CURLH_HEADER, -1, prev)) {
        std::string name(hd->name);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        out[name] = hd->value;
        prev = hd;
    }
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

// One request on its way: its easy handle (the transport's, reused), what
// its callbacks fill, and how it ended.
struct Job {
    CURL* handle = nullptr;
    Transfer t;
    Slist headers;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::chrono::steady_clock::time_point
        guard{};  // CURLOPT_TIMEOUT_MS, should libcurl's timer not fire
    bool started = false;
    bool done = false;
    CURLcode rc = CURLE_OK;
    std::optional<HttpOutcome> outcome;  // set when done
};

}  // namespace

struct CurlTransport::Impl {
    TransportOptions options;
    // Easy handles kept for reuse (reset before each request); the multi
    // handle drives them and owns the connection cache, so polling reuses
    // one connection.
    std::vector<CURL*> spare;
    CURLM* multi = nullptr;

    CURL* take_handle();
    void give_back(CURL* handle);
    void set_options(const HttpRequest& request, const CallLimits& limits, Job& job);
    // Performs the jobs, at most `max_in_flight` at a time, until each is done.
    void run(std::vector<Job>& jobs, const std::vector<HttpRequest>& requests,
             const CallLimits& limits, std::size_t max_in_flight);
    HttpOutcome finish(Job& job) const;
};

CURL* CurlTransport::Impl::take_handle() {
    if (!spare.empty()) {
        CURL* h = spare.back();
        spare.pop_back();
        curl_easy_reset(h);
        return h;
    }
    CURL* h = curl_easy_init();
    if (h == nullptr) {
        throw Error(ErrorKind::Internal, "libcurl could not create a handle");
    }
    return h;
}

void CurlTransport::Impl::give_back(CURL* handle) {
    spare.push_back(handle);
}

// Every wait is one curl_multi_poll that also watches the token's eventfd:
// a cancel (a signal) wakes it at once, and libcurl's own timers (the
// timeouts set below) end it on time. No slices, no progress callback.
void CurlTransport::Impl::run(std::vector<Job>& jobs, const std::vector<HttpRequest>& requests,
                              const CallLimits& limits, std::size_t max_in_flight) {
    using Steady = std::chrono::steady_clock;
    const auto cancelled = [&limits] {
        return limits.cancel != nullptr && limits.cancel->cancelled();
    };
    std::size_t next = 0;
    std::size_t active = 0;
    auto end_job = [&](Job& job, CURLcode rc) {
        job.rc = rc;
        job.done = true;
        if (job.started) {
            // Removing an unfinished transfer closes its connection; a finished
            // one goes back to the multi handle's cache.
            (void)curl_multi_remove_handle(multi, job.handle);
            --active;
        }
        job.outcome = finish(job);
        if (job.handle != nullptr) {
            give_back(job.handle);  // the next request reuses it
            job.handle = nullptr;
        }
    };
    auto start_more = [&] {
        while (active < max_in_flight && next < jobs.size()) {
            Job& job = jobs[next];
            job.handle = take_handle();
            set_options(requests[next], limits, job);
            ++next;
            if (curl_multi_add_handle(multi, job.handle) != CURLM_OK) {
                std::snprintf(job.errbuf, CURL_ERROR_SIZE, "libcurl could not start a transfer");
                end_job(job, CURLE_FAILED_INIT);
                continue;
            }
            job.started = true;
            job.guard = Steady::now() + ms{timeout_ms(options.request_timeout, limits.time_left)};
            ++active;
        }
    };
    auto end_all = [&](CURLcode rc, const char* why) {
        for (Job& job : jobs) {
            if (!job.done) {
                if (why != nullptr) {
                    std::snprintf(job.errbuf, CURL_ERROR_SIZE, "%s", why);
                }
                end_job(job, rc);
            }
        }
    };
    curl_waitfd wake{};
    wake.fd = limits.cancel != nullptr ? limits.cancel->fd() : -1;
    wake.events = CURL_WAIT_POLLIN;
    start_more();
    for (;;) {
        int running = 0;
        const CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            end_all(CURLE_RECV_ERROR, curl_multi_strerror(mc));
            return;
        }
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            for (Job& job : jobs) {
                if (job.started && !job.done && job.handle == msg->easy_handle) {
                    end_job(job, msg->data.result);
                    break;
                }
            }
        }
        if (cancelled()) {
            end_all(CURLE_ABORTED_BY_CALLBACK, nullptr);  // what a progress callback would cause
            return;
        }
        const std::size_t before = next;
        start_more();
        if (active == 0 && next == jobs.size()) {
            return;
        }
        if (next != before) {
            continue;  // let libcurl start the new transfers before waiting
        }
        auto earliest = Steady::time_point::max();
        const auto now = Steady::now();
        for (Job& job : jobs) {
            if (job.started && !job.done) {
                if (now >= job.guard) {
                    end_job(job, CURLE_OPERATION_TIMEDOUT);
                } else {
                    earliest = std::min(earliest, job.guard);
                }
            }
        }
        if (active == 0) {
            continue;  // start the rest, or return
        }
        const auto left = std::chrono::ceil<ms>(earliest - now);
        const int wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 1, INT_MAX));
        // Returns when a socket is ready, libcurl's next timer is due, the
        // token's fd is readable, or a signal interrupts it (not an error).
        if (curl_multi_poll(multi, wake.fd >= 0 ? &wake : nullptr, wake.fd >= 0 ? 1 : 0, wait_ms,
                            nullptr) != CURLM_OK) {
            end_all(CURLE_RECV_ERROR, "poll() failed while waiting for the answer");
            return;
        }
    }
}

void CurlTransport::Impl::set_options(const HttpRequest& request, const CallLimits& limits,
                                      Job& job) {
    CURL* h = job.handle;
    job.t.max_bytes =
        options.max_response_bytes > 0 ? options.max_response_bytes : static_cast<std::size_t>(-1);
    job.headers = header_list(request);
    setopt(h, CURLOPT_ERRORBUFFER, job.errbuf);
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
    setopt(h, CURLOPT_WRITEDATA, &job.t);
    if (options.max_response_bytes > 0) {
        // Refuses early when the server announces the size; on_body covers the rest.
        setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_bytes));
    }
    set_method(h, request);
    setopt(h, CURLOPT_HTTPHEADER, job.headers.get());
}

HttpOutcome CurlTransport::Impl::finish(Job& job) const {
    HttpOutcome outcome;
    if (!job.started) {
        // Never handed to libcurl: cancelled first, or it could not start.
        TransportError err = classify(job.rc, job.errbuf, false);
        if (job.rc == CURLE_ABORTED_BY_CALLBACK) {
            err =
                TransportError{TransportError::Kind::Cancelled, "cancelled before sending", false};
        }
        outcome.error = std::move(err);
        return outcome;
    }
    if (job.rc != CURLE_OK) {
        double pretransfer = 0;
        curl_easy_getinfo(job.handle, CURLINFO_PRETRANSFER_TIME, &pretransfer);
        TransportError err = classify(job.rc, job.errbuf, pretransfer > 0);
        if (job.rc == CURLE_ABORTED_BY_CALLBACK) {
            err.kind = TransportError::Kind::Cancelled;
            err.message = "cancelled";
        } else if (job.t.too_large || job.rc == CURLE_FILESIZE_EXCEEDED) {
            err.kind = TransportError::Kind::TooLarge;
            err.message = "the answer is larger than " +
                          std::to_string(options.max_response_bytes / (std::size_t{1024} * 1024)) +
                          " MiB";
        }
        outcome.error = std::move(err);
        return outcome;
    }
    curl_easy_getinfo(job.handle, CURLINFO_RESPONSE_CODE, &job.t.response.status);
    collect_headers(job.handle, job.t.response.headers);
    // libcurl reads both forms (seconds, HTTP date); 0 also means "absent".
    curl_off_t retry_after = 0;
    if (job.t.response.headers.count("retry-after") != 0 &&
        curl_easy_getinfo(job.handle, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK) {
        job.t.response.retry_after = ms{std::clamp<curl_off_t>(retry_after, 0, 86400) * 1000};
    }
    outcome.response = std::move(job.t.response);
    return outcome;
}

CurlTransport::CurlTransport(TransportOptions options) : m_impl(std::make_unique<Impl>()) {
    global_init();
    m_impl->options = std::move(options);
    m_impl->multi = curl_multi_init();
    if (m_impl->multi == nullptr) {
        throw Error(ErrorKind::Internal, "libcurl could not create a handle");
    }
    m_impl->give_back(m_impl->take_handle());
}

CurlTransport::~CurlTransport() {
    if (m_impl) {
        // No easy handle is left in the multi handle (run removes each).
        for (CURL* h : m_impl->spare) {
            curl_easy_cleanup(h);
        }
        if (m_impl->multi != nullptr) {
            curl_multi_cleanup(m_impl->multi);
        }
    }
}

CurlTransport::CurlTransport(CurlTransport&&) noexcept = default;
CurlTransport& CurlTransport::operator=(CurlTransport&&) noexcept = default;

HttpOutcome CurlTransport::send(const HttpRequest& request, const CallLimits& limits) {
    return std::move(send_many({request}, limits, 1).front());
}

std::vector<HttpOutcome> CurlTransport::send_many(const std::vector<HttpRequest>& requests,
                                                  const CallLimits& limits,
                                                  std::size_t max_in_flight) {
    std::vector<Job> jobs(requests.size());
    if (limits.cancel != nullptr && limits.cancel->cancelled()) {
        for (Job& job : jobs) {
            job.rc = CURLE_ABORTED_BY_CALLBACK;
            job.outcome = m_impl->finish(job);
        }
    } else {
        try {
            m_impl->run(jobs, requests, limits, std::max<std::size_t>(max_in_flight, 1));
        } catch (...) {
            for (Job& job : jobs) {
                if (job.started && !job.done) {
                    (void)curl_multi_remove_handle(m_impl->multi, job.handle);
                }
                if (job.handle != nullptr) {
                    m_impl->give_back(job.handle);
                }
            }
            throw;
        }
    }
    std::vector<HttpOutcome> out;
    out.reserve(jobs.size());
    for (Job& job : jobs) {
        out.push_back(std::move(*job.outcome));
    }
    return out;
}

std::string CurlTransport::library_version() {
    return curl_version();
}

}  // namespace xbranch
