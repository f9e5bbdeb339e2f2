#include "xbranch/clock.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace xbranch {

bool SystemClock::sleep_for(Duration d, const CancelToken* cancel) {
    // Sleep in slices so a cancelled token (a signal) ends the wait promptly.
    const auto end = std::chrono::steady_clock::now() + d;
    while (cancel == nullptr || !cancel->cancelled()) {
        const auto left = end - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
            return true;
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds{20}));
    }
    return false;
}

Clock::Duration Deadline::left(const Clock& clock) const {
    if (!m_when) {
        return Clock::Duration::max();
    }
    const auto d = std::chrono::duration_cast<Clock::Duration>(*m_when - clock.now());
    return std::max(d, Clock::Duration{0});
}

Deadline Deadline::sooner(const Deadline& other) const {
    if (!m_when) {
        return other;
    }
    if (!other.m_when) {
        return *this;
    }
    return Deadline(std::min(*m_when, *other.m_when));
}

std::string seconds_text(Clock::Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

}  // namespace xbranch
