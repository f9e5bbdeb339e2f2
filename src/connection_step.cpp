// The connection step (create_steps.hpp): the credentials of a ready
// branch, asked again while they lag behind, into the connection handed out
// and its pooled variant.
#include <random>

#include "create_steps.hpp"
#include "xbranch/percent.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::steps {
namespace {

using ms = std::chrono::milliseconds;

Credentials fetch_credentials(const StepEnv& env, const std::string& id, Deadline deadline,
                              bool wait_for_lag) {
    const std::string op = "get credentials of branch " + id;
    Credentials creds;
    std::optional<Error> last_error;
    // Right after readiness the credentials may lag behind for a moment; an
    // unanswered call (429, 5xx) is asked again too, until the deadline.
    RetryPolicy lag;
    lag.base = ms{200};
    lag.max_backoff = ms{1000};
    Waiter waiter(env.clock, env.control.cancel, deadline);
    const Limits limits = env.limits(deadline);
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto try_once = [&](int) {
        try {
            creds = env.client.credentials(id, limits);
            return Attempt::done();
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::NotFound && e.kind() != ErrorKind::Unavailable) {
                throw;
            }
            last_error = e;
            return Attempt::retry("not available yet: " + std::string(e.what()));
        }
    };
    const LoopEnd end = RetryLoop(waiter, lag, [&] {
                            return unit(rng);
                        }).run(op, try_once, /*max_attempts=*/wait_for_lag ? 0 : 1);
    if (end.why == LoopEnd::Why::Cancelled) {
        throw env.interrupted(op);
    }
    if (end.why != LoopEnd::Why::Done) {
        throw *last_error;
    }
    return creds;
}

}  // namespace

ConnectionInfo connection_for(const StepEnv& env, const BranchDetails& details, Endpoint endpoint,
                              const std::string& sslmode, Deadline deadline, bool wait_for_lag) {
    const std::string& id = details.branch.id;
    const std::string op = "get credentials of branch " + id;
    const Credentials creds = fetch_credentials(env, id, deadline, wait_for_lag);
    // The URL form carries the password percent-encoded: hide that form too.
    register_secret(percent_encode(creds.password));
    ConnectionInfo info;
    info.username = creds.username;
    info.password = creds.password;
    info.sslmode = sslmode;
    info.database = "xata";
    // Host, port and database: the credentials answer's own fields (hosted
    // service), else a URL in it, else the describe answer's URL (Xata Core).
    auto take_url = [&info](const std::optional<std::string>& text) {
        std::optional<ParsedUrl> url = text ? parse_postgres_url(*text) : std::nullopt;
        if (url) {
            info.host = url->host;
            info.port = url->port.value_or(5432);
            if (!url->database.empty()) {
                info.database = url->database;
            }
        }
        return url.has_value();
    };
    if (creds.host) {
        info.host = *creds.host;
        if (creds.port) {
            info.port = *creds.port;
        }
        if (creds.database) {
            info.database = *creds.database;
        }
    } else if (!take_url(creds.connection_string) && !take_url(details.connection_string)) {
        if (details.branch.region.empty()) {
            throw Error(ErrorKind::Protocol,
                        "the API gave no host for branch " + id + " and no region to derive one")
                .with_operation(op);
        }
        info.host = XataClient::hosted_host(id, details.branch.region);
    }
    info.host = apply_endpoint(info.host, endpoint);
    return info;
}

Connections with_database_and_pooler(ConnectionInfo info, const std::string& database) {
    if (!database.empty()) {
        info.database = database;
    }
    Connections out;
    out.direct = info;
    out.pooled = info;
    // An IP address (self-hosted, the emulator) has no DNS label to mark.
    const std::string& host = info.host;
    const bool ip_literal = host.find(':') != std::string::npos ||
                            host.find_first_not_of("0123456789.") == std::string::npos;
    if (!ip_literal) {
        out.pooled.host = apply_endpoint(host, Endpoint::Pooler);
    }
    return out;
}

Connections connections_for(const StepEnv& env, const CreateRequest& request,
                            const BranchDetails& details, Deadline deadline) {
    return with_database_and_pooler(
        connection_for(env, details, request.endpoint, request.sslmode, deadline),
        request.database);
}

}  // namespace xbranch::steps
