#include "xbranch/resolver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <list>
#include <mutex>

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// More addresses than this add nothing but libpq tries (and error text).
constexpr std::size_t k_max_addresses = 8;

// One getaddrinfo_a request. glibc's helper thread reads name and hints and
// writes cb until it finishes, so the struct must outlive an abandoned lookup.
struct GaiRequest {
    std::string name;
    addrinfo hints{};
    gaicb cb{};

    ~GaiRequest() {
        if (cb.ar_result != nullptr) {
            freeaddrinfo(cb.ar_result);
        }
    }
    GaiRequest() = default;
    GaiRequest(const GaiRequest&) = delete;
    GaiRequest& operator=(const GaiRequest&) = delete;
};

// Abandoned lookups still running on glibc's thread. They are freed once
// finished, at the next abandon; a lookup hanging at exit stays reachable
// from here (not a leak, and nothing frees what glibc still writes to).
class Graveyard {
  public:
    void bury(std::unique_ptr<GaiRequest> request) {
        std::lock_guard lock(m_mu);
        m_requests.remove_if([](const std::unique_ptr<GaiRequest>& r) {
            return gai_error(&r->cb) != EAI_INPROGRESS;
        });
        m_requests.push_back(std::move(request));
    }

  private:
    std::mutex m_mu;
    std::list<std::unique_ptr<GaiRequest>> m_requests;
};

Graveyard& graveyard() {
    static Graveyard* g = new Graveyard();  // never destroyed: glibc may write late
    return *g;
}

std::string numeric_address(const addrinfo* ai) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* src = nullptr;
    if (ai->ai_family == AF_INET) {
        src = &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    } else if (ai->ai_family == AF_INET6) {
        src = &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr;
    } else {
        return {};
    }
    if (inet_ntop(ai->ai_family, src, text.data(), static_cast<socklen_t>(text.size())) ==
        nullptr) {
        return {};
    }
    return text.data();
}

class GaiLookup final : public PendingLookup {
  public:
    explicit GaiLookup(std::unique_ptr<GaiRequest> request, int start_error)
        : m_request(std::move(request)), m_start_error(start_error) {}
    ~GaiLookup() override {
        if (m_start_error != 0 || gai_error(&m_request->cb) != EAI_INPROGRESS) {
            return;  // nothing runs: the request is freed with this object
        }
        // Still queued: gai_cancel takes it off the queue and nothing touches it
        // again. Already running: glibc's thread writes to it when it finishes.
        if (gai_cancel(&m_request->cb) != EAI_CANCELED) {
            graveyard().bury(std::move(m_request));
        }
    }
    GaiLookup(const GaiLookup&) = delete;
    GaiLookup& operator=(const GaiLookup&) = delete;

    bool wait(ms slice) override {
        if (m_start_error != 0) {
            return true;
        }
        if (gai_error(&m_request->cb) != EAI_INPROGRESS) {
            return true;
        }
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(slice);
        timespec timeout{};
        timeout.tv_sec = static_cast<time_t>(seconds.count());
        timeout.tv_nsec = static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(slice - seconds).count());
        const std::array<const gaicb*, 1> list = {&m_request->cb};
        // 0: done; EAI_AGAIN: the slice passed; EAI_INTR: a signal (the caller looks).
        (void)gai_suspend(list.data(), 1, &timeout);
        return gai_error(&m_request->cb) != EAI_INPROGRESS;
    }

    ResolveResult result() override {
        ResolveResult r;
        const int code = m_start_error != 0 ? m_start_error : gai_error(&m_request->cb);
        if (code == 0) {
            for (const addrinfo* ai = m_request->cb.ar_result; ai != nullptr; ai = ai->ai_next) {
                std::string address = numeric_address(ai);
                if (!address.empty() &&
                    std::find(r.addresses.begin(), r.addresses.end(), address) ==
                        r.addresses.end() &&
                    r.addresses.size() < k_max_addresses) {
                    r.addresses.push_back(std::move(address));
                }
            }
            if (!r.addresses.empty()) {
                r.status = ResolveResult::Status::Ok;
                return r;
            }
            r.status = ResolveResult::Status::NotFound;
            r.message = "no IPv4 or IPv6 address";
            return r;
        }
        switch (code) {
            // What a name that does not exist (yet), or a DNS server that is not
            // answering, looks like: all of it can heal while a branch starts.
            case EAI_NONAME:
            case EAI_AGAIN:
            case EAI_FAIL:
#ifdef EAI_NODATA
            case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
            case EAI_ADDRFAMILY:
#endif
                r.status = ResolveResult::Status::NotFound;
                break;
            default:
                r.status = ResolveResult::Status::Failed;
                break;
        }
        r.message = gai_strerror(code);  // errno of EAI_SYSTEM is glibc's thread's, not ours
        return r;
    }

  private:
    std::unique_ptr<GaiRequest> m_request;
    int m_start_error;  // getaddrinfo_a's own error: nothing was started
};

}  // namespace

std::unique_ptr<PendingLookup> GaiResolver::start(const std::string& host) {
    auto request = std::make_unique<GaiRequest>();
    request->name = host;
    // What libpq asks for itself.
    request->hints.ai_family = AF_UNSPEC;
    request->hints.ai_socktype = SOCK_STREAM;
    request->cb.ar_name = request->name.c_str();
    request->cb.ar_request = &request->hints;
    std::array<gaicb*, 1> list = {&request->cb};
    const int rc = getaddrinfo_a(GAI_NOWAIT, list.data(), 1, nullptr);
    return std::make_unique<GaiLookup>(std::move(request), rc);
}

HostResolver& system_resolver() {
    static GaiResolver resolver;
    return resolver;
}

ResolveResult resolve_host(HostResolver& resolver, const std::string& host, const Clock& clock,
                           Deadline deadline, const CancelToken* cancel) {
    const auto stopped = [cancel] { return cancel != nullptr && cancel->cancelled(); };
    ResolveResult r;
    if (stopped()) {
        r.status = ResolveResult::Status::Cancelled;
        r.message = "stopped before the host name lookup";
        return r;
    }
    const auto lookup = resolver.start(host);
    for (;;) {
        const ms left = deadline.left(clock);
        if (left.count() <= 0) {
            r.status = ResolveResult::Status::Timeout;
            r.message = "the host name lookup did not answer in time";
            return r;
        }
        if (lookup->wait(std::min(left, k_resolve_slice))) {
            return lookup->result();
        }
        if (stopped()) {
            r.status = ResolveResult::Status::Cancelled;
            r.message = "stopped during the host name lookup";
            return r;
        }
    }
}

HostKind host_kind(std::string_view host) {
    if (!host.empty() && (host.front() == '/' || host.front() == '@')) {
        return HostKind::Socket;
    }
    const std::string text(host);
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        return HostKind::Literal;
    }
    return HostKind::Name;
}

LibpqHost libpq_host(const std::string& name, const std::vector<std::string>& addresses) {
    LibpqHost out;
    for (const auto& address : addresses) {
        if (!out.host.empty()) {
            out.host += ',';
            out.hostaddr += ',';
        }
        out.host += name;
        out.hostaddr += address;
    }
    return out;
}

std::string with_host_name(std::string_view message, const std::string& name,
                           const LibpqHost& given) {
    std::string out(message);
    std::string_view addresses = given.hostaddr;
    while (!addresses.empty()) {
        const auto comma = addresses.find(',');
        const std::string_view address = addresses.substr(0, comma);
        addresses =
            comma == std::string_view::npos ? std::string_view{} : addresses.substr(comma + 1);
        // Built with append: GCC 12's -Wrestrict misfires on `"\"" + s + "\""` at -O3.
        std::string quoted;
        quoted.append(1, '"').append(address).append(1, '"');
        std::string named;
        named.append(1, '"').append(name).append("\" (").append(address).append(1, ')');
        for (auto at = out.find(quoted); at != std::string::npos;
             at = out.find(quoted, at + named.size())) {
            out.replace(at, quoted.size(), named);
        }
    }
    return out;
}

}  // namespace xbranch
