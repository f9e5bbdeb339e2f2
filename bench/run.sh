#!/bin/sh
# One command for the benchmark: builds a Release tree in build/bench if
# needed, then runs bench/run_bench.py (extra arguments go to it, e.g. --quick).
# Results: bench/results/latest.json and bench/results/latest.md.
# XBRANCH_BIN=PATH: measure that xbranch binary instead of building one.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
build="${XBRANCH_BENCH_BUILD:-$repo/build/bench}"

for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench: $tool is missing; install it: apt-get install -y curl jq" >&2
        exit 2
    }
done

if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXBRANCH_BUILD_TESTS=OFF
fi
# Ninja rebuilds only what changed; -j2 keeps the machine usable.
# XBRANCH_BIN measures another xbranch binary (e.g. another clone's build)
# against this tree's emulator and baseline.
if [ -n "${XBRANCH_BIN:-}" ]; then
    cmake --build "$build" -j2 --target xata-emulator
    xbranch=$XBRANCH_BIN
else
    cmake --build "$build" -j2 --target xbranch xata-emulator
    xbranch=$build/src/xbranch
fi

exec /usr/bin/python3 "$here/run_bench.py" \
    --xbranch "$xbranch" --emulator "$build/emulator/xata-emulator" "$@"
