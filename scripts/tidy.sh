#!/bin/sh
# clang-tidy over our own sources (src/ and emulator/; the tests are left
# out) with .clang-tidy; any finding fails (exit 1).
#   scripts/tidy.sh [BUILD_DIR]     default build/tidy
# It needs only a configured compile database, not a build. It checks the
# unity batches (XBRANCH_UNITY, CMakeLists.txt) rather than file by file:
# clang-tidy spends most of its time in the third-party headers, and a batch
# parses them once for its 8 files. A finding in any file of a batch is
# reported at that file's own line (HeaderFilterRegex covers src/ and
# emulator/); the one check that does not fit a batch, including a .cpp
# file, is off here. It also checks that every file of src/ and emulator/
# is in some batch or in the database on its own. No precompiled headers:
# clang cannot read GCC's .gch files. The database holds GCC's flags
# (-Wno-restrict): clang is told to ignore the ones it does not know.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build/tidy}
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset debug -B "$build" -DXBRANCH_PCH=OFF -DXBRANCH_UNITY=ON >/dev/null
root=$(pwd)
units=$(mktemp)
trap 'rm -f "$units" "$units.rc"' EXIT
# The database's files that are ours: unity batches of src/ and emulator/
# targets, or one of their files on its own.
sed -n 's/^ *"file": "\(.*\)",*$/\1/p' "$build/compile_commands.json" |
    grep -E "^($root/$build/(src|emulator)/.*/Unity/unity_[0-9]+_cxx\.cxx|$root/(src|emulator)/.*\.cpp)$" |
    sort -u >"$units"
missing=0
for f in $(git ls-files 'src/*.cpp' 'emulator/*.cpp'); do
    if ! grep -qxF "$root/$f" "$units" &&
        ! grep -lF "#include \"$root/$f\"" $(grep '/Unity/' "$units") >/dev/null 2>&1; then
        echo "tidy: $f is in no unit of $build/compile_commands.json" >&2
        missing=1
    fi
done
[ "$missing" -eq 0 ] || exit 1
echo "tidy: $(wc -l <"$units") units covering $(git ls-files 'src/*.cpp' 'emulator/*.cpp' | wc -l) files"
# clang-tidy's own chatter is filtered out; its status is kept in a file,
# since a pipeline in sh gives only the last command's.
{
    rc=0
    xargs -P "$jobs" -n 1 clang-tidy -p "$build" --quiet --warnings-as-errors='*' \
        --checks=-bugprone-suspicious-include --extra-arg=-Wno-unknown-warning-option \
        <"$units" || rc=$?
    echo "$rc" >"$units.rc"
} 2>&1 | grep -vE '^[0-9]+ warnings? generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' || true
rc=$(cat "$units.rc")
rm -f "$units.rc"
[ "$rc" -eq 0 ] && echo "tidy: no findings"
exit "$rc"
