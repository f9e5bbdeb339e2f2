#!/bin/sh
# The README's test command: install what is missing, build, run every test.
#   scripts/test.sh            normal build (build/debug), all tests
#   scripts/test.sh --asan     the same under AddressSanitizer + UBSan (build/asan)
# Exit status: ctest's (non-zero when any test failed).
set -eu
cd "$(dirname "$0")/.."

preset=debug
case "${1:-}" in
    --asan) preset=asan ;;
    "") ;;
    *) echo "usage: scripts/test.sh [--asan]" >&2; exit 2 ;;
esac

sh scripts/deps.sh --test
jobs=$(nproc 2>/dev/null || echo 2)

echo "== configure and build ($preset)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"

echo "== test ($preset)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# ctest's own summary counts a skipped test as passed; say which skipped.
log="build/$preset/last-test-run.log"
# (set -e would end the group at a failing ctest before its status is saved.)
{
    rc=0
    ctest --preset "$preset" -j "$jobs" --timeout 600 || rc=$?
    echo "$rc" >"$log.rc"
} | tee "$log"
status=$(cat "$log.rc")
echo "== $(sh scripts/ctest-summary.sh "$log" | head -n 1), exit status $status (log: $log)"
sh scripts/ctest-summary.sh "$log" | sed 1d
skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$log" || true)
if [ "$skipped" -gt 0 ] && grep -qE 'contract[a-z_]* .*Skipped' "$log"; then
    echo "   the contract tests read ../shared (beside the clone) or XBRANCH_OPENAPI and XBRANCH_SIGNADOT_SWAGGER"
fi
rm -f "$log.rc"
exit "$status"
