// One error type for the whole tool, and the one table that maps it to exit codes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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
    Interrupted,  // SIGINT / SIGTERM / SIGHUP (the run's CancelToken)
    // The project's branch cap: no room for another branch.
    QuotaExceeded,
    // The connection check found no working login before the deadline.
    NotConnectable,
    // A --sql or --exec hook failed.
    HookFailed,
};

// Why an error happened, machine-readable, for the CLI to add the hint that
// names a flag or an environment variable (the core never names them).
enum class ErrorReason {
    None,
    BadApiKey,          // 401
    MissingPermission,  // 403 that is not a temporary refusal
    NotFoundInProject,  // 404 from the project's endpoints: organization, project or parent
    ProjectNotFound,    // the project itself cannot be reached (delete by id)
    ParentNotFound,     // the parent branch name is not in the project
    TlsVerify,          // the server's certificate failed verification
    Connect,            // no connection to the API address
    BranchInTheWay,     // a branch of that name exists with another parent (branch_id())
    ReadyTimeout,       // the branch was not ready within the command's time limit
    DeadlineReached,    // the command's time limit ended a request or a retry wait
    NeedsForce,         // refusing to delete a name without xbranch's prefix
    ResponseTooLarge,   // an answer over the size limit or nested too deeply
    Redirected,         // a 3xx: the API address points at a redirect
    QuotaReached,       // no room for another branch (the CLI names the gc command)
    PrivateBranch,      // not connectable, and the branch is private (publicAccess false)
    DatabaseMissing,    // the database named for the connection is not in the branch
    HooksRunning,       // another live run still runs the hooks of the branch (branch_id())
    BranchVanished,     // the branch this run created was deleted by someone else (branch_id())
    EmptySandboxList,   // gc --orphans: Signadot listed no sandboxes; nothing was deleted
};

// What happened to the branch this run created, when an error ended the run.
enum class CleanupState {
    None,     // nothing of this run's to clean up
    Deleted,  // deleted
    Kept,     // kept on request
    Left,     // could not be deleted: it is still there (cleanup_branch_id())
    Unknown,  // the time limit ended the create before the POST's outcome was known
};

// Not an error: `xbranch diff` found schema changes (like `git diff --exit-code`).
inline constexpr int k_exit_schema_differs = 14;

// The one table of error kinds: each kind's exit code and its name (in
// messages and JSON logs), in exit-code order. Interrupted's code is
// 128 + the signal (130 for SIGINT, listed). What each means to a user and
// which commands return it are the CLI's words (src/cli/app.cpp).
struct ErrorKindInfo {
    ErrorKind kind;
    int exit_code;
    const char* name;
};
const std::vector<ErrorKindInfo>& error_kinds();
const ErrorKindInfo& error_kind_info(ErrorKind kind);

// Exit codes, documented in the README; decided by error_kinds() alone.
int exit_code(ErrorKind kind, int signal_number = 0);
const char* kind_name(ErrorKind kind);

// Rejected input as an error may show it: in single quotes, control and
// non-ASCII bytes escaped (\n, \t, \x1b), at most 64 input bytes ("..." after).
// Never for secrets: those are not quoted at all.
std::string quote_input(std::string_view text);
// The same escapes, unquoted and uncut: for a value a log line shows whole.
std::string escape_input(std::string_view text);

// Text as xbranch prints it on a terminal (the log sink, the error printer,
// hook output): every byte that could drive the terminal shown escaped.
// C0 controls other than \n and \t, DEL and bytes that are not UTF-8 become
// \xNN (\x1b for ESC), C1 controls (U+0080..U+009F) \u0080; valid UTF-8
// (e, CJK, emoji) and everything else stays as it is.
std::string printable(std::string_view text);

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), m_kind(kind) {}

    ErrorKind kind() const { return m_kind; }
    // What xbranch was doing ("create branch sb-foo-1a2b3c4"), when known.
    const std::string& operation() const { return m_operation; }
    std::optional<int> http_status() const { return m_http_status; }
    const std::string& request_id() const { return m_request_id; }
    // A sentence that tells the user what to do next, in words free of flag and
    // env var names (the CLI adds those, keyed by reason()).
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
    ErrorReason reason() const { return m_reason; }
    Error& with_reason(ErrorReason r) {
        m_reason = r;
        return *this;
    }
    // The branch the error is about (in the way, left behind), when there is one.
    const std::string& branch_id() const { return m_branch_id; }
    const std::string& branch_name() const { return m_branch_name; }
    Error& with_branch(std::string id, std::string name = {}) {
        m_branch_id = std::move(id);
        m_branch_name = std::move(name);
        return *this;
    }
    CleanupState cleanup() const { return m_cleanup; }
    // Records the cleanup of this run's branch (its id and name go to with_branch).
    Error& with_cleanup(CleanupState state, std::string id, std::string name) {
        m_cleanup = state;
        m_cleanup_id = std::move(id);
        m_cleanup_name = std::move(name);
        return *this;
    }
    const std::string& cleanup_branch_id() const { return m_cleanup_id; }
    const std::string& cleanup_branch_name() const { return m_cleanup_name; }

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
    ErrorReason m_reason = ErrorReason::None;
    std::string m_branch_id;
    std::string m_branch_name;
    CleanupState m_cleanup = CleanupState::None;
    std::string m_cleanup_id;
    std::string m_cleanup_name;
};

}  // namespace xbranch
