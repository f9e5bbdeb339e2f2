// The libpq plumbing below the connection check, the SQL hooks and the hooks'
// lock: opening a connection with exactly the handed-out details (pq_conn.hpp),
// waiting on its socket and running a query bounded and stoppable (pq_wait.hpp).
#include "xbranch/pq_conn.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "pq_wait.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::string trim(std::string_view text) {
    return trim_pq_text(text);
}

// A failure made from libpq's (verbose) error text.
ProbeResult failure_from_libpq(std::string_view text) {
    auto split = split_verbose_message(text);
    return probe_failure(ProbeReason::Other, std::move(split.sqlstate), split.message);
}

}  // namespace

PgConnection::~PgConnection() {
    if (m_conn != nullptr) {
        PQfinish(m_conn);
    }
}

namespace detail {

WaitResult wait_socket(int fd, bool for_write, const Clock& clock, Deadline deadline,
                       const CancelToken* cancel) {
    if (cancel != nullptr && cancel->cancelled()) {
        return WaitResult::Stopped;
    }
    std::optional<milliseconds> timeout;
    if (deadline.is_set()) {
        timeout = deadline.left(clock);
        if (timeout->count() <= 0) {
            return WaitResult::TimedOut;
        }
    }
    pollfd p{};
    p.fd = fd;
    p.events = static_cast<short>(for_write ? POLLOUT : POLLIN);
    // Errors and hang-ups (Ready) are for libpq to read and report.
    switch (poll_or_cancel(&p, 1, timeout, cancel)) {
        case PollEnd::Ready:
            return WaitResult::Ready;
        case PollEnd::TimedOut:
            return WaitResult::TimedOut;
        case PollEnd::Cancelled:
            return WaitResult::Stopped;
        case PollEnd::Failed:
            break;
    }
    return WaitResult::Failed;
}

namespace {

void cancel_on_server(PGconn* conn) {
    // Blocking, but it only opens a connection to a server that just talked to us.
    if (PGcancel* c = PQgetCancel(conn)) {
        std::array<char, 256> err{};
        (void)PQcancel(c, err.data(), static_cast<int>(err.size()));
        PQfreeCancel(c);
    }
}

std::string field(const PGresult* res, int code) {
    const char* v = PQresultErrorField(res, code);
    return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

bool run_query(PGconn* conn, const char* sql, steady_clock::time_point until,
               const CancelToken* cancel, std::string* first_value, QueryFailure* failure) {
    // The callers' steady_clock point, on the system clock.
    static const SystemClock k_system;
    const Deadline deadline =
        until == steady_clock::time_point::max() ? Deadline{} : Deadline::at(until);
    auto fail_from_conn = [&](ProbeReason fallback) {
        const auto split = split_verbose_message(PQerrorMessage(conn));
        const auto verdict = classify_failure(split.sqlstate, split.message);
        failure->reason = verdict.reason == ProbeReason::Other ? fallback : verdict.reason;
        failure->sqlstate = split.sqlstate;
        failure->message = split.message;
        return false;
    };
    auto fail_wait = [&](WaitResult w) {
        if (w == WaitResult::Stopped || w == WaitResult::TimedOut) {
            cancel_on_server(conn);
        }
        failure->reason = w == WaitResult::Stopped    ? ProbeReason::Cancelled
                          : w == WaitResult::TimedOut ? ProbeReason::Timeout
                                                      : ProbeReason::Other;
        failure->message = w == WaitResult::Stopped    ? "stopped while waiting for the server"
                           : w == WaitResult::TimedOut ? "no answer from the server in time"
                                                       : "poll() failed";
        return false;
    };

    if (PQsetnonblocking(conn, 1) != 0 || PQsendQuery(conn, sql) == 0) {
        return fail_from_conn(ProbeReason::Reset);
    }
    for (;;) {
        const int f = PQflush(conn);
        if (f == 0) {
            break;
        }
        if (f < 0) {
            return fail_from_conn(ProbeReason::Reset);
        }
        const auto w = wait_socket(PQsocket(conn), true, k_system, deadline, cancel);
        if (w != WaitResult::Ready) {
            return fail_wait(w);
        }
    }
    bool ok = true;
    for (;;) {
        while (PQisBusy(conn) == 0) {
            PGresult* res = PQgetResult(conn);
            if (res == nullptr) {
                return ok;
            }
            const auto status = PQresultStatus(res);
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK ||
                status == PGRES_EMPTY_QUERY) {
                if (first_value != nullptr && PQntuples(res) > 0 && PQnfields(res) > 0) {
                    *first_value = PQgetvalue(res, 0, 0);
                }
            } else if (ok) {
                ok = false;
                failure->reason = ProbeReason::Other;
                if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT ||
                    status == PGRES_COPY_BOTH) {
                    failure->message = "COPY ... FROM STDIN / TO STDOUT is not supported here";
                    PQclear(res);
                    return false;  // the connection is mid-copy: the caller closes it
                }
                failure->sqlstate = field(res, PG_DIAG_SQLSTATE);
                failure->message = field(res, PG_DIAG_MESSAGE_PRIMARY);
                if (failure->message.empty()) {
                    failure->message = trim(PQresultErrorMessage(res));
                }
                const auto detail = field(res, PG_DIAG_MESSAGE_DETAIL);
                if (!detail.empty()) {
                    failure->message += " (" + detail + ")";
                }
                const auto position = field(res, PG_DIAG_STATEMENT_POSITION);
                failure->position = position.empty() ? 0 : std::atoi(position.c_str());
            }
            PQclear(res);
        }
        const auto w = wait_socket(PQsocket(conn), false, k_system, deadline, cancel);
        if (w != WaitResult::Ready) {
            return fail_wait(w);
        }
        if (PQconsumeInput(conn) == 0) {
            return fail_from_conn(ProbeReason::Reset);
        }
    }
}

}  // namespace detail

ConnectOutcome open_connection(const ConnectionInfo& info, const Clock& clock, Deadline deadline,
                               const CancelToken* cancel, HostResolver& resolver) {
    const auto start = clock.now();
    const milliseconds budget = deadline.left(clock);
    ConnectOutcome out;
    auto finish = [&](ProbeResult r) {
        r.elapsed = std::chrono::duration_cast<milliseconds>(clock.now() - start);
        out.result = std::move(r);
        return std::move(out);
    };
    register_secret(info.password);
    if (info.host.empty()) {
        return finish(probe_failure(ProbeReason::Other, "", "the connection has no host"));
    }
    if (cancel != nullptr && cancel->cancelled()) {
        return finish(probe_failure(ProbeReason::Cancelled, "", "stopped before connecting"));
    }
    if (deadline.passed(clock)) {
        return finish(
            probe_failure(ProbeReason::Timeout, "", "no time left to connect to " + info.host));
    }
    const std::string port = std::to_string(info.port);
    // libpq's own lookup blocks inside PQconnectPoll for as long as DNS takes,
    // past any deadline and deaf to a stop: resolve here, in slices, and hand
    // libpq the addresses. Literals and socket paths need no lookup.
    LibpqHost host{info.host, ""};
    if (host_kind(info.host) == HostKind::Name) {
        const auto looked_up = resolve_host(resolver, info.host, clock, deadline, cancel);
        switch (looked_up.status) {
            case ResolveResult::Status::Ok:
                host = libpq_host(info.host, looked_up.addresses);
                break;
            case ResolveResult::Status::Cancelled:
                return finish(probe_failure(ProbeReason::Cancelled, "", looked_up.message));
            case ResolveResult::Status::Timeout:
                return finish(probe_failure(ProbeReason::Timeout, "",
                                            "looking up " + info.host + " took longer than " +
                                                std::to_string(budget.count()) + " ms"));
            case ResolveResult::Status::NotFound:
                // libpq's words, so anything that reads its messages reads these.
                return finish(probe_failure(ProbeReason::NameResolution, "",
                                            "could not translate host name \"" + info.host +
                                                "\" to address: " + looked_up.message));
            case ResolveResult::Status::Failed:
                return finish(
                    probe_failure(ProbeReason::Other, "",
                                  "looking up " + info.host + " failed: " + looked_up.message));
        }
    }
    // Every parameter set, so no PG* variable or ~/.pgpass changes what is
    // checked: the check proves the very URL xbranch hands out.
    std::vector<std::pair<const char*, std::string>> params = {
        {"host", host.host},
        {"port", port},
        {"dbname", info.database.empty() ? info.username : info.database},
        {"user", info.username},
        {"password", info.password},
        {"passfile", "/dev/null"},
        {"sslmode", info.sslmode.empty() ? std::string("prefer") : info.sslmode},
        {"gssencmode", "disable"},
        {"application_name", "xbranch"},
    };
    if (!host.hostaddr.empty()) {
        params.emplace_back("hostaddr", host.hostaddr);
    }
    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [k, v] : params) {
        keys.push_back(k);
        values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);

    PGconn* raw = PQconnectStartParams(keys.data(), values.data(), 0);
    if (raw == nullptr) {
        return finish(probe_failure(ProbeReason::Other, "", "libpq: out of memory"));
    }
    auto conn = std::make_unique<PgConnection>(raw);
    // Verbose server errors carry the SQLSTATE, which the classification prefers.
    PQsetErrorVerbosity(raw, PQERRORS_VERBOSE);
    if (PQstatus(raw) == CONNECTION_BAD) {
        return finish(failure_from_libpq(with_host_name(PQerrorMessage(raw), info.host, host)));
    }
    auto status = PGRES_POLLING_WRITING;
    for (;;) {
        if (status == PGRES_POLLING_OK) {
            break;
        }
        if (status == PGRES_POLLING_FAILED) {
            return finish(failure_from_libpq(with_host_name(PQerrorMessage(raw), info.host, host)));
        }
        const int fd = PQsocket(raw);
        if (fd < 0) {
            return finish(failure_from_libpq(with_host_name(PQerrorMessage(raw), info.host, host)));
        }
        const auto w =
            detail::wait_socket(fd, status == PGRES_POLLING_WRITING, clock, deadline, cancel);
        if (w == detail::WaitResult::Stopped) {
            return finish(probe_failure(ProbeReason::Cancelled, "", "stopped while connecting"));
        }
        if (w == detail::WaitResult::TimedOut) {
            return finish(probe_failure(ProbeReason::Timeout, "",
                                        "no answer from " + info.host + ":" + port + " within " +
                                            std::to_string(budget.count()) + " ms"));
        }
        if (w == detail::WaitResult::Failed) {
            return finish(probe_failure(ProbeReason::Other, "", "poll() failed"));
        }
        status = PQconnectPoll(raw);
    }
    out.connection = std::move(conn);
    ProbeResult ok;
    ok.ok = true;
    ok.reason = ProbeReason::Ok;
    return finish(std::move(ok));
}

}  // namespace xbranch
