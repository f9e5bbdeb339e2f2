#!/bin/sh
# The README's main command: create, use and delete a branch, end to end,
# against the local Xata emulator backed by a real PostgreSQL server.
# Installs what is missing, builds only the two programs it runs, shows
# progress all along, and cleans up after itself, also on failure and when
# interrupted (Ctrl-C: exit 130, SIGTERM: exit 143; cleanup runs once).
# With XBRANCH_BIN and XATA_EMULATOR_BIN both set to built binaries (the
# tests do that) it skips the install and the build and runs those.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n==> %s\n' "$*"; }

# Every long step runs in the background and the script waits for it: a
# shell runs its INT/TERM trap only between commands, and `wait` is one
# that a signal ends, so an interrupted demo stops at once, not after the
# step. psql never pages (-P pager=off): a pager would wait for a key.
child=""
bg() {
    "$@" &
    child=$!
    wait "$child"
    rc=$?
    child=""
    return "$rc"
}
psql_() { bg psql -X -P pager=off "$@"; }

interrupted() {
    trap - INT TERM
    if [ -n "$child" ]; then
        kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
        child=""
    fi
    exit "$1"  # the EXIT trap (cleanup) runs once, with this status
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

if [ -n "${XBRANCH_BIN:-}" ] && [ -n "${XATA_EMULATOR_BIN:-}" ]; then
    xbranch=$XBRANCH_BIN
    emulator=$XATA_EMULATOR_BIN
else
    say "Checking dependencies (apt installs only what is missing)"
    bg sh scripts/deps.sh

    say "Building xbranch and the Xata emulator (release build in build/release, only these two programs; a few minutes on 2 cores the first time)"
    # In its own process group, so that an interrupt ends the whole build.
    bg setsid sh scripts/build-demo.sh
    xbranch="$repo/build/release/src/xbranch"
    emulator="$repo/build/release/emulator/xata-emulator"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xbranch-demo.XXXXXX")
chmod 755 "$work"
emu_pid=""
cleanup() {
    status=$?
    if [ -n "$emu_pid" ]; then
        kill -TERM "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    sh "$repo/tests/fixtures/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
    case $status in
        0) ;;
        130 | 143) echo "demo interrupted (exit $status); everything it started was stopped" >&2 ;;
        *) echo "demo failed (exit $status); everything it started was stopped" >&2 ;;
    esac
}
trap cleanup EXIT

say "Starting a throwaway PostgreSQL 15 cluster on a free loopback port"
bg sh tests/fixtures/pg.sh start "$work/pg" >"$work/pg.env"
eval "$(grep '^PGPORT=' "$work/pg.env")"
echo "PostgreSQL listens on 127.0.0.1:$PGPORT"

say "Starting the Xata emulator with a parent branch 'main' holding a users table"
cat > "$work/seed.sql" <<'SQL'
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO users VALUES (1, 'Ada Lovelace'), (2, 'Grace Hopper');
SQL
"$emulator" --port 0 --port-file "$work/port" --api-key xau_demokey0000000000000000000000000 \
    --pg "host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres" --seed-sql "$work/seed.sql" \
    --hibernated-ms 300 --transient-ms 700 --drop-on-exit --quiet >"$work/emulator.log" 2>&1 &
emu_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$emu_pid" 2>/dev/null; then
        cat "$work/emulator.log" >&2
        exit 1
    fi
    bg sleep 0.1
done
port=$(cat "$work/port")
echo "Emulator listens on http://127.0.0.1:$port"

export XATA_API_KEY=xau_demokey0000000000000000000000000
export XATA_API_BASE_URL="http://127.0.0.1:$port"
export XATA_ORGANIZATION_ID=emuorg
export XATA_PROJECT_ID=prj_emulator00000000000000000

say "xbranch create --sandbox demo   (what a Signadot plugin step runs when a sandbox starts)"
echo "(the local PostgreSQL has no TLS, hence --sslmode disable; the real service needs require)"
bg "$xbranch" create --sandbox demo --sslmode disable --output-dir "$work/outputs"

say "The plugin's output files (the password files are mode 0600)"
ls -l "$work/outputs" | sed 1d
url=$(cat "$work/outputs/connection-string")

say "The branch has the parent's data"
psql_ -d "$url" -c "SELECT * FROM users ORDER BY id"

say "A write in the branch ..."
psql_ -d "$url" -c "INSERT INTO users VALUES (3, 'Written in the sandbox')"
psql_ -d "$url" -c "SELECT count(*) AS users_in_branch FROM users"

say "... is not seen by the parent"
# main is a root branch (in real life: production), so url needs --force.
bg "$xbranch" -q url --branch main --force --sslmode disable >"$work/parent-url"
parent_url=$(cat "$work/parent-url")
psql_ -d "$parent_url" -c "SELECT count(*) AS users_in_parent FROM users"

say "Running create again adopts the same branch (a retried plugin step is safe)"
bg "$xbranch" -q create --sandbox demo --sslmode disable --output json >"$work/again.json"
grep -E '"(id|adopted)"' "$work/again.json"

say "xbranch delete --sandbox demo   (what the plugin runs when the sandbox ends)"
bg "$xbranch" delete --sandbox demo
bg "$xbranch" delete --sandbox demo

say "Done. To do the same against the real Xata service:"
cat <<'TXT'
  cmake --install build/release --prefix ~/.local   # puts xbranch in ~/.local/bin (no root)
  export PATH="$HOME/.local/bin:$PATH"              # if ~/.local/bin is not on PATH yet
  export XATA_API_KEY=xau_...            # Account settings > API keys
  export XATA_ORGANIZATION_ID=...        # from the console URL
  export XATA_PROJECT_ID=prj_...
  xbranch create --sandbox demo --parent main
  psql "$(xbranch url --sandbox demo)"
  xbranch delete --sandbox demo
TXT
