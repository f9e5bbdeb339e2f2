#include "process_supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace xbranch::detail {
namespace {

// One report, supervisor -> xbranch: a type byte and a value.
enum Report : char {
    ReportPid = 'P',      // the hook's pid (and process group id)
    ReportStarted = 'S',  // its exec worked
    ReportFailed = 'F',   // fork or exec failed: errno
    ReportExited = 'E',   // the hook exited: its code
    ReportKilled = 'K',   // the hook was killed: the signal
};
constexpr char k_done = 'd';  // xbranch -> supervisor: report read, reap and exit
constexpr int k_poll_ms = 10;
constexpr int k_max_keep = 8;

// Everything the children need, computed before the fork: after it only
// async-signal-safe calls are made, and nothing is allocated.
struct ChildPlan {
    const char* path;
    char* const* argv;
    char* const* envp;
    int out_fd;
    int err_fd;
    int devnull;
    int lifeline_r;
    int report_w;
    int exec_r;
    int exec_w;
    std::array<int, k_max_keep> keep{};  // sorted, -1 padded at the end
    int keep_count = 0;
    int max_fd = 0;  // the fallback's bound when close_range is missing
};

void write_report(int fd, char type, int value) {
    std::array<char, 8> buf{};
    buf[0] = type;
    std::memcpy(buf.data() + 4, &value, sizeof value);
    ssize_t n = 0;
    do {
        n = ::write(fd, buf.data(), buf.size());
    } while (n < 0 && errno == EINTR);
}

// Reads one whole report; false at end of file or on an error.
bool read_report(int fd, char& type, int& value) {
    std::array<char, 8> buf{};
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    type = buf[0];
    std::memcpy(&value, buf.data() + 4, sizeof value);
    return true;
}

void close_range_of(int lo, int hi, int max_fd) {
    if (lo > hi) {
        return;
    }
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0U) == 0) {
        return;
    }
#endif
    for (int fd = lo; fd <= std::min(hi, max_fd); ++fd) {
        ::close(fd);
    }
}

// The supervisor keeps no descriptor of xbranch's but its own pipes: an
// inherited socket (the hooks' lock's session) must close when xbranch dies.
void close_all_but(const ChildPlan& plan) {
    int from = 3;
    for (int i = 0; i < plan.keep_count; ++i) {
        close_range_of(from, plan.keep[static_cast<std::size_t>(i)] - 1, plan.max_fd);
        from = plan.keep[static_cast<std::size_t>(i)] + 1;
    }
    close_range_of(from, ~0U >> 1U, plan.max_fd);
}

void reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

[[noreturn]] void run_hook(const ChildPlan& plan, pid_t supervisor) {
    ::setpgid(0, 0);
    // The supervisor killed (it never is, by xbranch): the hook dies with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != supervisor) {
        ::_exit(127);
    }
    ::dup2(plan.devnull, 0);
    ::dup2(plan.out_fd, 1);
    ::dup2(plan.err_fd, 2);
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    sigemptyset(&defaults.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD}) {
        ::sigaction(s, &defaults, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(plan.path, plan.argv, plan.envp);
    const int err = errno;
    ssize_t n = 0;
    do {
        n = ::write(plan.exec_w, &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    ::_exit(127);
}

// Blocks until xbranch says "done" (true) or goes away (false).
bool wait_for_done(int lifeline) {
    char c = 0;
    for (;;) {
        const ssize_t n = ::read(lifeline, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n == 1 && c == k_done;
    }
}

[[noreturn]] void supervise(const ChildPlan& plan) {
    // Signals are xbranch's business (a terminal's Ctrl-C reaches this
    // process too): the hook is stopped through its group, this one by the pipe.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) {
        ::sigaction(s, &ignore, nullptr);
    }
    close_all_but(plan);
    const pid_t self = ::getpid();
    const pid_t hook = ::fork();
    if (hook < 0) {
        write_report(plan.report_w, ReportFailed, errno);
        ::_exit(1);
    }
    if (hook == 0) {
        ::close(plan.lifeline_r);
        ::close(plan.report_w);
        ::close(plan.exec_r);
        run_hook(plan, self);
    }
    ::setpgid(hook, hook);  // also here: the group exists before anyone signals it
    ::close(plan.exec_w);
    ::close(plan.out_fd);
    ::close(plan.err_fd);
    ::close(plan.devnull);
    write_report(plan.report_w, ReportPid, hook);
    int err = 0;
    ssize_t n = 0;
    do {
        n = ::read(plan.exec_r, &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    ::close(plan.exec_r);
    if (n == static_cast<ssize_t>(sizeof err)) {
        reap(hook);
        write_report(plan.report_w, ReportFailed, err);
        ::_exit(1);
    }
    write_report(plan.report_w, ReportStarted, 0);
    // The hook's end wakes the poll where the kernel has pidfds; else a short tick.
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = static_cast<int>(::syscall(SYS_pidfd_open, hook, 0));
#endif
    for (;;) {
        std::array<pollfd, 2> p{pollfd{plan.lifeline_r, POLLIN, 0}, pollfd{pidfd, POLLIN, 0}};
        (void)::poll(p.data(), pidfd >= 0 ? 2 : 1, pidfd >= 0 ? k_poll_ms * 20 : k_poll_ms);
        if (p[0].revents != 0) {
            // Anything but "done" while the hook runs: xbranch is gone.
            const bool done = wait_for_done(plan.lifeline_r);
            ::killpg(hook, SIGKILL);
            reap(hook);
            ::_exit(done ? 0 : 1);
        }
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(hook), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == hook) {
            const bool killed = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
            write_report(plan.report_w, killed ? ReportKilled : ReportExited, info.si_status);
            // Unreaped until xbranch has read it: the group id stays the hook's.
            const bool done = wait_for_done(plan.lifeline_r);
            if (!done) {
                ::killpg(hook, SIGKILL);  // xbranch died: what is left of the group too
            }
            reap(hook);
            ::_exit(0);
        }
    }
}

int open_max() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
        return static_cast<int>(std::min<rlim_t>(r.rlim_cur, 65536));
    }
    return 65536;
}

}  // namespace

SupervisedHook::~SupervisedHook() {
    finish();
}

bool SupervisedHook::start(const char* path, char* const* argv, char* const* envp, int out_fd,
                           int err_fd) {
    std::array<int, 2> lifeline{-1, -1};
    std::array<int, 2> report{-1, -1};
    std::array<int, 2> exec{-1, -1};
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto fail = [&](int err, const char* what) {
        for (int fd : {lifeline[0], lifeline[1], report[0], report[1], exec[0], exec[1], devnull}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
        m_error = err;
        m_what = what;
        return false;
    };
    if (devnull < 0) {
        return fail(errno, "/dev/null");
    }
    if (::pipe2(lifeline.data(), O_CLOEXEC) != 0 || ::pipe2(report.data(), O_CLOEXEC) != 0 ||
        ::pipe2(exec.data(), O_CLOEXEC) != 0) {
        return fail(errno, "pipe");
    }
    ChildPlan plan{path,      argv,    envp,    out_fd, err_fd, devnull,   lifeline[0],
                   report[1], exec[0], exec[1], {},     0,      open_max()};
    for (int fd : {out_fd, err_fd, devnull, lifeline[0], report[1], exec[0], exec[1]}) {
        plan.keep[static_cast<std::size_t>(plan.keep_count++)] = fd;
    }
    std::sort(plan.keep.begin(), plan.keep.begin() + plan.keep_count);
    const pid_t supervisor = ::fork();
    if (supervisor < 0) {
        return fail(errno, "fork");
    }
    if (supervisor == 0) {
        ::close(lifeline[1]);
        ::close(report[0]);
        supervise(plan);
    }
    for (int fd : {lifeline[0], report[1], exec[0], exec[1], devnull}) {
        ::close(fd);
    }
    m_supervisor = supervisor;
    m_lifeline = lifeline[1];
    m_report = report[0];
    char type = 0;
    int value = 0;
    if (!read_report(m_report, type, value) || type != ReportPid) {
        m_what = "the hook's supervisor";
        m_error = type == ReportFailed ? value : ECHILD;
        finish(true);
        return false;
    }
    m_hook = value;
    if (!read_report(m_report, type, value) || type != ReportStarted) {
        m_what = "/bin/sh";
        m_error = type == ReportFailed ? value : ECHILD;
        m_hook = -1;
        finish(true);
        return false;
    }
    ::fcntl(m_report, F_SETFL, ::fcntl(m_report, F_GETFL) | O_NONBLOCK);
    return true;
}

std::optional<HookEnd> SupervisedHook::poll_end() {
    if (m_end || m_report < 0) {
        return m_end;
    }
    std::array<char, 8> buf{};
    const ssize_t n = ::read(m_report, buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return std::nullopt;
    }
    HookEnd end;
    if (n == static_cast<ssize_t>(buf.size()) &&
        (buf[0] == ReportExited || buf[0] == ReportKilled)) {
        end.signaled = buf[0] == ReportKilled;
        std::memcpy(&end.value, buf.data() + 4, sizeof end.value);
    } else {
        // The supervisor is gone without a word: make sure the group is too.
        if (m_hook > 0) {
            ::kill(-m_hook, SIGKILL);
        }
        end.signaled = true;
        end.value = SIGKILL;
    }
    m_end = end;
    return m_end;
}

void SupervisedHook::finish(bool kill_group) {
    if (m_lifeline >= 0) {
        if (!kill_group) {
            ssize_t n = 0;
            do {
                n = ::write(m_lifeline, &k_done, 1);
            } while (n < 0 && errno == EINTR);
        }
        ::close(m_lifeline);  // without "done": the supervisor kills the group
        m_lifeline = -1;
    }
    if (m_report >= 0) {
        ::close(m_report);
        m_report = -1;
    }
    if (m_supervisor > 0) {
        reap(m_supervisor);
        m_supervisor = -1;
    }
}

}  // namespace xbranch::detail
