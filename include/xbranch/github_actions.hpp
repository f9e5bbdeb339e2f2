// GitHub Actions workflow commands, as text: masks for secret values and
// entries for the $GITHUB_OUTPUT file. Pure formatting; no I/O, no env.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/outputs.hpp"

namespace xbranch::github {

// Escapes a workflow command's data the way the runner unescapes it
// (% -> %25, CR -> %0D, LF -> %0A), so the value it registers is exact.
std::string escape_command_data(std::string_view data);

// One "::add-mask::VALUE" line per distinct non-empty line of each secret
// (the runner masks line by line); "" when there is nothing to mask.
std::string mask_commands(const std::vector<std::string>& secrets);

// The values to mask for these output files: every secret file's value,
// and for the password also its encoded forms (secret_forms in redact.hpp),
// since the runner masks only the exact text it was given.
std::vector<std::string> output_masks(const std::vector<OutputFile>& files);

// A fresh random delimiter candidate ("ghadelimiter_" + 32 hex digits).
std::string random_delimiter();

// The multi-line-safe output entry "NAME<<DELIM\nVALUE\nDELIM\n", with a
// delimiter from make_delimiter that occurs nowhere in the value. Throws
// Error(Internal) for a name outside [A-Za-z0-9_-] or when 16 candidates
// all occur in the value.
std::string output_entry(std::string_view name, std::string_view value,
                         const std::function<std::string()>& make_delimiter = random_delimiter);

}  // namespace xbranch::github
