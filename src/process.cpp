#include "xbranch/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include "process_supervisor.hpp"
#include "xbranch/redact.hpp"

extern char** environ;  // NOLINT: POSIX

namespace xbranch {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// Only where the kernel has no pidfd: how often a foreground child is looked at.
constexpr milliseconds k_no_pidfd_tick{25};
// After the shell exits, output still in flight is read this long; a
// background grandchild holding the pipe open does not hold us.
constexpr milliseconds k_drain{200};
constexpr std::size_t k_max_hook_line = std::size_t{16} * 1024;

std::string_view name_of(std::string_view entry) {
    return entry.substr(0, entry.find('='));
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(sig);
}

// Everything posix_spawn needs, built before the spawn (no allocation in the child).
struct SpawnArgs {
    std::vector<std::string> env;
    std::vector<char*> envp;
    std::vector<std::string> args;
    std::vector<char*> argv;

    SpawnArgs(std::vector<std::string> argv_in, const EnvVars& extra)
        : env(merge_environment(environ, extra)), args(std::move(argv_in)) {
        for (auto& e : env) {
            envp.push_back(e.data());
        }
        envp.push_back(nullptr);
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
    }
};

// Signals the child starts with at their defaults and unblocked, whatever
// xbranch itself does with them.
class SpawnAttr {
  public:
    explicit SpawnAttr(bool own_group) {
        posix_spawnattr_init(&m_attr);
        sigset_t defaults;
        sigemptyset(&defaults);
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) {
            sigaddset(&defaults, s);
        }
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&m_attr, &defaults);
        posix_spawnattr_setsigmask(&m_attr, &none);
        short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
        if (own_group) {
            flags = static_cast<short>(flags | POSIX_SPAWN_SETPGROUP);
            posix_spawnattr_setpgroup(&m_attr, 0);
        }
        posix_spawnattr_setflags(&m_attr, flags);
    }
    ~SpawnAttr() { posix_spawnattr_destroy(&m_attr); }
    SpawnAttr(const SpawnAttr&) = delete;
    SpawnAttr& operator=(const SpawnAttr&) = delete;
    const posix_spawnattr_t* get() const { return &m_attr; }

  private:
    posix_spawnattr_t m_attr{};
};

// Holds SIGINT, SIGTERM and SIGHUP back in this thread while it lives, so
// that the handler cannot run between the spawn and the child's pid being
// known; what came meanwhile is delivered (and forwarded) when it ends.
class HoldSignals {
  public:
    HoldSignals() {
        sigset_t held;
        sigemptyset(&held);
        for (int s : {SIGINT, SIGTERM, SIGHUP}) {
            sigaddset(&held, s);
        }
        pthread_sigmask(SIG_BLOCK, &held, &m_previous);
    }
    ~HoldSignals() { pthread_sigmask(SIG_SETMASK, &m_previous, nullptr); }
    HoldSignals(const HoldSignals&) = delete;
    HoldSignals& operator=(const HoldSignals&) = delete;

  private:
    sigset_t m_previous{};
};

ProcessResult from_status(int status) {
    ProcessResult r;
    if (WIFSIGNALED(status)) {
        r.outcome = ProcessResult::Outcome::Signaled;
        r.signal = WTERMSIG(status);
    } else {
        r.outcome = ProcessResult::Outcome::Exited;
        r.exit_code = WEXITSTATUS(status);
    }
    return r;
}

ProcessResult failed_to_start(int err, const std::string& what) {
    ProcessResult r;
    r.outcome = ProcessResult::Outcome::FailedToStart;
    r.error = what + ": " + std::strerror(err);
    return r;
}

// Has `pid` exited? Looks without reaping, so the pid cannot be reused while
// a forwarded signal may still be on its way to it.
bool exited(pid_t pid) {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        return errno == ECHILD;
    }
    return info.si_pid == pid;
}

int reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// The stop policy shared by both modes: SIGTERM once, SIGKILL after the grace.
class Stopper {
  public:
    Stopper(const RunOptions& o, pid_t target)
        : m_options(o), m_target(target), m_start(steady_clock::now()) {}

    // Call after every wait; returns true once a stop is under way.
    bool tick(bool skip_term = false) {
        const auto now = steady_clock::now();
        if (!m_stopping) {
            const bool over_budget =
                m_options.budget.count() > 0 && now - m_start >= m_options.budget;
            const bool cancelled = m_options.cancel != nullptr && m_options.cancel->cancelled();
            if (!over_budget && !cancelled) {
                return false;
            }
            m_stopping = true;
            m_kill_at = now + m_options.kill_grace;
            if (!skip_term) {
                ::kill(m_target, SIGTERM);
            }
        } else if (!m_killed && now >= m_kill_at) {
            m_killed = true;
            ::kill(m_target, SIGKILL);
        }
        return true;
    }
    bool stopping() const { return m_stopping; }
    // How long the next wait may last: until the budget ends or the grace
    // does (nullopt: no limit); a cancel wakes it through the token's fd.
    std::optional<milliseconds> wait_limit() const {
        std::optional<steady_clock::time_point> due;
        if (!m_stopping && m_options.budget.count() > 0) {
            due = m_start + m_options.budget;
        } else if (m_stopping && !m_killed) {
            due = m_kill_at;
        }
        if (!due) {
            return std::nullopt;
        }
        return std::max(milliseconds{0},
                        std::chrono::ceil<milliseconds>(*due - steady_clock::now()));
    }
    // Once the cancel is seen its fd stays readable: no longer worth polling.
    const CancelToken* watched() const { return m_stopping ? nullptr : m_options.cancel; }

  private:
    const RunOptions& m_options;
    pid_t m_target;
    steady_clock::time_point m_start;
    bool m_stopping = false;
    bool m_killed = false;
    steady_clock::time_point m_kill_at{};
};

}  // namespace

std::vector<std::string> merge_environment(const char* const* parent, const EnvVars& extra) {
    std::vector<std::string> out;
    std::vector<bool> used(extra.size(), false);
    for (const char* const* p = parent; p != nullptr && *p != nullptr; ++p) {
        const std::string_view entry(*p);
        const auto name = name_of(entry);
        bool replaced = false;
        for (std::size_t i = 0; i < extra.size(); ++i) {
            if (extra[i].first == name) {
                if (!replaced) {
                    out.push_back(extra[i].first + "=" + extra[i].second);
                }
                used[i] = true;
                replaced = true;
            }
        }
        if (!replaced) {
            out.emplace_back(entry);
        }
    }
    for (std::size_t i = 0; i < extra.size(); ++i) {
        if (used[i]) {
            continue;
        }
        // A name given twice: the first wins, as it did for parent names.
        bool seen = false;
        for (std::size_t j = 0; j < i; ++j) {
            seen = seen || extra[j].first == extra[i].first;
        }
        if (!seen) {
            out.push_back(extra[i].first + "=" + extra[i].second);
        }
    }
    return out;
}

void LineSplitter::feed(std::string_view bytes,
                        const std::function<void(std::string_view)>& on_line) {
    for (const char c : bytes) {
        if (c == '\n') {
            if (!m_partial.empty() && m_partial.back() == '\r') {
                m_partial.pop_back();
            }
            on_line(m_partial);
            m_partial.clear();
            continue;
        }
        m_partial += c;
        if (m_partial.size() >= m_max_line) {
            std::size_t n = m_cut_at ? m_cut_at(m_partial, m_max_line) : m_max_line;
            if (n == 0 || n > m_partial.size()) {
                n = m_partial.size();  // bounded memory comes first
            }
            on_line(std::string_view(m_partial).substr(0, n));
            m_partial.erase(0, n);
        }
    }
}

void LineSplitter::finish(const std::function<void(std::string_view)>& on_line) {
    if (!m_partial.empty()) {
        if (m_partial.back() == '\r') {
            m_partial.pop_back();
        }
        on_line(m_partial);
        m_partial.clear();
    }
}

int ProcessResult::shell_status() const {
    switch (outcome) {
        case Outcome::Exited:
            return exit_code;
        case Outcome::Signaled:
            return 128 + signal;
        case Outcome::FailedToStart:
            return 127;
    }
    return 127;
}

std::string ProcessResult::describe() const {
    std::string out;
    switch (outcome) {
        case Outcome::Exited:
            out = "exit status " + std::to_string(exit_code);
            break;
        case Outcome::Signaled:
            out = "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
            break;
        case Outcome::FailedToStart:
            return "could not start: " + error;
    }
    return stopped ? out + ", after xbranch stopped it" : out;
}

ProcessResult PosixProcessRunner::run_shell(const std::string& command, const RunOptions& options,
                                            const LineSink& on_line) {
    std::array<int, 2> out_pipe{-1, -1};
    std::array<int, 2> err_pipe{-1, -1};
    if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
        return failed_to_start(errno, "pipe");
    }
    if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
        const int e = errno;
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        return failed_to_start(e, "pipe");
    }
    SpawnArgs args({"/bin/sh", "-c", command}, options.env);
    // Under a supervisor: the hook's whole group dies with this process, even
    // by SIGKILL (process_supervisor.hpp).
    detail::SupervisedHook hook;
    bool started = false;
    pid_t pid = 0;
    {
        const HoldSignals hold;
        started =
            hook.start("/bin/sh", args.argv.data(), args.envp.data(), out_pipe[1], err_pipe[1]);
        if (started) {
            pid = hook.group();
            m_forwarded = false;
            m_target = -pid;
            deliver_pending(-pid);
        }
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (!started) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        m_pending = 0;
        return failed_to_start(hook.error(), hook.what());
    }

    // Overlong lines are cut where no registered secret is split, so the
    // caller's redact() of each piece still finds it whole.
    std::array<LineSplitter, 2> splitters{LineSplitter(k_max_hook_line, safe_cut),
                                          LineSplitter(k_max_hook_line, safe_cut)};
    std::array<int, 2> fds{out_pipe[0], err_pipe[0]};
    const std::array<OutputStream, 2> streams{OutputStream::Stdout, OutputStream::Stderr};
    Stopper stopper(options, -pid);
    bool child_done = false;
    detail::HookEnd end;
    steady_clock::time_point drain_until{};
    std::array<char, 4096> buf{};
    for (;;) {
        // One poll: the output pipes, the supervisor's report (the hook's
        // end) and the token's fd; no slices.
        std::array<pollfd, 3> p{};
        std::size_t n = 0;
        std::array<int, 2> which{};
        for (int i = 0; i < 2; ++i) {
            if (fds[static_cast<std::size_t>(i)] >= 0) {
                p[n].fd = fds[static_cast<std::size_t>(i)];
                p[n].events = POLLIN;
                which[n] = i;
                ++n;
            }
        }
        const std::size_t outputs = n;
        if (outputs == 0 && child_done) {
            break;
        }
        if (!child_done) {
            p[n++] = pollfd{hook.report_fd(), POLLIN, 0};
        }
        std::optional<milliseconds> limit = stopper.wait_limit();
        if (child_done) {
            limit = std::max(milliseconds{0},
                             std::chrono::ceil<milliseconds>(drain_until - steady_clock::now()));
        }
        (void)poll_or_cancel(p.data(), n, limit, child_done ? nullptr : stopper.watched());
        for (std::size_t k = 0; k < outputs; ++k) {
            if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            const auto i = static_cast<std::size_t>(which[k]);
            const auto got = ::read(fds[i], buf.data(), buf.size());
            if (got > 0) {
                splitters[i].feed(std::string_view(buf.data(), static_cast<std::size_t>(got)),
                                  [&](std::string_view line) { on_line(streams[i], line); });
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(fds[i]);
                fds[i] = -1;
            }
        }
        if (!child_done) {
            stopper.tick();
            if (auto e = hook.poll_end()) {
                end = *e;
                child_done = true;
                drain_until = steady_clock::now() + k_drain;
            }
        } else if (steady_clock::now() >= drain_until) {
            break;
        }
    }
    for (std::size_t i = 0; i < 2; ++i) {
        if (fds[i] >= 0) {
            ::close(fds[i]);
        }
        splitters[i].finish([&](std::string_view line) { on_line(streams[i], line); });
    }
    m_target = 0;
    hook.finish();
    ProcessResult result;
    if (end.signaled) {
        result.outcome = ProcessResult::Outcome::Signaled;
        result.signal = end.value;
    } else {
        result.exit_code = end.value;
    }
    result.stopped = stopper.stopping();
    return result;
}

ProcessResult PosixProcessRunner::run_foreground(const std::vector<std::string>& argv,
                                                 const RunOptions& options) {
    if (argv.empty()) {
        return failed_to_start(EINVAL, "no command");
    }
    SpawnArgs args(argv, options.env);
    SpawnAttr attr(false);
    pid_t pid = 0;
    {
        const HoldSignals hold;
        const int rc = posix_spawnp(&pid, args.argv[0], nullptr, attr.get(), args.argv.data(),
                                    args.envp.data());
        if (rc != 0) {
            m_pending = 0;
            return failed_to_start(rc, argv[0]);
        }
        m_forwarded = false;
        m_target = pid;
        deliver_pending(pid);
    }
    Stopper stopper(options, pid);
    // The child's end wakes the wait through a pidfd (Linux 5.3), a cancel
    // through the token's fd.
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#endif
    while (!exited(pid)) {
        stopper.tick(m_forwarded.load());
        pollfd p{pidfd, POLLIN, 0};
        std::optional<milliseconds> limit = stopper.wait_limit();
        if (pidfd < 0) {
            limit = std::min(limit.value_or(k_no_pidfd_tick), k_no_pidfd_tick);
        }
        (void)poll_or_cancel(&p, pidfd >= 0 ? 1 : 0, limit, stopper.watched());
    }
    if (pidfd >= 0) {
        ::close(pidfd);
    }
    m_target = 0;
    auto result = from_status(reap(pid));
    result.stopped = stopper.stopping();
    return result;
}

void PosixProcessRunner::forward_signal(int sig) noexcept {
    const pid_t target = m_target.load();
    if (target != 0) {
        m_forwarded.store(true);
        ::kill(target, sig);
    } else {
        m_pending.store(sig);
    }
}

// Called with the signals held, right after the spawn.
void PosixProcessRunner::deliver_pending(pid_t target) {
    if (const int sig = m_pending.exchange(0); sig != 0) {
        m_forwarded.store(true);
        ::kill(target, sig);
    }
}

}  // namespace xbranch
