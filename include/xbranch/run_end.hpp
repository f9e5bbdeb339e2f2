// What `xbranch run` exits with once CMD has ended and the delete of its
// branch was tried: CMD's status, except that a branch left behind never
// passes for a success.
#pragma once

#include <optional>

#include "xbranch/error.hpp"

namespace xbranch {

// `command_status`: CMD's shell status (128+N killed by signal N, 127 could
// not start). `left_by`: why the branch could not be deleted (nullopt: it is
// gone, or it was never this run's to delete). CMD failed: its own status,
// whatever became of the branch. CMD succeeded but the branch is left: the
// delete's exit code (exit_code(): 8 API unavailable, 6 out of time, 130 or
// 143 a signal cut it short, ...), never 0.
int run_exit_status(int command_status, const std::optional<Error>& left_by);

}  // namespace xbranch
