// Cancellation, passed explicitly from the command down to the transport.
// A CancelToken is set once and read by every wait and every request; its
// cancel() is async-signal-safe (lock-free atomic stores and a write(2) to
// its eventfd), so a signal handler may call it, and every wait polls that
// descriptor to wake at once. Nothing in the core reads a process-global flag.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>

namespace xbranch {

class CancelToken {
  public:
    // Makes the token's eventfd; throws std::system_error when it cannot.
    CancelToken();
    ~CancelToken();
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;

    // Asks everything that watches this token to stop. `signal_number` (0: none)
    // is remembered for the exit code; a later call keeps the first number.
    // Async-signal-safe: atomic stores and one write(2) to fd(), errno kept.
    void cancel(int signal_number = 0) noexcept;
    bool cancelled() const noexcept { return m_cancelled.load(); }
    // The signal that cancelled it, 0 when none did (or cancel() had no number).
    int signal_number() const noexcept {
        const int s = m_signal.load();
        return s > 0 ? s : 0;
    }
    // Readable (POLLIN) from the first cancel() on, for good: a wait polls it
    // beside its own descriptors (or alone, for a sleep) and wakes at once.
    int fd() const noexcept { return m_fd; }

  private:
    static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
                  "cancel() must be async-signal-safe");
    std::atomic<bool> m_cancelled{false};
    std::atomic<int> m_signal{0};
    int m_fd = -1;
};

// Waits until one of `fds` (with their `events`) is ready, `timeout` passes
// (std::nullopt: no limit) or `cancel` (may be null) is cancelled, in one
// poll(2) that also watches the token's fd: no slices. Ready: a descriptor
// is ready; Cancelled wins over Ready. EINTR (a signal) polls again with the
// time left, unless the token is set by then.
enum class PollEnd { Ready, TimedOut, Cancelled, Failed };
PollEnd poll_or_cancel(pollfd* fds, std::size_t count,
                       std::optional<std::chrono::milliseconds> timeout, const CancelToken* cancel);

// For the CLI: SIGINT, SIGTERM and SIGHUP cancel `run`; any signal after the
// first also cancels `cleanup` (a second Ctrl-C ends the cleanup at once).
// Both tokens must outlive the process's use of them.
void install_signal_tokens(CancelToken& run, CancelToken& cleanup);

// The signals that came while a child command ran (`xbranch run`): they were
// the child's, so they are recorded here and not in the run's or the
// cleanup's token; xbranch's own cleanup after the child keeps its budget.
struct ChildSignals {
    CancelToken interrupt;  // SIGINT (an interactive child may survive it)
    CancelToken end;        // SIGTERM or SIGHUP (the platform ends the process)
};

// For `xbranch run`: the handler also calls `forward(sig)` (it must be
// async-signal-safe) for a signal another process sent (not a terminal's
// Ctrl-C, which reached the child in our process group already), and, when
// `child` is set, records every signal there instead of in the run's and the
// cleanup's tokens. nullptr, nullptr: back to the tokens alone.
void set_signal_forwarder(void (*forward)(int), ChildSignals* child = nullptr) noexcept;

}  // namespace xbranch
