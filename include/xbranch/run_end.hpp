// `xbranch run`'s child lifecycle: CMD runs with signals forwarded to it,
// then the branch is thrown away, and the run exits with CMD's status,
// except that a branch left behind never passes for a success.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbranch/cancel.hpp"
#include "xbranch/error.hpp"
#include "xbranch/process.hpp"

namespace xbranch {

// How long CMD may take to end after a forwarded SIGTERM or SIGHUP before it
// gets SIGKILL; with the ~10 s cleanup it stays inside a 30 s grace period.
inline constexpr std::chrono::milliseconds k_cmd_kill_grace{10000};

// run-<8 random characters of [a-z0-9]>.
std::string random_run_branch_name();

struct RunChild {
    int status = 0;                       // CMD's shell status (128+N, 127, ...)
    std::optional<ProcessResult> result;  // nullopt: CMD never started
};

// Runs `argv` in the foreground with `env`. While it may run, the signal
// handler forwards signals to it and records them in `child`, not in the
// run's or the cleanup's token (the delete afterwards keeps its budget).
// When `run_cancel` was set before CMD started, it never runs: 128 + the
// signal. CMD decides on SIGINT (an interactive psql survives Ctrl-C);
// SIGTERM or SIGHUP (child.end) is the platform ending the pod, so a CMD
// that ignores them is killed after `kill_grace`.
RunChild run_child(ProcessRunner& runner, const std::vector<std::string>& argv, EnvVars env,
                   const CancelToken& run_cancel, ChildSignals& child,
                   std::chrono::milliseconds kill_grace = k_cmd_kill_grace);

// `command_status`: CMD's shell status (128+N killed by signal N, 127 could
// not start). `left_by`: why the branch could not be deleted (nullopt: it is
// gone, or it was never this run's to delete). CMD failed: its own status,
// whatever became of the branch. CMD succeeded but the branch is left: the
// delete's exit code (exit_code(): 8 API unavailable, 6 out of time, 130 or
// 143 a signal cut it short, ...), never 0.
int run_exit_status(int command_status, const std::optional<Error>& left_by);

struct RunEnd {
    int exit_status = 0;
    std::optional<Error> left_by;  // why the branch is left, when it is
};
// After CMD: `discard` (the delete; nullopt when the branch is gone) when
// `delete_after`, and what the run exits with.
RunEnd end_run(int command_status, bool delete_after,
               const std::function<std::optional<Error>()>& discard);

}  // namespace xbranch
