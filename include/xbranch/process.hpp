// Child processes: --exec hooks (`/bin/sh -c CMD`, output captured line by
// line) and `xbranch run -- CMD ARGS` (the terminal's stdio, signals
// forwarded). The edge is ProcessRunner (PosixProcessRunner for real,
// FakeProcessRunner in tests/unit/fake_edges.hpp); env merging and line
// splitting are pure.
//
// How to wire it (lead):
// - hooks: run_shell(cmd, {hook_environment(...), token, time left}, sink)
//   where the sink writes redact(line) to stderr (stdout stays clean for
//   `$(xbranch url)`); a result with !succeeded() fails create naming the
//   hook and result.describe(). A stop or the deadline kills the hook's whole
//   process group (SIGTERM, then SIGKILL after kill_grace).
// - run: keep one PosixProcessRunner where the signal handler can reach it
//   and call runner.forward_signal(sig) from the handler for SIGINT, SIGTERM
//   and SIGHUP (async-signal-safe: an atomic load and kill()). With an
//   SA_SIGINFO handler, skip forwarding when info->si_code == SI_KERNEL: a
//   terminal's Ctrl-C already reached the child, which shares our process
//   group. Exit with result.shell_status() (128 + signal when killed).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xbranch/cancel.hpp"

namespace xbranch {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Pure: `parent` ("NAME=value" strings, null-terminated like environ) with
// every variable of `extra` set, replacing a parent variable of that name;
// parent order kept, new names appended in the order given.
std::vector<std::string> merge_environment(const char* const* parent, const EnvVars& extra);

enum class OutputStream { Stdout, Stderr };
using LineSink = std::function<void(OutputStream, std::string_view line)>;

// Pure: bytes in, complete lines out (without "\n" or a trailing "\r"); a
// line longer than max_line is cut into pieces of at most max_line bytes,
// each cut where `cut_at(piece, max_line)` says (0 or none: at max_line).
class LineSplitter {
  public:
    using CutAt = std::function<std::size_t(std::string_view piece, std::size_t want)>;
    explicit LineSplitter(std::size_t max_line = std::size_t{16} * 1024, CutAt cut_at = {})
        : m_max_line(max_line), m_cut_at(std::move(cut_at)) {}
    void feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);
    void finish(const std::function<void(std::string_view)>& on_line);  // the unterminated rest

  private:
    std::size_t m_max_line;
    CutAt m_cut_at;
    std::string m_partial;
};

struct ProcessResult {
    enum class Outcome { Exited, Signaled, FailedToStart };
    Outcome outcome = Outcome::Exited;
    int exit_code = 0;     // with Exited
    int signal = 0;        // with Signaled
    bool stopped = false;  // the token or the budget ended it
    std::string error;     // with FailedToStart

    bool succeeded() const { return outcome == Outcome::Exited && exit_code == 0 && !stopped; }
    // What a shell would report: the exit code, 128 + signal, 127 when it
    // could not start.
    int shell_status() const;
    // "exit status 3", "killed by signal 9 (SIGKILL)", "could not start: ..."
    std::string describe() const;
};

struct RunOptions {
    EnvVars env;                                 // set on top of the parent's environment
    const CancelToken* cancel = nullptr;         // its fd is polled beside the child's
    std::chrono::milliseconds budget{0};         // 0: no limit
    std::chrono::milliseconds kill_grace{2000};  // SIGTERM .. SIGKILL
};

class ProcessRunner {
  public:
    virtual ~ProcessRunner() = default;
    // Hook mode: `/bin/sh -c command`, stdin /dev/null, stdout and stderr
    // to on_line line by line, in its own process group. PosixProcessRunner
    // starts it under a supervisor process: the whole group is SIGKILLed as
    // soon as this process dies, however it dies (kill -9 included).
    virtual ProcessResult run_shell(const std::string& command, const RunOptions& options,
                                    const LineSink& on_line) = 0;
    // Foreground mode: argv[0] looked up in PATH, the terminal's stdio, our
    // process group. On a cancel the child gets SIGTERM (unless a signal
    // was forwarded already), then SIGKILL after kill_grace.
    virtual ProcessResult run_foreground(const std::vector<std::string>& argv,
                                         const RunOptions& options) = 0;
    // Async-signal-safe: sends `sig` to the running child (its group in hook
    // mode). A signal that comes while none runs is kept and sent to the next
    // child as it starts: the caller's last cancel check and the spawn are
    // never quite one instant.
    virtual void forward_signal(int sig) noexcept = 0;
};

class PosixProcessRunner final : public ProcessRunner {
  public:
    ProcessResult run_shell(const std::string& command, const RunOptions& options,
                            const LineSink& on_line) override;
    ProcessResult run_foreground(const std::vector<std::string>& argv,
                                 const RunOptions& options) override;
    void forward_signal(int sig) noexcept override;

  private:
    void deliver_pending(pid_t target);

    std::atomic<pid_t> m_target{0};  // > 0 a process, < 0 a process group, 0 none
    std::atomic<bool> m_forwarded{false};
    std::atomic<int> m_pending{0};  // a signal forwarded while none ran
};

}  // namespace xbranch
