// PollSchedule::next (lifecycle.hpp): early, then a grid, then doubling.
#include <algorithm>

#include "xbranch/lifecycle.hpp"

namespace xbranch {

using ms = std::chrono::milliseconds;

ms PollSchedule::next(ms elapsed) const {
    const ms step = std::max(grid, ms{1});
    if (elapsed < first_interval) {
        return first_interval - elapsed;  // a slow first poll does not push the second back
    }
    if (elapsed < quick_until) {
        // The next grid point (so that slow polls do not drift it), skipping
        // one closer than a sixth of the grid.
        ms point = (elapsed / step + 1) * step;
        if (point - elapsed < step / 6) {
            point += step;
        }
        return std::min(point - elapsed, max_interval);
    }
    // 2, 4, 8 ... grid steps after quick_until: the next interval is the time
    // waited since quick_until plus two steps, i.e. twice the one before.
    return std::clamp(elapsed - quick_until + 2 * step, step, max_interval);
}

}  // namespace xbranch
