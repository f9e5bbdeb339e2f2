// One error type for the whole tool, and the one table that maps it to exit codes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace xbranch {

enum class ErrorKind {
    Internal,     // a bug
    Usage,        // bad flags, missing configuration, invalid names
    Auth,         // 401 / 403
    NotFound,     // organization, project or parent branch not found
    Conflict,     // 409, a name taken by a foreign branch, refusing to delete the parent
    Timeout,      // the branch did not become ready in time
    Fault,        // the branch is in FAULT
    Unavailable,  // network errors, 5xx or 429 after retries
    Io,           // local files: output folder missing, not writable, disk full
    Protocol,     // the API answered something we cannot use (bad JSON, 400, 412, ...)
    Interrupted,  // SIGINT / SIGTERM
    // The project's branch cap: no room for another branch.
    QuotaExceeded,
};

// Exit codes, documented in the README; the only place they are decided.
int exit_code(ErrorKind kind, int signal_number = 0);
const char* kind_name(ErrorKind kind);

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}

    ErrorKind kind() const { return m_kind; }
    // What xbranch was doing ("create branch sb-foo-1a2b3c4"), when known.
    const std::string& operation() const { return m_operation; }
    std::optional<int> http_status() const { return m_http_status; }
    const std::string& request_id() const { return m_request_id; }
    // A sentence that tells the user what to do next.
    const std::string& hint() const { return m_hint; }

    Error& with_operation(std::string op) {
        m_operation = std::move(op);
        return *this;
    }
    Error& with_http(int status, std::string request_id) {
        m_http_status = status;
        m_request_id = std::move(request_id);
        return *this;
    }
    Error& with_hint(std::string hint) {
        m_hint = std::move(hint);
        return *this;
    }
    // Adds a sentence after any hint already there, joined by exactly one
    // ". " whatever the two ends look like (no ". ." or "..").
    Error& add_hint(const std::string& more);
    Error& with_signal(int sig) {
        m_signal = sig;
        return *this;
    }
    int signal_number() const { return m_signal; }

    // "create branch x: HTTP 409 (request id abc): branch [x] already exists"
    std::string describe() const;

  private:
    ErrorKind m_kind;
    std::string m_operation;
    std::optional<int> m_http_status;
    std::string m_request_id;
    std::string m_hint;
    int m_signal = 0;
};

}  // namespace xbranch
