#!/bin/sh
# Builds the two programs scripts/demo.sh runs (xbranch and xata-emulator,
# release build in build/release, no tests) and shows that it is alive:
# every 10 s a line with the elapsed time and the build's own [done/total]
# counter. The full build log is printed only when the build fails.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
log=$(mktemp)
ticker=""
trap 'if [ -n "$ticker" ]; then kill "$ticker" 2>/dev/null || true; fi; rm -f "$log"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

(
    while sleep 10; do
        step=$(grep -oE '^\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 || true)
        echo "  $(($(date +%s) - start))s ${step:-configuring}"
    done
) &
ticker=$!

status=0
{
    cmake --preset release -DXBRANCH_BUILD_TESTS=OFF &&
        cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target xbranch xata-emulator
} >"$log" 2>&1 || status=$?
kill "$ticker" 2>/dev/null || true
ticker=""
if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    echo "build failed" >&2
    exit 1
fi
echo "  built in $(($(date +%s) - start))s"
