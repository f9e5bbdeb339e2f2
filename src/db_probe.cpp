#include "xbranch/db_probe.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <optional>
#include <vector>

#include "pq_wait.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

bool has(std::string_view text, std::string_view needle) {
    return text.find(needle) != std::string_view::npos;
}

std::string trim(std::string_view text) {
    std::size_t b = 0;
    std::size_t e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b])) != 0) {
        ++b;
    }
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1])) != 0) {
        --e;
    }
    return std::string(text.substr(b, e - b));
}

bool is_sqlstate(std::string_view s) {
    return s.size() == 5 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
           });
}

milliseconds since(steady_clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

// A failure made from libpq's (verbose) error text.
ProbeResult failure_from_libpq(std::string_view text) {
    auto split = split_verbose_message(text);
    return probe_failure(ProbeReason::Other, std::move(split.sqlstate), split.message);
}

}  // namespace

const char* reason_name(ProbeReason reason) {
    switch (reason) {
        case ProbeReason::Ok:
            return "ok";
        case ProbeReason::AuthFailed:
            return "authentication failed";
        case ProbeReason::Starting:
            return "server starting";
        case ProbeReason::Refused:
            return "connection refused";
        case ProbeReason::Reset:
            return "connection reset";
        case ProbeReason::NameResolution:
            return "host name does not resolve";
        case ProbeReason::TlsHandshake:
            return "TLS handshake failed";
        case ProbeReason::TlsVerify:
            return "server certificate not trusted";
        case ProbeReason::DatabaseMissing:
            return "database does not exist";
        case ProbeReason::SslModeRefused:
            return "sslmode refused by the server";
        case ProbeReason::Timeout:
            return "no answer in time";
        case ProbeReason::Cancelled:
            return "cancelled";
        case ProbeReason::Other:
            return "other error";
    }
    return "other error";
}

ProbeVerdict verdict_for(ProbeReason reason) {
    switch (reason) {
        case ProbeReason::Ok:
            return {reason, false, 1};
        // What a branch that is still settling answers: until the deadline.
        case ProbeReason::AuthFailed:
        case ProbeReason::Starting:
        case ProbeReason::Refused:
        case ProbeReason::Reset:
        case ProbeReason::NameResolution:
        case ProbeReason::TlsHandshake:
        case ProbeReason::Timeout:
            return {reason, true, 0};
        // Cannot heal, but a second try guards against a one-off glitch.
        case ProbeReason::DatabaseMissing:
        case ProbeReason::SslModeRefused:
            return {reason, false, 2};
        // The same certificate fails the same way; a stop is final.
        case ProbeReason::TlsVerify:
        case ProbeReason::Cancelled:
            return {reason, false, 1};
        // Unknown: a few tries, then say what it was.
        case ProbeReason::Other:
            return {reason, true, 3};
    }
    return {ProbeReason::Other, true, 3};
}

ProbeVerdict classify_failure(std::string_view sqlstate, std::string_view message) {
    // Server errors carry a SQLSTATE, which does not depend on the language.
    if (sqlstate == "28000" && has(message, "no pg_hba.conf entry") &&
        (has(message, "no encryption") || has(message, "SSL off"))) {
        return verdict_for(ProbeReason::SslModeRefused);  // hostssl only: plain is refused
    }
    if (sqlstate == "28P01" || sqlstate == "28000") {
        return verdict_for(ProbeReason::AuthFailed);
    }
    if (sqlstate == "3D000") {
        return verdict_for(ProbeReason::DatabaseMissing);
    }
    if (sqlstate == "57P03") {
        return verdict_for(ProbeReason::Starting);
    }
    if (sqlstate == "53300" || sqlstate == "57P01" || sqlstate == "57P02" ||
        sqlstate.substr(0, 2) == "08") {
        // Too many clients, an administrator shutdown, a broken connection:
        // the server is there and may take us a moment later.
        return verdict_for(ProbeReason::Reset);
    }
    if (!sqlstate.empty()) {
        return verdict_for(ProbeReason::Other);
    }
    // libpq's own errors (English: xbranch does not call setlocale, so libpq's
    // gettext answers untranslated text).
    if (has(message, "server does not support SSL, but SSL was required") ||
        has(message, "server does not support GSS")) {
        return verdict_for(ProbeReason::SslModeRefused);
    }
    if (has(message, "certificate verify failed") || has(message, "root certificate file") ||
        has(message, "does not match host name") || has(message, "certificate has expired") ||
        has(message, "certificate is not yet valid") ||
        has(message, "could not get home directory to locate root certificate")) {
        return verdict_for(ProbeReason::TlsVerify);
    }
    if (has(message, "no password supplied")) {
        // The URL has no password and the server wants one: no wait fixes that.
        return {ProbeReason::AuthFailed, false, 1};
    }
    if (has(message, "password authentication failed") ||
        (has(message, "role \"") && has(message, "does not exist"))) {
        return verdict_for(ProbeReason::AuthFailed);
    }
    if (has(message, "database \"") && has(message, "does not exist")) {
        return verdict_for(ProbeReason::DatabaseMissing);
    }
    if (has(message, "the database system is starting up") ||
        has(message, "not yet accepting connections") ||
        has(message, "the database system is not accepting connections") ||
        has(message, "the database system is in recovery mode") ||
        has(message, "the database system is shutting down")) {
        return verdict_for(ProbeReason::Starting);
    }
    if (has(message, "could not translate host name") ||
        has(message, "Name or service not known") ||
        has(message, "Temporary failure in name resolution") ||
        has(message, "nodename nor servname")) {
        return verdict_for(ProbeReason::NameResolution);
    }
    if (has(message, "Connection refused")) {
        return verdict_for(ProbeReason::Refused);
    }
    if (has(message, "SSL SYSCALL error") || has(message, "SSL error") ||
        has(message, "SSL connection has been closed unexpectedly") ||
        has(message, "SSL negotiation") || has(message, "unexpected eof while reading")) {
        return verdict_for(ProbeReason::TlsHandshake);
    }
    if (has(message, "Connection reset by peer") ||
        has(message, "server closed the connection unexpectedly") || has(message, "Broken pipe") ||
        has(message, "could not receive data from server") ||
        has(message, "could not send data to server") ||
        has(message, "no connection to the server") || has(message, "Connection timed out") ||
        has(message, "No route to host") || has(message, "Network is unreachable")) {
        return verdict_for(ProbeReason::Reset);
    }
    if (has(message, "timeout expired")) {
        return verdict_for(ProbeReason::Timeout);
    }
    return verdict_for(ProbeReason::Other);
}

SplitMessage split_verbose_message(std::string_view text) {
    SplitMessage out;
    std::string kept;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string line(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.rfind("LOCATION:", 0) == 0) {
            continue;  // server source file and line: noise for a user
        }
        // "...: FATAL:  28P01: password ..." -> remember the code, drop it.
        for (const char* severity : {"FATAL:  ", "ERROR:  ", "PANIC:  "}) {
            const auto at = line.find(severity);
            if (at == std::string::npos) {
                continue;
            }
            const auto code_at = at + std::string_view(severity).size();
            const auto code = std::string_view(line).substr(code_at, 5);
            if (is_sqlstate(code) && line.compare(code_at + 5, 2, ": ") == 0) {
                if (out.sqlstate.empty()) {
                    out.sqlstate = std::string(code);
                }
                line.erase(code_at, 7);
            }
            break;
        }
        if (!kept.empty()) {
            kept += '\n';
        }
        kept += line;
    }
    out.message = trim(kept);
    return out;
}

ProbeResult probe_failure(ProbeReason reason, std::string sqlstate, const std::string& message) {
    ProbeResult r;
    const auto verdict = reason == ProbeReason::Other && !message.empty()
                             ? classify_failure(sqlstate, message)
                             : verdict_for(reason);
    r.ok = false;
    r.reason = verdict.reason;
    r.retry = verdict.retry;
    r.max_tries = verdict.max_tries;
    r.sqlstate = std::move(sqlstate);
    r.message = redact(message);
    return r;
}

PgConnection::~PgConnection() {
    if (m_conn != nullptr) {
        PQfinish(m_conn);
    }
}

namespace detail {

WaitResult wait_socket(int fd, bool for_write, steady_clock::time_point deadline,
                       const StopFn& should_stop) {
    for (;;) {
        if (should_stop && should_stop()) {
            return WaitResult::Stopped;
        }
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
        if (left.count() <= 0) {
            return WaitResult::TimedOut;
        }
        pollfd p{};
        p.fd = fd;
        p.events = static_cast<short>(for_write ? POLLOUT : POLLIN);
        const auto slice = std::min(left, k_poll_slice);
        const int n = ::poll(&p, 1, static_cast<int>(slice.count()) + 1);
        if (n > 0) {
            // Errors and hang-ups are for libpq to read and report.
            return WaitResult::Ready;
        }
        if (n < 0 && errno != EINTR) {
            return WaitResult::Failed;
        }
    }
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

bool run_query(PGconn* conn, const char* sql, steady_clock::time_point deadline,
               const StopFn& should_stop, std::string* first_value, QueryFailure* failure) {
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
        const auto w = wait_socket(PQsocket(conn), true, deadline, should_stop);
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
        const auto w = wait_socket(PQsocket(conn), false, deadline, should_stop);
        if (w != WaitResult::Ready) {
            return fail_wait(w);
        }
        if (PQconsumeInput(conn) == 0) {
            return fail_from_conn(ProbeReason::Reset);
        }
    }
}

}  // namespace detail

ConnectOutcome open_connection(const ConnectionInfo& info, milliseconds budget,
                               const StopFn& should_stop, HostResolver& resolver) {
    const auto start = steady_clock::now();
    const auto deadline = start + budget;
    ConnectOutcome out;
    auto finish = [&](ProbeResult r) {
        r.elapsed = since(start);
        out.result = std::move(r);
        return std::move(out);
    };
    register_secret(info.password);
    if (info.host.empty()) {
        return finish(probe_failure(ProbeReason::Other, "", "the connection has no host"));
    }
    const std::string port = std::to_string(info.port);
    // libpq's own lookup blocks inside PQconnectPoll for as long as DNS takes,
    // past any deadline and deaf to a stop: resolve here, in slices, and hand
    // libpq the addresses. Literals and socket paths need no lookup.
    LibpqHost host{info.host, ""};
    if (host_kind(info.host) == HostKind::Name) {
        const SystemClock clock;
        const auto looked_up =
            resolve_host(resolver, info.host, clock, Deadline::at(deadline), should_stop);
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
            detail::wait_socket(fd, status == PGRES_POLLING_WRITING, deadline, should_stop);
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

ProbeResult PqProber::try_login(const ConnectionInfo& info, milliseconds budget,
                                const StopFn& should_stop) {
    const auto start = steady_clock::now();
    auto opened = open_connection(info, budget, should_stop, *m_resolver);
    if (!opened.result.ok) {
        return opened.result;
    }
    std::string value;
    detail::QueryFailure failure;
    ProbeResult r;
    if (!detail::run_query(opened.connection->get(), "SELECT 1", start + budget, should_stop,
                           &value, &failure)) {
        r = probe_failure(failure.reason, failure.sqlstate, failure.message);
    } else if (value != "1") {
        r = probe_failure(ProbeReason::Other, "", "SELECT 1 answered '" + value + "'");
    } else {
        r.ok = true;
        r.reason = ProbeReason::Ok;
    }
    r.elapsed = since(start);
    return r;
}

ProbeLoopResult probe_until_usable(DatabaseProber& prober, Waiter& waiter,
                                   const ConnectionInfo& info,
                                   const std::function<void(int)>& on_try, ProbeLoopOptions options,
                                   const std::function<double()>& unit_random) {
    ProbeLoopResult out;
    out.last = probe_failure(ProbeReason::Timeout, "", "the deadline passed before a login try");
    if (waiter.cancelled()) {
        out.last = probe_failure(ProbeReason::Cancelled, "", "stopped before a login try");
        return out;
    }
    if (waiter.deadline_passed()) {
        return out;
    }
    // The one retry policy (retry.hpp), with the short steps a settling
    // branch needs: 50 ms doubling to 250 ms, no attempt cap but the deadline.
    // The cap keeps "usable" within ~0.3 s of the password taking effect
    // (bench/: a 1 s cap was 0.36-0.53 s late); a login is cheap, and a
    // warm-pool lag lasts seconds, so this is a handful of tries.
    RetryPolicy policy;
    policy.max_attempts = 0;
    policy.base = milliseconds{50};
    policy.max_backoff = milliseconds{250};
    const StopFn stop = [&waiter] { return waiter.cancelled(); };
    ProbeReason previous = ProbeReason::Ok;
    int same = 0;
    // A login refused for longer than a password lag lasts may mean the
    // target was deleted meanwhile: look, but seldom (each look is a request
    // elsewhere), and never past the deadline or a stop.
    std::optional<Clock::TimePoint> last_watch;
    auto watch_due = [&](int failed) {
        if (!options.target_gone || failed < options.watch_after || waiter.cancelled() ||
            waiter.deadline_passed()) {
            return false;
        }
        return !last_watch || waiter.clock().now() - *last_watch >= options.watch_every;
    };
    auto try_once = [&](int n) {
        out.tries = n;
        if (on_try) {
            on_try(n);
        }
        out.last = prober.try_login(info, std::min(waiter.left(), options.per_try), stop);
        if (out.last.ok) {
            return Attempt::done();
        }
        if (out.last.reason == ProbeReason::Cancelled) {
            return Attempt::fail(out.last.message);
        }
        same = out.last.reason == previous ? same + 1 : 1;
        previous = out.last.reason;
        if (out.last.max_tries > 0 && same >= out.last.max_tries) {
            out.gave_up_early = !waiter.deadline_passed();
            return Attempt::fail(out.last.message);
        }
        if (watch_due(n)) {
            last_watch = waiter.clock().now();
            ++out.watches;
            if (options.target_gone()) {
                out.target_gone = true;
                return Attempt::fail("the target is gone");
            }
        }
        return Attempt::retry(std::string(reason_name(out.last.reason)) + ": " + out.last.message);
    };
    const auto random = unit_random ? unit_random : std::function<double()>([] { return 1.0; });
    const LoopEnd end = RetryLoop(waiter, policy, random).run("connection check", try_once, 0);
    if (end.why == LoopEnd::Why::Cancelled && out.last.reason != ProbeReason::Cancelled) {
        out.last = probe_failure(ProbeReason::Cancelled, "", "stopped between login tries");
    }
    return out;
}

}  // namespace xbranch
