// The pure half of libpq failures, shared by the connection check, the SQL
// hooks and the hooks' lock: what a failed login or query means (retry, or
// cannot heal) from its SQLSTATE and libpq's text. No I/O here.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace xbranch {

enum class ProbeReason {
    Ok,
    AuthFailed,       // 28P01 / 28000: the password may not be pushed yet
    Starting,         // 57P03: starting up, not accepting connections yet
    Refused,          // nothing listens yet
    Reset,            // connection reset or closed mid-way
    NameResolution,   // the host name does not resolve (yet)
    TlsHandshake,     // the TLS handshake was cut
    TlsVerify,        // the server certificate fails verification: cannot heal
    DatabaseMissing,  // 3D000: cannot heal
    SslModeRefused,   // the server refuses the client's sslmode: cannot heal
    Timeout,          // the try's time budget ran out
    Cancelled,        // should_stop turned true
    Other,
};
const char* reason_name(ProbeReason reason);

// What a failure means for the retry loop. retry: the branch may still be
// settling; max_tries: tries (this reason, in a row) before giving up even so,
// 0 = until the deadline.
struct ProbeVerdict {
    ProbeReason reason = ProbeReason::Other;
    bool retry = true;
    int max_tries = 0;
};

// Pure: the verdict for a failed login or query, from the SQLSTATE (may be
// empty: libpq's own errors have none) and libpq's message text.
ProbeVerdict classify_failure(std::string_view sqlstate, std::string_view message);
ProbeVerdict verdict_for(ProbeReason reason);  // the table classify_failure uses

// Pure: splits a libpq message made with PQERRORS_VERBOSE ("...FATAL:  28P01:
// text\nLOCATION: ...") into the SQLSTATE and the message without the code
// and the LOCATION line. Messages without a code come back unchanged (trimmed).
struct SplitMessage {
    std::string sqlstate;
    std::string message;
};
SplitMessage split_verbose_message(std::string_view text);

struct ProbeResult {
    bool ok = false;
    bool retry = false;
    int max_tries = 0;
    ProbeReason reason = ProbeReason::Other;
    std::string sqlstate;
    std::string message;  // redacted; never the password
    std::chrono::milliseconds elapsed{0};
};
ProbeResult probe_failure(ProbeReason reason, std::string sqlstate, const std::string& message);

// libpq's text without the white space around it.
std::string trim_pq_text(std::string_view text);

}  // namespace xbranch
