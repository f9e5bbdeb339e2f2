#!/bin/sh
# The alternative users have today, for the benchmark: the official flow
# (`xata branch create` + `xata branch wait-ready` + credentials) written as a
# POSIX sh script with curl and jq.
#
#   baseline.sh create NAME OUTDIR   resolve the parent by name (GET /branches),
#                                    POST the branch, poll GET /branches/{id}
#                                    every 1 s until STATUS_TYPE_HEALTHY, GET
#                                    credentials?username=xata, write the same
#                                    output files as `xbranch create --output-dir`
#   baseline.sh delete NAME          GET /branches, DELETE /branches/{id}
#
# Environment, as for xbranch: XATA_API_KEY, XATA_API_BASE_URL (default
# https://api.xata.tech), XATA_ORGANIZATION_ID, XATA_PROJECT_ID; the parent is
# XATA_BRANCH_NAME (default main). BASELINE_POLL_S overrides the 1 s interval.
# Exit codes: 0 ok, 1 API or usage error, 7 the branch is in FAULT.
set -eu

: "${XATA_API_KEY:?XATA_API_KEY is required}"
: "${XATA_ORGANIZATION_ID:?XATA_ORGANIZATION_ID is required}"
: "${XATA_PROJECT_ID:?XATA_PROJECT_ID is required}"
base="${XATA_API_BASE_URL:-https://api.xata.tech}"
base="${base%/}"
parent="${XATA_BRANCH_NAME:-main}"
poll="${BASELINE_POLL_S:-1}"
project_url="$base/organizations/$XATA_ORGANIZATION_ID/projects/$XATA_PROJECT_ID"

# One API call: api METHOD PATH [BODY]; prints the body, fails on HTTP >= 400.
# The key goes through a header file descriptor so it never shows in `ps`.
api() {
    if [ $# -ge 3 ]; then
        printf 'Authorization: Bearer %s\n' "$XATA_API_KEY" |
            curl -sS --fail-with-body -X "$1" -H @- -H 'Content-Type: application/json' \
                --data "$3" "$project_url$2"
    else
        printf 'Authorization: Bearer %s\n' "$XATA_API_KEY" |
            curl -sS --fail-with-body -X "$1" -H @- "$project_url$2"
    fi
}

# The id of the active branch named $1 (empty when there is none).
branch_id_by_name() {
    api GET /branches | jq -r --arg n "$1" '[.branches[] | select(.name == $n)][0].id // empty'
}

write_file() {  # write_file DIR NAME VALUE: one value, no trailing newline
    printf '%s' "$3" > "$1/$2"
}

cmd_create() {
    name="$1"
    out="$2"
    mkdir -p "$out"
    parent_id=$(branch_id_by_name "$parent")
    [ -n "$parent_id" ] || { echo "baseline: parent branch '$parent' not found" >&2; exit 1; }
    body=$(jq -cn --arg n "$name" --arg p "$parent_id" '{name: $n, mode: "inherit", parentID: $p}')
    id=$(api POST /branches "$body" | jq -r '.id')
    # xata branch wait-ready: ask, and if not ready, sleep 1 s and ask again.
    while :; do
        status=$(api GET "/branches/$id" | jq -r '.status.statusType')
        case "$status" in
            STATUS_TYPE_HEALTHY) break ;;
            STATUS_TYPE_FAULT) echo "baseline: branch $name is in FAULT" >&2; exit 7 ;;
        esac
        sleep "$poll"
    done
    creds=$(api GET "/branches/$id/credentials?username=xata")
    user='' password='' host='' port='' db='' url=''
    eval "$(printf '%s' "$creds" | jq -r '@sh "user=\(.username) password=\(.password) host=\(.hostname) port=\(.port) db=\(.dbname) url=\(.connectionString)"')"
    write_file "$out" branch-name "$name"
    write_file "$out" branch-id "$id"
    write_file "$out" host "$host"
    write_file "$out" port "$port"
    write_file "$out" database "$db"
    write_file "$out" username "$user"
    (
        umask 077
        write_file "$out" password "$password"
        write_file "$out" connection-string "$url?sslmode=require"
    )
}

cmd_delete() {
    id=$(branch_id_by_name "$1")
    if [ -z "$id" ]; then
        echo "baseline: no branch named $1" >&2
        return 0
    fi
    api DELETE "/branches/$id" > /dev/null
}

case "${1:-}" in
    create) [ $# -eq 3 ] || { echo "usage: $0 create NAME OUTDIR" >&2; exit 1; }; cmd_create "$2" "$3" ;;
    delete) [ $# -eq 2 ] || { echo "usage: $0 delete NAME" >&2; exit 1; }; cmd_delete "$2" ;;
    *) echo "usage: $0 create NAME OUTDIR | delete NAME" >&2; exit 1 ;;
esac
