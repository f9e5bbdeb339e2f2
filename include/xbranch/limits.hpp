// What one call may use: the cancel token to watch, the deadline after which
// nothing new starts, and a cap on any single request. Passed explicitly on
// every call from the command down to libcurl and libpq.
#pragma once

#include <chrono>
#include <optional>

#include "xbranch/cancel.hpp"
#include "xbranch/clock.hpp"

namespace xbranch {

struct Limits {
    const CancelToken* cancel = nullptr;
    Deadline deadline;                                     // unset: no deadline
    std::optional<std::chrono::milliseconds> request_cap;  // nullopt: the transport's own timeouts

    bool cancelled() const { return cancel != nullptr && cancel->cancelled(); }
};

}  // namespace xbranch
