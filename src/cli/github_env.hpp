// create's hand-over to GitHub Actions, driven by the runner's env
// (GITHUB_ACTIONS, GITHUB_OUTPUT); does nothing outside a workflow.
#pragma once

#include <ostream>

#include "xbranch/config.hpp"
#include "xbranch/lifecycle.hpp"

namespace xbranch::cli {

// GITHUB_ACTIONS=true: writes ::add-mask:: for every secret output (password,
// connection strings) to out. Call before anything else prints the result.
void github_mask_secrets(const CreateResult& result, const Environment& env, std::ostream& out);

// GITHUB_OUTPUT set: appends every output file's value plus `created` there,
// multi-line safe. Throws Error(Io) when the file cannot be written.
void github_write_outputs(const CreateResult& result, const Environment& env);

}  // namespace xbranch::cli
