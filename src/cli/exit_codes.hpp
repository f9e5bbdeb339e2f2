// The exit codes as the CLI words them: what each error kind means to a
// user and which commands return it, for `--help` (and, checked by a test,
// the README). The codes and kind names are the core's (error_kinds()).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xbranch/error.hpp"

namespace xbranch::cli {

// What each error kind means to a user and which commands return it (none
// listed: every command); the code and kind name are error_kinds()'s.
struct ExitCodeWords {
    ErrorKind kind;
    const char* meaning;
    std::vector<std::string_view> commands;
};
const std::vector<ExitCodeWords>& exit_code_words();
// Statuses that are no error kind: one command's own answers (diff's 14,
// shell's 127), listed before the signals.
struct CommandStatusWords {
    int code;
    const char* meaning;
    std::vector<std::string_view> commands;
};
const std::vector<CommandStatusWords>& command_status_words();
// "Exit codes:" and the rows `command` can return (every row when empty).
std::string exit_codes_help(std::string_view command);

}  // namespace xbranch::cli
