// Host name lookups bounded by a deadline and a stop request. libpq resolves
// inside PQconnectPoll with a blocking getaddrinfo() that no deadline reaches,
// so the connection check resolves first (here) and hands libpq the address.
// The network edge is HostResolver (GaiResolver for real, fakes in unit tests);
// the bounded wait, resolve_host(), is the logic under test.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/clock.hpp"

namespace xbranch {

struct ResolveResult {
    enum class Status {
        Ok,         // addresses holds at least one address
        NotFound,   // the name does not resolve (yet): unknown, no address, DNS failing
        Failed,     // the lookup itself failed (out of memory, system error)
        Timeout,    // no answer before the deadline
        Cancelled,  // the token was cancelled
    };
    Status status = Status::Failed;
    std::vector<std::string> addresses;  // numeric, in the resolver's order, no duplicates
    std::string message;                 // why, for a failure
};

// One lookup that was started; destroying it abandons the lookup if it is
// still running (its memory is freed once the system lets go of it).
class PendingLookup {
  public:
    virtual ~PendingLookup() = default;
    // Waits at most `slice` (less when a signal arrives); true once answered.
    virtual bool wait(std::chrono::milliseconds slice) = 0;
    // The answer (status Ok, NotFound or Failed); only after wait() said true.
    virtual ResolveResult result() = 0;
};

class HostResolver {
  public:
    virtual ~HostResolver() = default;
    // Starts looking `host` up (TCP addresses, any family); never blocks.
    virtual std::unique_ptr<PendingLookup> start(const std::string& host) = 0;
};

// glibc's getaddrinfo_a: the lookup runs on glibc's helper thread.
class GaiResolver final : public HostResolver {
  public:
    std::unique_ptr<PendingLookup> start(const std::string& host) override;
};
HostResolver& system_resolver();  // one GaiResolver for the process

// How often resolve_host looks at the token and the deadline. getaddrinfo_a
// has no descriptor to poll beside the token's, but a signal interrupts its
// wait (gai_suspend returns EAI_INTR), so a SIGTERM is seen at once.
inline constexpr std::chrono::milliseconds k_resolve_slice{50};

// Resolves `host` through `resolver`, waiting in k_resolve_slice steps until
// answered, `deadline` (on `clock`) passed, or `cancel` (may be null) is set.
ResolveResult resolve_host(HostResolver& resolver, const std::string& host, const Clock& clock,
                           Deadline deadline, const CancelToken* cancel);

// What libpq's `host` holds: a name to resolve, a literal IPv4/IPv6 address
// (no lookup), or a Unix-socket directory ('/...') or abstract socket ('@...').
enum class HostKind { Name, Literal, Socket };
HostKind host_kind(std::string_view host);

// libpq's host and hostaddr for `name` resolved to `addresses` (at least
// one): the name once per address, so libpq tries each address in turn and
// still checks TLS (verify-full) and words its messages with the name.
struct LibpqHost {
    std::string host;
    std::string hostaddr;
};
LibpqHost libpq_host(const std::string& name, const std::vector<std::string>& addresses);

// libpq names the server by `hostaddr` when one is given ("server at
// \"10.0.0.7\""); this puts the name back as libpq writes it after its own
// lookup ("server at \"db.example\" (10.0.0.7)"). Unchanged without hostaddr.
std::string with_host_name(std::string_view message, const std::string& name,
                           const LibpqHost& given);

}  // namespace xbranch
