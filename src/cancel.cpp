#include "xbranch/cancel.hpp"

#include <csignal>

namespace xbranch {
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
