#!/bin/sh
# The README's main command: create, use and delete a branch, end to end,
# against the local Xata emulator backed by a real PostgreSQL server.
# Installs what is missing, builds, cleans up after itself (also on failure).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n==> %s\n' "$*"; }

say "Checking dependencies (apt installs only what is missing)"
sh scripts/deps.sh

say "Building xbranch and the Xata emulator (release build in build/release; several minutes on 2 cores the first time, silent until done)"
log=$(mktemp)
if ! { cmake --preset release -DXBRANCH_BUILD_TESTS=OFF &&
       cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target xbranch xata-emulator; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build failed" >&2
    exit 1
fi
rm -f "$log"
xbranch="$repo/build/release/src/xbranch"
emulator="$repo/build/release/emulator/xata-emulator"

work=$(mktemp -d /tmp/xbranch-demo.XXXXXX)
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
    if [ "$status" -ne 0 ]; then
        echo "demo failed (exit $status); everything it started was stopped" >&2
    fi
}
trap cleanup EXIT INT TERM

say "Starting a throwaway PostgreSQL 15 cluster on a free loopback port"
eval "$(sh tests/fixtures/pg.sh start "$work/pg" | grep '^PGPORT=')"
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
    sleep 0.1
done
port=$(cat "$work/port")
echo "Emulator listens on http://127.0.0.1:$port"

export XATA_API_KEY=xau_demokey0000000000000000000000000
export XATA_API_BASE_URL="http://127.0.0.1:$port"
export XATA_ORGANIZATION_ID=emuorg
export XATA_PROJECT_ID=prj_emulator00000000000000000

say "xbranch create --sandbox demo   (what a Signadot plugin step runs when a sandbox starts)"
echo "(the local PostgreSQL has no TLS, hence --sslmode disable; the real service needs require)"
"$xbranch" create --sandbox demo --sslmode disable --output-dir "$work/outputs"

say "The plugin's output files (the password files are mode 0600)"
ls -l "$work/outputs" | sed 1d
url=$(cat "$work/outputs/connection-string")

say "The branch has the parent's data"
psql -X -d "$url" -c "SELECT * FROM users ORDER BY id"

say "A write in the branch ..."
psql -X -d "$url" -c "INSERT INTO users VALUES (3, 'Written in the sandbox')"
psql -X -d "$url" -c "SELECT count(*) AS users_in_branch FROM users"

say "... is not seen by the parent"
# main is a root branch (in real life: production), so url needs --force.
parent_url=$("$xbranch" -q url --branch main --force --sslmode disable)
psql -X -d "$parent_url" -c "SELECT count(*) AS users_in_parent FROM users"

say "Running create again adopts the same branch (a retried plugin step is safe)"
"$xbranch" -q create --sandbox demo --sslmode disable --output json | grep -E '"(id|adopted)"'

say "xbranch delete --sandbox demo   (what the plugin runs when the sandbox ends)"
"$xbranch" delete --sandbox demo
"$xbranch" delete --sandbox demo

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
