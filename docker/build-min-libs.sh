#!/bin/sh
# Builds libcurl.so.4 and libpq.so.5 from Debian's own source packages (with
# Debian's patches, security fixes included) without LDAP, RTMP, GSSAPI,
# SSH, IDN, PSL, brotli and zstd, for the runner image (docker/Dockerfile,
# build stage). Debian's libcurl4 and libpq5 link libldap and librtmp, and
# through them a second TLS stack (GnuTLS, nettle, gmp, p11-kit, libtasn1,
# libunistring: about 7 MB) next to the OpenSSL both use for their own TLS.
# Same upstream versions and sonames as Debian's packages, OpenSSL only,
# the CA bundle /etc/ssl/certs/ca-certificates.crt compiled in as libcurl's
# default (as in Debian's build); libcurl keeps HTTP/2 (nghttp2) and zlib.
#
#   docker/build-min-libs.sh OUT_DIR [JOBS]
#
# Needs deb-src lines for the archive (the Dockerfile adds them), gcc, make,
# patch, autoconf, automake, libtool, libssl-dev, zlib1g-dev, libnghttp2-dev.
# Leaves OUT_DIR/libcurl.so.4 and OUT_DIR/libpq.so.5 (stripped real files)
# and OUT_DIR/versions (what was built, from which source version).
set -eu

out="$1"
jobs="${2:-2}"
mkdir -p "$out"
work="$(mktemp -d /tmp/min-libs.XXXXXX)"
cd "$work"

log() { printf '[min-libs] %s\n' "$*" >&2; }

# The source of the installed binary package at its version. Where the
# archive does not have that source (a mirror without the security
# archive's sources) the build stops: an older source would ship a libpq
# or libcurl without the security fixes the installed one has. Only with
# ALLOW_OLDER_SOURCES=1 does it take the newest source it can get, said aloud.
fetch() { # BINARY_PACKAGE -> prints the source version fetched
    pkg="$1"
    src="$(dpkg-query -W -f='${source:Package}' "$pkg")"
    want="$(dpkg-query -W -f='${source:Version}' "$pkg")"
    if apt-get source --download-only -qq "$src=$want" >&2 2>/dev/null; then
        echo "$want"
        return
    fi
    if [ "${ALLOW_OLDER_SOURCES:-0}" != 1 ]; then
        log "the source of $pkg $want is not in the archive: add the deb-src line of"
        log "the archive it came from (e.g. the security archive), or accept an older"
        log "source with ALLOW_OLDER_SOURCES=1 (--build-arg ALLOW_OLDER_SOURCES=1)"
        exit 1
    fi
    for v in $(apt-cache showsrc "$src" | sed -n 's/^Version: //p' | sort -u -r -V); do
        if apt-get source --download-only -qq "$src=$v" >&2 2>/dev/null; then
            log "WARNING: the source of $pkg $want is not in the archive; built $src $v"
            echo "$v"
            return
        fi
    done
    log "no source of $src can be downloaded (deb-src lines missing?)"
    exit 1
}

upstream() { v="${1#*:}"; echo "${v%-*}"; }

# Debian's patch series, without the patches named in $2 (a grep -E pattern).
apply_series() { # DIR SKIP_PATTERN
    grep -v -E '^[[:space:]]*(#|$)' "$1/debian/patches/series" | grep -v -E "$2" |
        while read -r p _; do
            patch -d "$1" -p1 -s <"$1/debian/patches/$p"
        done
}

# Debian's hardening flags for C (dpkg-buildflags' without dpkg-dev).
CFLAGS="-O2 -fstack-protector-strong -fstack-clash-protection -D_FORTIFY_SOURCE=2"
LDFLAGS="-Wl,-z,relro -Wl,-z,now"
export CFLAGS LDFLAGS

# ---------------------------------------------------------------- libcurl
cv="$(fetch libcurl4)"
cu="$(upstream "$cv")"
tar -xzf "curl_$cu.orig.tar.gz"
tar -xJf curl_"$cv".debian.tar.xz -C "curl-$cu"
# 90_gnutls and 99_nss turn the tree into Debian's libcurl-gnutls and
# libcurl-nss flavours; the OpenSSL one (libcurl4) is built without them.
apply_series "curl-$cu" '^(90_gnutls|99_nss)'
log "libcurl $cv: configure"
(
    cd "curl-$cu"
    autoreconf -fi >/dev/null 2>&1
    ./configure -q --disable-dependency-tracking --enable-shared --disable-static \
        --disable-symbol-hiding --enable-versioned-symbols --enable-threaded-resolver \
        --with-openssl --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path \
        --with-nghttp2 --with-zlib \
        --disable-ldap --disable-ldaps --without-librtmp --without-gssapi \
        --without-libssh2 --without-libssh --without-libidn2 --without-libpsl \
        --without-brotli --without-zstd --without-libgsasl \
        --disable-ftp --disable-file --disable-dict --disable-gopher --disable-imap \
        --disable-pop3 --disable-smtp --disable-telnet --disable-tftp --disable-rtsp \
        --disable-mqtt --disable-smb --disable-manual >/dev/null
    log "libcurl $cv: make"
    make -s -C lib -j "$jobs" >/dev/null
)
cp -L "curl-$cu/lib/.libs/libcurl.so.4" "$out/libcurl.so.4"

# ---------------------------------------------------------------- libpq
pv="$(fetch libpq5)"
pu="$(upstream "$pv")"
src="$(dpkg-query -W -f='${source:Package}' libpq5)"
tar -xjf "${src}_$pu.orig.tar.bz2"
tar -xJf "${src}_$pv.debian.tar.xz" -C "postgresql-$pu"
# Of Debian's patches only the one libpq sees: its default socket directory
# /var/run/postgresql. The others are for the server and Debian's build.
patch -d "postgresql-$pu" -p1 -s <"postgresql-$pu/debian/patches/51-default-sockets-in-var.patch"
log "libpq $pv: configure"
(
    cd "postgresql-$pu"
    ./configure -q --prefix=/usr --with-openssl --without-ldap --without-gssapi --without-pam \
        --without-readline --without-zlib --without-icu --without-llvm >/dev/null
    log "libpq $pv: make"
    for d in src/include src/common src/port src/interfaces/libpq; do
        make -s -C "$d" -j "$jobs" >/dev/null
    done
)
cp -L "postgresql-$pu/src/interfaces/libpq/libpq.so.5" "$out/libpq.so.5"

strip --strip-unneeded "$out/libcurl.so.4" "$out/libpq.so.5"
printf 'libcurl %s (source curl %s)\nlibpq %s (source %s %s)\n' \
    "$cu" "$cv" "$pu" "$src" "$pv" >"$out/versions"
cat "$out/versions" >&2
cd /
rm -rf "$work"
