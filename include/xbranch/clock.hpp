// Time as a service, so waits and backoff are tested without real sleeps.
#pragma once

#include <chrono>

namespace xbranch {

class Clock {
  public:
    using Duration = std::chrono::milliseconds;
    using TimePoint = std::chrono::steady_clock::time_point;

    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    // Sleeps; returns false when interrupted (a signal asked us to stop).
    virtual bool sleep_for(Duration d) = 0;
};

class SystemClock final : public Clock {
  public:
    TimePoint now() const override { return std::chrono::steady_clock::now(); }
    bool sleep_for(Duration d) override;
};

// Set by the signal handler; long waits check it.
bool interrupted();
int interrupt_signal();
void install_signal_handlers();

// While one lives, interrupted() is false, so cleanup after a signal can still
// talk to the API; the signal is remembered and shows again afterwards.
class InterruptShield {
  public:
    InterruptShield();
    ~InterruptShield();
    InterruptShield(const InterruptShield&) = delete;
    InterruptShield& operator=(const InterruptShield&) = delete;
};

}  // namespace xbranch
