// PollSchedule::next (create_request.hpp): a ramp, then doubling intervals.
#include <algorithm>

#include "xbranch/create_request.hpp"

namespace xbranch {

using ms = std::chrono::milliseconds;

ms PollSchedule::next(ms elapsed) const {
    const ms step = std::max(ramp_step, ms{1});
    if (elapsed < quick_until) {
        // The ramp's points 1, 2, 3, 6, 10, 15 ... steps after the first
        // poll (three waits of a step, then the k-th wait k - 1 steps long):
        // the next one, so that slow polls do not drift them, skipping one
        // closer than half a step.
        ms point{0};
        for (long long k = 1; point <= elapsed || point - elapsed < step / 2; ++k) {
            point += (k <= 3 ? 1 : k - 1) * step;
        }
        return std::min(point - elapsed, max_interval);
    }
    // After the ramp: the time waited since quick_until plus the first late
    // wait, i.e. each interval twice the one before (0.6, 1.2, 2.4, 4.8 s).
    return std::clamp(elapsed - quick_until + first_late, step, max_interval);
}

}  // namespace xbranch
