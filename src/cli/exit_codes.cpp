#include "exit_codes.hpp"

#include <algorithm>

namespace xbranch::cli {

const std::vector<ExitCodeWords>& exit_code_words() {
    // create, run and reset share the lifecycle: a deadline, the wait, the
    // login check, the hooks, the quota. delete and url refuse some branches.
    // The codes and kind names are the core's (error_kinds()).
    static const std::vector<ExitCodeWords> k_words = {
        {ErrorKind::Internal, "a bug in xbranch", {}},
        {ErrorKind::Usage, "usage or configuration error", {}},
        {ErrorKind::Auth, "authentication failed (HTTP 401/403)", {}},
        {ErrorKind::NotFound, "not found (organization, project, parent or branch)", {}},
        {ErrorKind::Conflict,
         "conflict (a branch in the way, a branch that must not be touched, an empty "
         "Signadot sandbox list)",
         {"create", "run", "reset", "delete", "url", "gc", "shell"}},
        {ErrorKind::Timeout, "timed out (--timeout ran out)", {"create", "run", "reset", "diff"}},
        {ErrorKind::Fault, "branch fault", {"create", "run", "reset"}},
        {ErrorKind::Unavailable, "API unavailable (network, 5xx or 429 after retries)", {}},
        {ErrorKind::Io, "local I/O (output folder, standard output)", {}},
        {ErrorKind::Protocol, "unexpected API answer", {}},
        {ErrorKind::NotConnectable,
         "not connectable (no login worked before the time limit, or the database is missing)",
         {"create", "run", "reset", "diff"}},
        {ErrorKind::QuotaExceeded, "branch quota reached", {"create", "run", "reset"}},
        {ErrorKind::HookFailed, "a --sql/--exec hook failed", {"create", "run", "reset"}},
        {ErrorKind::Interrupted, "interrupted (SIGINT/SIGTERM/SIGHUP)", {}},
    };
    return k_words;
}

const std::vector<CommandStatusWords>& command_status_words() {
    static const std::vector<CommandStatusWords> k_words = {
        {k_exit_schema_differs, "diff: the schemas differ (not an error)", {"diff"}},
        {127, "no psql on PATH", {"shell"}},
    };
    return k_words;
}

std::string exit_codes_help(std::string_view command) {
    std::string out = "Exit codes:";
    const auto row = [&out](std::string codes, const char* meaning) {
        codes.resize(std::max<std::size_t>(codes.size(), 11), ' ');
        out += "\n  " + codes + "  " + meaning;
    };
    row("0", "ok");
    for (const auto& kind : error_kinds()) {
        const auto words = std::find_if(exit_code_words().begin(), exit_code_words().end(),
                                        [&](const auto& w) { return w.kind == kind.kind; });
        if (words == exit_code_words().end()) {
            continue;  // not reached: a unit test checks every kind has its words
        }
        const bool applies = command.empty() || words->commands.empty() ||
                             std::find(words->commands.begin(), words->commands.end(), command) !=
                                 words->commands.end();
        if (kind.kind == ErrorKind::Interrupted) {
            for (const auto& status : command_status_words()) {
                if (command.empty() || std::find(status.commands.begin(), status.commands.end(),
                                                 command) != status.commands.end()) {
                    row(std::to_string(status.code), status.meaning);
                }
            }
        }
        if (applies) {
            row(kind.kind == ErrorKind::Interrupted ? "130/143/129"
                                                    : std::to_string(kind.exit_code),
                words->meaning);
        }
    }
    return out;
}

}  // namespace xbranch::cli
