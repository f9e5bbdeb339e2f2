#!/bin/sh
# Reads a ctest log and prints one line, "N passed, N failed, N skipped",
# then the name of each skipped test. ctest's own summary counts a skipped
# test (SKIP_RETURN_CODE) among the passed ones, and names it twice (its
# result line and "The following tests did not run"): only the result lines
# are counted here.
#   scripts/ctest-summary.sh LOG
set -eu
log=$1
result='^ *[0-9]+/[0-9]+ Test +#[0-9]+: '
passed=$(grep -cE "$result.* Passed" "$log" || true)
failed=$(grep -cE "$result.*(\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception|Not Run|\*\*\*Not)" "$log" || true)
skipped=$(grep -cE "$result.*\*\*\*Skipped" "$log" || true)
echo "$passed passed, $failed failed, $skipped skipped"
grep -E "$result.*\*\*\*Skipped" "$log" | sed -E 's/^.*: ([^ ]+) .*/   skipped: \1/' || true
