// Internal to process*.cpp: a hook started under a tiny supervisor, so that
// its whole process group dies with xbranch, even by SIGKILL.
//
// xbranch forks the supervisor, which forks the hook: the hook gets its own
// process group (its pid), stdin /dev/null, the given stdout and stderr,
// default signals, and PR_SET_PDEATHSIG(SIGKILL) towards the supervisor.
// The supervisor holds the read end of a "lifeline" pipe whose only writer
// is xbranch: end of file there (xbranch closed it, or died however it died)
// means killpg(hook, SIGKILL). It reports the hook's end on a second pipe
// and, once told that the report was read, reaps the hook and exits; until
// then the hook's pid (and group id) cannot be reused, so a signal xbranch
// sends to the group never reaches a stranger.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace xbranch::detail {

struct HookEnd {
    bool signaled = false;
    int value = 0;  // the exit code, or the signal
};

class SupervisedHook {
  public:
    SupervisedHook() = default;
    ~SupervisedHook();  // finish(), so that nothing outlives an early return
    SupervisedHook(const SupervisedHook&) = delete;
    SupervisedHook& operator=(const SupervisedHook&) = delete;

    // Starts `path` with argv and envp (all built before: nothing is
    // allocated after the fork). False with error()/what() when it could not
    // start (the exec failed included); then nothing runs.
    bool start(const char* path, char* const* argv, char* const* envp, int out_fd, int err_fd);

    pid_t group() const { return m_hook; }  // the hook's pid and process group id
    // Non-blocking: the hook's end once the supervisor reported it. A
    // supervisor gone without a report counts as the hook killed by SIGKILL
    // (the group is killed then too).
    std::optional<HookEnd> poll_end();
    // Readable once the supervisor reports the end (or is gone): poll it.
    int report_fd() const { return m_report; }
    // Tells the supervisor to reap the hook and exit (kill_group: end the
    // hook's group first), then waits for it. Idempotent.
    void finish(bool kill_group = false);

    int error() const { return m_error; }
    const std::string& what() const { return m_what; }

  private:
    pid_t m_supervisor = -1;
    pid_t m_hook = -1;
    int m_report = -1;    // supervisor -> xbranch
    int m_lifeline = -1;  // xbranch -> supervisor
    int m_error = 0;
    std::string m_what;
    std::optional<HookEnd> m_end;
};

}  // namespace xbranch::detail
