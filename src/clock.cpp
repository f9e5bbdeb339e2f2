#include "xbranch/clock.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace xbranch {

bool SystemClock::sleep_for(Duration d, const CancelToken* cancel) {
    // One poll(2) on the token's descriptor: a cancel (a signal) ends it at once.
    if (d <= Duration::zero()) {
        return cancel == nullptr || !cancel->cancelled();
    }
    if (cancel == nullptr) {
        std::this_thread::sleep_for(d);
        return true;
    }
    return poll_or_cancel(nullptr, 0, d, cancel) != PollEnd::Cancelled;
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
