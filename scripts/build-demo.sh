#!/bin/sh
# Builds the two programs scripts/demo.sh runs (xbranch and xata-emulator,
# release build in build/release, no tests) and shows that it is alive: a
# line with the build's own [done/total] counter and the elapsed time at
# most every 10 s. The full build log is printed only when the build fails.
set -eu
cd "$(dirname "$0")/.."
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status_file="$log.status"
{
    cmake --preset release -DXBRANCH_BUILD_TESTS=OFF &&
        cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target xbranch xata-emulator
    echo $? >"$status_file"
} 2>&1 | {
    last=$start
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$log"
        case $line in
            "["*/*"]"*)
                now=$(date +%s)
                if [ $((now - last)) -ge 10 ]; then
                    echo "  $((now - start))s ${line%%]*}]"
                    last=$now
                fi
                ;;
        esac
    done
}
status=$(cat "$status_file" 2>/dev/null || echo 1)
rm -f "$status_file"
if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    echo "build failed" >&2
    exit 1
fi
echo "  built in $(($(date +%s) - start))s"
