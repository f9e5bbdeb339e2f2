// "did you mean ...?" for a mistyped command or flag: the known words
// nearest to what was typed, by edit distance. Pure; the CLI words the error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xbranch::cli {

// Optimal string alignment distance (insert, delete, substitute, swap two
// neighbours: one edit each), case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The known words nearest to `typed`, in the order given, when they are
// close enough to be a typo: at most 1 edit for words up to 4 characters,
// 2 up to 8, else 3 (leading dashes of flags are not counted). Empty when
// nothing is that close, or `typed` is itself known.
std::vector<std::string> suggestions(std::string_view typed, const std::vector<std::string>& known);

// " (did you mean 'create'?)", " (did you mean --sandbox or --sandbox-id?)",
// or "" when there is nothing to suggest. Flags are shown bare, commands quoted.
std::string did_you_mean(std::string_view typed, const std::vector<std::string>& known);

}  // namespace xbranch::cli
