#include "xbranch/cancel.hpp"

#include <csignal>

namespace xbranch {
namespace {

// The handler can reach the tokens only through globals; the core never reads them.
std::atomic<CancelToken*> g_run{nullptr};
std::atomic<CancelToken*> g_cleanup{nullptr};

extern "C" void on_signal(int sig) {
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
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: let blocking calls return early
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(sig, &sa, nullptr);
    }
}

}  // namespace xbranch
