#!/usr/bin/env bash
# Builds the libFuzzer targets with the `fuzz` preset (clang, ASan+UBSan) in
# build/fuzz and runs each for N seconds (default 60). A crash fails the run
# and leaves the reproducer (crash-*, leak-*, timeout-*) in build/fuzz/artifacts.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
# Needs clang 14 and its runtime (Debian: clang-14 libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_parsers fuzz_naming fuzz_connection fuzz_tag fuzz_sql_script)
fi
jobs=${XBRANCH_FUZZ_JOBS:-2}

cmake --preset fuzz -DXBRANCH_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build build/fuzz -j"$jobs" --target "${targets[@]}"

artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
status=0
for t in "${targets[@]}"; do
  scratch=build/fuzz/tests/fuzz/corpus/$t
  mkdir -p "$scratch"
  echo "== $t for ${seconds}s"
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    "$scratch" "tests/fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1
  rc=$?
  set -e
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)|deadly signal' "build/fuzz/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "!! $t failed (exit $rc); see build/fuzz/$t.log and $artifacts" >&2
    status=1
  fi
done
exit $status
