// What every create step shares (create_steps.hpp): the run's stop and the
// cleanup's budget.
#include "create_steps.hpp"

#include <algorithm>

namespace xbranch::steps {

using ms = std::chrono::milliseconds;
using std::chrono::duration_cast;

bool is_deadline(const Error& e) {
    return e.reason() == ErrorReason::DeadlineReached;
}

Error StepEnv::interrupted(const std::string& op) const {
    return XataClient::interrupted_error(op, control.cancel);
}

XataClient::Limits StepEnv::cleanup_limits(std::optional<Deadline> by) const {
    Deadline d = Deadline::in(clock, control.cleanup_budget);
    if (by) {
        d = d.sooner(*by);
    }
    return {control.cleanup_cancel, d, control.cleanup_request_cap};
}

Waiter::Result StepEnv::pause(Waiter& waiter, ms d, Clock::TimePoint start) const {
    if (!progress.wants_ticks()) {
        return waiter.wait(d);
    }
    const auto until = clock.now() + d;
    while (clock.now() < until) {
        const auto slice = std::min(ms{100}, duration_cast<ms>(until - clock.now()));
        const auto r = waiter.wait(slice);
        if (r != Waiter::Result::Slept) {
            return r;
        }
        progress.tick(duration_cast<ms>(clock.now() - start));
    }
    return Waiter::Result::Slept;
}

}  // namespace xbranch::steps
