#include "xbranch/cancel.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <system_error>
#include <vector>

namespace xbranch {

CancelToken::CancelToken() : m_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (m_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
}

CancelToken::~CancelToken() {
    ::close(m_fd);
}

void CancelToken::cancel(int signal_number) noexcept {
    int none = 0;
    m_signal.compare_exchange_strong(none, signal_number > 0 ? signal_number : -1);
    m_cancelled.store(true);
    // The counter only grows (nobody reads it), so fd() stays readable; a
    // full counter (EAGAIN) is readable already. errno belongs to the code
    // the signal interrupted.
    const int saved = errno;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(m_fd, &one, sizeof one);
    errno = saved;
}

PollEnd poll_or_cancel(pollfd* fds, std::size_t count,
                       std::optional<std::chrono::milliseconds> timeout,
                       const CancelToken* cancel) {
    using std::chrono::steady_clock;
    std::vector<pollfd> all(fds, fds + count);
    if (cancel != nullptr) {
        all.push_back({cancel->fd(), POLLIN, 0});
    }
    const auto until = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
    for (;;) {
        if (cancel != nullptr && cancel->cancelled()) {
            return PollEnd::Cancelled;
        }
        int wait_ms = -1;
        if (timeout) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(until - steady_clock::now());
            wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, INT_MAX));
        }
        const int n = ::poll(all.data(), static_cast<nfds_t>(all.size()), wait_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return PollEnd::Failed;
        }
        if (cancel != nullptr && (all.back().revents != 0 || cancel->cancelled())) {
            return PollEnd::Cancelled;
        }
        if (n == 0) {
            if (wait_ms == 0 || steady_clock::now() >= until) {
                return PollEnd::TimedOut;
            }
            continue;
        }
        for (std::size_t i = 0; i < count; ++i) {
            fds[i].revents = all[i].revents;
        }
        return PollEnd::Ready;
    }
}

namespace {

// The handler can reach the tokens only through globals; the core never reads them.
std::atomic<CancelToken*> g_run{nullptr};
std::atomic<CancelToken*> g_cleanup{nullptr};
std::atomic<void (*)(int)> g_forward{nullptr};
std::atomic<ChildSignals*> g_child{nullptr};
static_assert(std::atomic<void (*)(int)>::is_always_lock_free, "read in a signal handler");

extern "C" void on_signal(int sig, siginfo_t* info, void*) {
    if (auto* forward = g_forward.load(); forward != nullptr) {
        if (info == nullptr || info->si_code != SI_KERNEL) {
            forward(sig);
        }
    }
    if (ChildSignals* child = g_child.load(); child != nullptr) {
        (sig == SIGINT ? child->interrupt : child->end).cancel(sig);
        return;
    }
    CancelToken* run = g_run.load();
    CancelToken* cleanup = g_cleanup.load();
    if (run == nullptr) {
        return;
    }
    if (run->cancelled() && cleanup != nullptr) {
        cleanup->cancel(sig);
    }
    run->cancel(sig);
}

}  // namespace

void install_signal_tokens(CancelToken& run, CancelToken& cleanup) {
    g_run.store(&run);
    g_cleanup.store(&cleanup);
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: let blocking calls return early
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(sig, &sa, nullptr);
    }
}

void set_signal_forwarder(void (*forward)(int), ChildSignals* child) noexcept {
    // Recording first, forwarding last: no signal is forwarded and counted too.
    if (child != nullptr) {
        g_child.store(child);
        g_forward.store(forward);
    } else {
        g_forward.store(forward);
        g_child.store(nullptr);
    }
}

}  // namespace xbranch
