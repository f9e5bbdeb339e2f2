// The pure half of libpq's failures: reason names, the retry verdicts and
// the split of a verbose libpq message (pq_failure.hpp).
#include "xbranch/pq_failure.hpp"

#include <algorithm>
#include <cctype>

#include "xbranch/redact.hpp"

namespace xbranch {

namespace {

bool has(std::string_view text, std::string_view needle) {
    return text.find(needle) != std::string_view::npos;
}

bool is_sqlstate(std::string_view s) {
    return s.size() == 5 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
           });
}

}  // namespace

std::string trim_pq_text(std::string_view text) {
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
    out.message = trim_pq_text(kept);
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

}  // namespace xbranch
