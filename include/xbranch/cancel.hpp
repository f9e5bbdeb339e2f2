// Cancellation, passed explicitly from the command down to the transport.
// A CancelToken is set once and read by every wait and every request; its
// cancel() is async-signal-safe (lock-free atomic stores only), so a signal
// handler may call it. Nothing in the core reads a process-global flag.
#pragma once

#include <atomic>

namespace xbranch {

class CancelToken {
  public:
    CancelToken() = default;
    ~CancelToken() = default;
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;

    // Asks everything that watches this token to stop. `signal_number` (0: none)
    // is remembered for the exit code; a later call keeps the first number.
    void cancel(int signal_number = 0) noexcept {
        int none = 0;
        m_signal.compare_exchange_strong(none, signal_number > 0 ? signal_number : -1);
        m_cancelled.store(true);
    }
    bool cancelled() const noexcept { return m_cancelled.load(); }
    // The signal that cancelled it, 0 when none did (or cancel() had no number).
    int signal_number() const noexcept {
        const int s = m_signal.load();
        return s > 0 ? s : 0;
    }

  private:
    static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
                  "cancel() must be async-signal-safe");
    std::atomic<bool> m_cancelled{false};
    std::atomic<int> m_signal{0};
};

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
