// The emulator's command line (CLI11) and its process life: parse, start
// the server, wait for SIGTERM/SIGINT, stop.
#pragma once

#include <optional>
#include <ostream>

#include "options.hpp"

namespace emu {

// Fills opts from the arguments; an exit code when the process should end
// now (0 after --help, 2 for a bad flag, with the message on err).
std::optional<int> parse_options(int argc, const char* const* argv, Options& opts,
                                 std::ostream& out, std::ostream& err);

// The whole program: 0 after a clean stop, 1 for a start-up failure, 2 for
// bad flags.
int run(int argc, const char* const* argv);

}  // namespace emu
