#!/bin/sh
# Installs what xbranch needs to build, test and demo on Debian 12, and
# nothing when it is all there already (so it is cheap to call every time).
#   scripts/deps.sh           build + demo + test dependencies
#   scripts/deps.sh --image   also buildah and debootstrap (docker/build-image.sh)
set -eu

pkgs="g++ cmake ninja-build pkg-config git ca-certificates
libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev libpq-dev
libgtest-dev libgmock-dev libbenchmark-dev
postgresql-15 postgresql-client-15 python3 python3-yaml python3-jsonschema
curl jq openssl ccache clang-14 clang-format libclang-rt-14-dev util-linux procps"
if [ "${1:-}" = "--image" ]; then
    pkgs="$pkgs buildah debootstrap"
fi

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
    SUDO="sudo"
fi
echo "Installing:$missing"
# The tests make their own throwaway clusters: keep the package from creating
# and starting a system-wide one.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/xbranch-no-main.conf >/dev/null
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "Dependencies installed."
