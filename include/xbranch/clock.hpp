// Time as a service, so waits, backoff and deadlines are tested without real
// sleeps; and the Deadline every command carries down to the transport.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "xbranch/cancel.hpp"

namespace xbranch {

class Clock {
  public:
    using Duration = std::chrono::milliseconds;
    using TimePoint = std::chrono::steady_clock::time_point;

    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    // Sleeps `d`, waking early when `cancel` is set; false when it was (or is) set.
    virtual bool sleep_for(Duration d, const CancelToken* cancel = nullptr) = 0;
};

class SystemClock final : public Clock {
  public:
    TimePoint now() const override { return std::chrono::steady_clock::now(); }
    bool sleep_for(Duration d, const CancelToken* cancel = nullptr) override;
};

// A point on a Clock after which nothing new is started; default: never.
class Deadline {
  public:
    Deadline() = default;
    static Deadline at(Clock::TimePoint when) { return Deadline(when); }
    static Deadline in(const Clock& clock, Clock::Duration d) { return Deadline(clock.now() + d); }

    bool is_set() const { return m_when.has_value(); }
    // Time left, never negative; Duration::max() when there is no deadline.
    Clock::Duration left(const Clock& clock) const;
    bool passed(const Clock& clock) const { return is_set() && left(clock).count() <= 0; }
    // The earlier of the two.
    Deadline sooner(const Deadline& other) const;
    // The same deadline moved by `d` (earlier when negative); unset stays unset.
    Deadline shifted(Clock::Duration d) const { return m_when ? Deadline(*m_when + d) : *this; }

  private:
    explicit Deadline(Clock::TimePoint when) : m_when(when) {}
    std::optional<Clock::TimePoint> m_when;
};

// "2.5s": one decimal, for messages and progress lines.
std::string seconds_text(Clock::Duration d);

}  // namespace xbranch
