#include "xbranch/run_end.hpp"

#include <atomic>
#include <random>

#include "xbranch/naming.hpp"

namespace xbranch {
namespace {

// The runner the signal handler forwards to; set only while CMD may run.
std::atomic<ProcessRunner*> g_child_runner{nullptr};

extern "C" void forward_to_child(int sig) {
    if (ProcessRunner* runner = g_child_runner.load(); runner != nullptr) {
        runner->forward_signal(sig);
    }
}

// Clears the forwarder on every way out, so the handler never reaches a dead runner.
class ForwardScope {
  public:
    ForwardScope(ProcessRunner& runner, ChildSignals& child) {
        g_child_runner.store(&runner);
        set_signal_forwarder(forward_to_child, &child);
    }
    ~ForwardScope() {
        set_signal_forwarder(nullptr, nullptr);
        g_child_runner.store(nullptr);
    }
    ForwardScope(const ForwardScope&) = delete;
    ForwardScope& operator=(const ForwardScope&) = delete;
};

}  // namespace

std::string random_run_branch_name() {
    static constexpr char k_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device random;
    std::uniform_int_distribution<std::size_t> pick(0, sizeof(k_chars) - 2);
    std::string name(k_run_branch_prefix);
    for (int i = 0; i < 8; ++i) {
        name += k_chars[pick(random)];
    }
    return name;
}

RunChild run_child(ProcessRunner& runner, const std::vector<std::string>& argv, EnvVars env,
                   const CancelToken& run_cancel, ChildSignals& child,
                   std::chrono::milliseconds kill_grace) {
    ForwardScope forwarding(runner, child);
    if (run_cancel.cancelled()) {
        // The signal came before CMD started: it never runs.
        return {128 + run_cancel.signal_number(), std::nullopt};
    }
    RunOptions options;
    options.env = std::move(env);
    const CancelToken* ending = &child.end;
    options.cancel = ending;
    options.kill_grace = kill_grace;
    ProcessResult r = runner.run_foreground(argv, options);
    return {r.shell_status(), std::move(r)};
}

int run_exit_status(int command_status, const std::optional<Error>& left_by) {
    if (command_status != 0 || !left_by) {
        return command_status;
    }
    const int code = exit_code(left_by->kind(), left_by->signal_number());
    return code != 0 ? code : exit_code(ErrorKind::Internal);
}

RunEnd end_run(int command_status, bool delete_after,
               const std::function<std::optional<Error>()>& discard) {
    if (!delete_after) {
        return {command_status, std::nullopt};
    }
    std::optional<Error> left_by = discard();
    return {run_exit_status(command_status, left_by), std::move(left_by)};
}

}  // namespace xbranch
