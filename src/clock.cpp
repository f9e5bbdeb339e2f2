#include "xbranch/clock.hpp"

#include <atomic>
#include <csignal>
#include <thread>

namespace xbranch {
namespace {

std::atomic<int> g_signal{0};
std::atomic<int> g_shields{0};

extern "C" void on_signal(int sig) {
    g_signal.store(sig);
}

}  // namespace

bool interrupted() {
    return g_signal.load() != 0 && g_shields.load() == 0;
}

InterruptShield::InterruptShield() {
    g_shields.fetch_add(1);
}
InterruptShield::~InterruptShield() {
    g_shields.fetch_sub(1);
}
int interrupt_signal() {
    return g_signal.load();
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: let blocking calls return early
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool SystemClock::sleep_for(Duration d) {
    // Sleep in slices so a signal ends the wait promptly.
    const auto end = std::chrono::steady_clock::now() + d;
    while (!interrupted()) {
        const auto left = end - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
            return true;
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds{50}));
    }
    return false;
}

}  // namespace xbranch
