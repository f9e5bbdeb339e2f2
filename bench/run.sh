#!/bin/sh
# One command for the benchmark: builds a Release tree in build/bench if
# needed, then runs bench/run_bench.py (extra arguments go to it, e.g. --quick).
# Results: bench/results/latest.json and bench/results/latest.md.
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
cmake --build "$build" -j2 --target xbranch xata-emulator

exec /usr/bin/python3 "$here/run_bench.py" \
    --xbranch "$build/src/xbranch" --emulator "$build/emulator/xata-emulator" "$@"
