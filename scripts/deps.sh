#!/bin/sh
# Installs what xbranch needs on Debian 12, and nothing when it is all there
# already (so it is cheap to call every time).
#   scripts/deps.sh           build + demo: compiler, libraries, PostgreSQL 15
#                             server and client (scripts/demo.sh)
#   scripts/deps.sh --test    also what the tests and CI need: GoogleTest,
#                             cpp-httplib, pytest, clang (fuzz, clang-tidy),
#                             clang-format, the sanitizer runtime, jq, openssl
#   scripts/deps.sh --image   also buildah, debootstrap and openssl (docker/build-image.sh)
# Flags combine: scripts/deps.sh --test --image.
set -eu

pkgs="g++ cmake ninja-build pkg-config git ca-certificates ccache
libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libpq-dev
postgresql-15 postgresql-client-15 python3 util-linux procps"
test_pkgs="libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev libgtest-dev libgmock-dev
python3-pytest python3-yaml python3-jsonschema curl jq openssl
clang-14 clang-format clang-tidy libclang-rt-14-dev"
image_pkgs="buildah debootstrap openssl"

args=""
for arg in "$@"; do
    args="$args $arg"
    case $arg in
        --test) pkgs="$pkgs $test_pkgs" ;;
        --image) pkgs="$pkgs $image_pkgs" ;;
        *) echo "usage: scripts/deps.sh [--test] [--image]" >&2; exit 2 ;;
    esac
done

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "scripts/deps.sh: these Debian packages are missing:$missing" >&2
        echo "Installing them needs root, and sudo is not installed. Run this script as root" >&2
        echo "  (su -c 'sh scripts/deps.sh$args'), or install sudo and give this user its rights." >&2
        exit 1
    fi
    SUDO="sudo"
fi
echo "Installing:$missing"
# The tests and the demo make their own throwaway clusters, so the package
# must not create and start a system-wide one. The setting is needed only
# while postgresql-15 is first configured (its postinst creates "main" on a
# fresh install only), so it exists for this install and is removed after it:
# nothing lasting is left in /etc/postgresql-common.
conf=/etc/postgresql-common/createcluster.d/xbranch-no-main.conf
made_conf=""
case " $missing " in
    *" postgresql-15 "*)
        if [ ! -e "$conf" ]; then
            $SUDO mkdir -p "$(dirname "$conf")"
            echo "create_main_cluster = false" | $SUDO tee "$conf" >/dev/null
            made_conf=yes
        fi
        ;;
esac
remove_conf() {
    if [ -n "$made_conf" ]; then
        $SUDO rm -f "$conf"
    fi
}
trap remove_conf EXIT
trap 'exit 1' INT TERM
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "Dependencies installed."
