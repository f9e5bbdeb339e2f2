// The hints that name flags and environment variables: the core reports a
// machine-readable ErrorReason and cleanup state, the CLI words them here.
#pragma once

#include <string>

#include "xbranch/error.hpp"

namespace xbranch::cli {

// The full hint for an error: the reason's hint (flags, env vars), the
// core's own hint, then what became of the branch this run created.
std::string hint_text(const Error& e);

// The exact command that deletes a branch left behind.
std::string delete_command(const std::string& branch_id);

}  // namespace xbranch::cli
