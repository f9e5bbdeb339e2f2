#!/usr/bin/env bash
# Build the xbranch runner image from docker/Dockerfile and prove it works.
#
# Uses Docker when an engine answers (`docker info`), otherwise buildah
# (daemonless, vfs storage, chroot isolation), making a local
# debian:bookworm-slim base image with debootstrap when none exists, since
# no registry may be reachable. Then:
#   1. runs `xbranch --version` in the image (through its entrypoint),
#      and checks its TLS: a loopback HTTPS server with a throwaway CA is
#      verified with that CA in the system bundle and refused without it,
#   2. runs the Signadot plugin workflow (tests/plugin/test_workflow.py,
#      which drives tests/plugin/run_workflow.py)
#      with every step executed inside the image, against a xata-emulator
#      and a throwaway PostgreSQL cluster on the host,
#   3. exports the image (docker save / buildah push oci-archive:) and
#      prints what it holds (the sum of its files, which must stay within
#      20 MB), the gzipped pull size, every file of the runtime stage, the
#      stripped binary size and how long each phase took.
# XBRANCH_IMAGE_ALLOW_OLDER_SOURCES=1 lets the build stage rebuild libcurl
# and libpq from an older Debian source than the installed packages' when
# the archive lacks theirs (see docker/build-min-libs.sh; off by default).
# Exits non-zero on any failure. Run from anywhere; needs root for buildah
# and debootstrap on a machine without Docker.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: docker/build-image.sh [options]
  --tag NAME           image name (default xbranch:<version>)
  --version V          version label and tag (default: project VERSION in CMakeLists.txt)
  --engine E           docker | buildah | auto (default auto)
  --jobs N             compile jobs inside the build (default 2)
  --no-test            build only; skip the smoke test and the workflow test
  --no-workflow        run the smoke test but not the workflow test
  --emulator-bin PATH  xata-emulator for the workflow test (default: $XATA_EMULATOR_BIN,
                       else an existing build, else built into build/image-host)
  --rebuild-base       (buildah) remake the local debian:bookworm-slim base image
  --base-only          (buildah) make the base image and stop
  -h, --help           this text
EOF
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base_image=docker.io/library/debian:bookworm-slim
tag=""
version=""
engine=auto
jobs=2
run_tests=1
run_workflow=1
rebuild_base=0
base_only=0
emulator_bin="${XATA_EMULATOR_BIN:-}"

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag="$2"; shift 2 ;;
        --version) version="$2"; shift 2 ;;
        --engine) engine="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --no-test) run_tests=0; shift ;;
        --no-workflow) run_workflow=0; shift ;;
        --emulator-bin) emulator_bin="$2"; shift 2 ;;
        --rebuild-base) rebuild_base=1; shift ;;
        --base-only) base_only=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "build-image: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

if [ -z "$version" ]; then
    version="$(sed -n 's/^project(xbranch VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt" | head -n 1)"
    [ -n "$version" ] || version=0.0.0
fi
[ -n "$tag" ] || tag="xbranch:$version"
source_url="$(git -C "$repo" remote get-url origin 2>/dev/null || true)"

declare -a timings=()
phase_start=0
phase() { phase_name="$1"; phase_start=$(date +%s); log "== $1"; }
phase_end() { timings+=("$(printf '%-28s %4ss' "$phase_name" $(( $(date +%s) - phase_start )))"); }

human() { # bytes -> "12.3 MB" (10^6)
    awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'
}

if [ "$engine" = auto ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    else
        engine=buildah
    fi
fi
log "engine: $engine, image: $tag, version: $version"

# buildah, tried again when its self re-exec hits a kernel race (see the script).
BUILDAH=("$repo/docker/buildah-retry" --storage-driver vfs)

# ---------------------------------------------------------------- buildah
need_root() {
    [ "$(id -u)" -eq 0 ] || die "buildah without Docker needs root here (debootstrap, vfs storage)"
}

install_tools() {
    local missing=()
    command -v buildah >/dev/null 2>&1 || missing+=(buildah)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

# The Debian archive this machine already uses, read from its apt sources
# (deb822 .sources files first, then one-line .list files). Prints
# "MIRROR SECURITY_MIRROR" (the second may be empty).
detect_mirrors() {
    python3 - <<'EOF'
import glob, re
main, sec = "", ""
def consider(uri, suites):
    global main, sec
    uri = uri.rstrip("/")
    if not uri.startswith(("http://", "https://")):
        return
    for s in suites:
        if s == "bookworm" and not main:
            main = uri
        if s == "bookworm-security" and not sec:
            sec = uri
for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(f).read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
            for u in fields.get("uris", []):
                consider(u, fields.get("suites", []))
for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(f).read().splitlines()
    except OSError:
        continue
    for line in lines:
        w = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(w) >= 3 and w[0] == "deb":
            consider(w[1], [w[2]])
print(main, sec)
EOF
}

make_base_image() {
    if "${BUILDAH[@]}" inspect --type image "$base_image" >/dev/null 2>&1; then
        if [ "$rebuild_base" -eq 0 ]; then
            log "base image $base_image exists (cached)"
            return
        fi
        "${BUILDAH[@]}" rmi -f "$base_image" >/dev/null
    fi
    local mirrors mirror security
    mirrors="$(detect_mirrors)"
    mirror="${mirrors%% *}"
    security="${mirrors#* }"
    [ -n "$mirror" ] || die "no Debian bookworm archive found in /etc/apt sources"
    log "making $base_image with debootstrap --variant=minbase bookworm from $mirror"
    local work
    work="$(mktemp -d /var/tmp/xbranch-base.XXXXXX)"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap"; }
    local r="${work:?}/rootfs"
    # Same sources as the host's archive, in the deb822 form Debian images use.
    rm -f "${r:?}/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror"
        if [ -n "$security" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
        fi
    } >"${r:?}/etc/apt/sources.list.d/debian.sources"
    # Like the official slim image: no docs, man pages or translations in
    # later installs, and none now.
    cat >"${r:?}/etc/dpkg/dpkg.cfg.d/slim-excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
EOF
    find "${r:?}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    rm -rf "${r:?}"/usr/share/man/* "${r:?}"/usr/share/info/* "${r:?}"/usr/share/groff/* "${r:?}"/usr/share/lintian/*
    find "${r:?}/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    find "${r:?}/var/log" -type f -delete
    rm -rf "${r:?}"/var/cache/apt/archives/*.deb "${r:?}"/var/cache/apt/*.bin "${r:?}"/var/lib/apt/lists/* \
           "${r:?}"/dev/* "${r:?}"/proc/* "${r:?}"/sys/* "${r:?}"/run/* "${r:?}"/tmp/*
    local c
    c="$("${BUILDAH[@]}" from scratch)"
    "${BUILDAH[@]}" copy "$c" "$r" / >/dev/null
    "${BUILDAH[@]}" config --cmd bash \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
    "${BUILDAH[@]}" commit --rm "$c" "$base_image" >/dev/null
    rm -rf "$work"
    trap - EXIT
    log "base image ready"
}

image_size() { # bytes
    if [ "$engine" = docker ]; then
        docker image inspect -f '{{.Size}}' "$1"
    else
        # Sum of the layers (uncompressed tars), what `buildah images` shows.
        "${BUILDAH[@]}" inspect --type image "$1" | python3 -c \
            'import json,sys; m=json.loads(json.load(sys.stdin)["Manifest"]); print(sum(l["size"] for l in m["layers"]))'
    fi
}

# Run a command in the image as the entrypoint would receive it, with the
# bind mounts in run_volumes (HOST:CONTAINER[:ro]).
run_volumes=()
run_in_image() {
    local vols=() v
    for v in "${run_volumes[@]}"; do vols+=(-v "$v"); done
    if [ "$engine" = docker ]; then
        docker run --rm --network host "${vols[@]}" "$tag" "$@"
    else
        local c rc=0
        c="$("${BUILDAH[@]}" from --pull=never "$tag")"
        "${BUILDAH[@]}" run --isolation chroot "${vols[@]}" "$c" -- /usr/local/bin/xbranch-entrypoint "$@" || rc=$?
        "${BUILDAH[@]}" rm "$c" >/dev/null
        return $rc
    fi
}

# ---------------------------------------------------------------- build
total_start=$(date +%s)
build_args=(--build-arg "VERSION=$version" --build-arg "SOURCE_URL=$source_url"
            --build-arg "BUILD_JOBS=$jobs"
            --build-arg "ALLOW_OLDER_SOURCES=${XBRANCH_IMAGE_ALLOW_OLDER_SOURCES:-0}")

if [ "$engine" = buildah ]; then
    need_root
    phase "tools"; install_tools; phase_end
    phase "base image"; make_base_image; phase_end
    if [ "$base_only" -eq 1 ]; then
        log "base image: $(human "$(image_size "$base_image")")"
        exit 0
    fi
    phase "image build"
    "${BUILDAH[@]}" bud --pull=never --isolation chroot --layers \
        -f "$repo/docker/Dockerfile" "${build_args[@]}" -t "$tag" "$repo"
    phase_end
else
    phase "image build"
    docker build -f "$repo/docker/Dockerfile" "${build_args[@]}" -t "$tag" "$repo"
    phase_end
fi

# ---------------------------------------------------------------- tests
if [ "$run_tests" -eq 1 ]; then
    phase "smoke test"
    out="$(run_in_image --version)" || die "xbranch --version in the image"
    log "xbranch --version: $out"
    uid="$(run_in_image id -u)" || die "id -u in the image"
    [ "$uid" = 10001 ] || die "the image runs as uid $uid, expected 10001"
    # shellcheck disable=SC2016 # expanded inside the image
    run_in_image sh -c 'test -w "$HOME" && test -w /outputs && test -w .' \
        || die "HOME, /outputs or the work dir is not writable"
    # The entry point's other forms: a subcommand, the text of a script.
    run_in_image create --help >/dev/null || die "xbranch create --help through the entrypoint"
    # shellcheck disable=SC2016 # expanded inside the image
    out="$(run_in_image "$(printf '#!/bin/sh\necho "script text ran as $(id -u)"')")" \
        || die "script text through the entrypoint"
    [ "$out" = "script text ran as 10001" ] || die "script text through the entrypoint printed: $out"
    phase_end
fi

# TLS in the image: its libcurl (built in the image, see
# docker/build-min-libs.sh) verifies a loopback HTTPS server against the
# system CA bundle, its compiled-in default: with a bundle holding the
# throwaway CA that signed the server (mounted over the image's), the
# request goes through (the probe answers 401: exit 3); with another CA, or
# the image's own public bundle, the handshake is refused (exit 8) and no
# request arrives.
if [ "$run_tests" -eq 1 ]; then
    phase "TLS test (in image)"
    tls_dir="$(mktemp -d /tmp/xbranch-image-tls.XXXXXX)"
    /usr/bin/python3 "$repo/docker/tls_probe.py" "$tls_dir" &
    tls_pid=$!
    # shellcheck disable=SC2064
    trap "kill $tls_pid 2>/dev/null; rm -rf '$tls_dir'" EXIT
    for _ in $(seq 100); do [ -f "$tls_dir/port" ] && break; sleep 0.1; done
    [ -f "$tls_dir/port" ] || die "the TLS probe server did not start"
    tls_base="https://127.0.0.1:$(cat "$tls_dir/port")"
    tls_list() { # BUNDLE (empty: the image's own) -> sets tls_rc, tls_out
        run_volumes=()
        [ -z "$1" ] || run_volumes=("$1:/etc/ssl/certs/ca-certificates.crt:ro")
        tls_rc=0
        tls_out="$(run_in_image env XATA_API_KEY=tls-probe-key XATA_API_BASE_URL="$tls_base" \
            XATA_ORGANIZATION_ID=org XATA_PROJECT_ID=proj xbranch list 2>&1)" || tls_rc=$?
        run_volumes=()
    }
    tls_requests() {
        if [ -f "$tls_dir/requests" ]; then wc -l <"$tls_dir/requests"; else echo 0; fi
    }
    tls_list "$tls_dir/ca.pem"
    if [ "$tls_rc" -ne 3 ] || [ "$(tls_requests)" -lt 1 ]; then
        die "TLS with the right CA: exit $tls_rc, $(tls_requests) requests: $tls_out"
    fi
    log "TLS, the CA that signed the server: verified, HTTP 401 as the probe answers (exit 3)"
    seen="$(tls_requests)"
    for bundle in "$tls_dir/wrong-ca.pem" ""; do
        what="another CA"
        [ -n "$bundle" ] || what="the public CA bundle of the image"
        tls_list "$bundle"
        if [ "$tls_rc" -ne 8 ] || ! echo "$tls_out" | grep -q 'certificate' \
            || [ "$(tls_requests)" -ne "$seen" ]; then
            die "TLS with $what: exit $tls_rc: $tls_out"
        fi
        log "TLS, $what: refused (exit 8): $(echo "$tls_out" | head -n 1)"
    done
    kill "$tls_pid" 2>/dev/null || true
    wait "$tls_pid" 2>/dev/null || true
    rm -rf "$tls_dir"
    trap - EXIT
    phase_end
fi

if [ "$run_tests" -eq 1 ] && [ "$run_workflow" -eq 1 ]; then
    phase "workflow test (in image)"
    if [ -z "$emulator_bin" ]; then
        for cand in "$repo"/build/*/emulator/xata-emulator "$repo"/build/emulator/xata-emulator; do
            if [ -x "$cand" ]; then emulator_bin="$cand"; break; fi
        done
    fi
    if [ -z "$emulator_bin" ]; then
        log "building xata-emulator into build/image-host"
        cmake -S "$repo" -B "$repo/build/image-host" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$repo/build/image-host" --target xata-emulator -j "$jobs" >/dev/null
        emulator_bin="$repo/build/image-host/emulator/xata-emulator"
    fi
    [ -x "$emulator_bin" ] || die "no xata-emulator binary ($emulator_bin)"
    pgdir="$(mktemp -d /tmp/xbranch-image-pg.XXXXXX)"
    rmdir "$pgdir"
    cleanup_pg() { "$repo/tests/fixtures/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true; }
    trap cleanup_pg EXIT
    "$repo/tests/fixtures/pg.sh" start "$pgdir" >/dev/null || die "PostgreSQL fixture"
    XBRANCH_PG_DIR="$pgdir" XATA_EMULATOR_BIN="$emulator_bin" XBRANCH_SOURCE_DIR="$repo" \
        PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 "$repo/tests/plugin/test_workflow.py" \
            --image "$tag" --engine "$engine" \
        || die "plugin workflow in the image"
    cleanup_pg
    trap - EXIT
    phase_end
fi

# ---------------------------------------------------------------- sizes
# Measured on the exported image, the way a node receives it: the files it
# holds (the 20 MB budget; 27.3 MB at 0.2.0, with Debian's libcurl4 and
# libpq5 and their second TLS stack), and the gzipped layers a cold node pulls.
limit_bytes=20000000
export_dir="$(mktemp -d /var/tmp/xbranch-export.XXXXXX)"
# shellcheck disable=SC2064
trap "rm -rf '$export_dir'" EXIT
phase "export + sizes"
if [ "$engine" = docker ]; then
    docker save -o "$export_dir/image.tar" "$tag"
else
    "${BUILDAH[@]}" push --quiet "$tag" "oci-archive:$export_dir/image.tar" >/dev/null
fi
report_rc=0
/usr/bin/python3 "$repo/docker/image_report.py" "$export_dir/image.tar" --files \
    --limit "$limit_bytes" --json "$export_dir/sizes.json" || report_rc=$?
read -r files_bytes gzip_bytes < <(/usr/bin/python3 -c \
    'import json,sys; d=json.load(open(sys.argv[1])); print(d["files_bytes"], d["gzip_bytes"])' \
    "$export_dir/sizes.json")
rm -rf "$export_dir"
trap - EXIT
phase_end
img_bytes="$(image_size "$tag")"
bin_bytes="$(run_in_image stat -c %s /usr/local/bin/xbranch)"

echo
echo "image            $tag (runtime stage FROM scratch)"
echo "image size       $(human "$files_bytes") ($files_bytes bytes of files; budget $(human "$limit_bytes"))"
echo "layers           $(human "$img_bytes") ($img_bytes bytes, uncompressed layer tars)"
echo "pull size        $(human "$gzip_bytes") ($gzip_bytes bytes, gzipped layers)"
echo "xbranch binary   $(human "$bin_bytes") ($bin_bytes bytes, stripped)"
echo "timings:"
for t in "${timings[@]}"; do echo "  $t"; done
printf '  %-28s %4ss\n' total $(( $(date +%s) - total_start ))

# For bench/: the figures above as JSON (build/ is not tracked). The base
# is scratch: nothing of the image is a base image's.
mkdir -p "$repo/build"
printf '{"image": "%s", "engine": "%s", "image_bytes": %s, "base_bytes": 0, "files_bytes": %s, "gzip_bytes": %s, "binary_bytes": %s}\n' \
    "$tag" "$engine" "$img_bytes" "$files_bytes" "$gzip_bytes" "$bin_bytes" >"$repo/build/image-sizes.json"
[ "$report_rc" -eq 0 ] || die "the image holds $(human "$files_bytes"), over the $(human "$limit_bytes") budget"
