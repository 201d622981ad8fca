#!/usr/bin/env bash
# Provides what the container tests (crates/opendlc/tests/containers.rs) need, so that they run
# instead of skipping:
#
#   - podman with runc (apt-get, when it is there and we are root: podman, runc, catatonit,
#     debootstrap);
#   - a containers.conf for machines like our CI's: runc (crun refuses hosts whose cgroup v2
#     mount holds controllers beside v1), and ulimits within what this process may grant
#     (podman's defaults ask for more than a container without CAP_SYS_RESOURCE gets);
#   - a small local image, localhost/opendlc-test/debian:bookworm, made offline from a
#     debootstrap root file system (cached as a tarball, so later runs only import it).
#
# Prints `export NAME=VALUE` lines for eval on stdout; diagnostics go to stderr. Never fails:
# what it cannot provide, the tests skip, saying why.
#
#     eval "$(scripts/containers-env.sh)" && cargo nextest run --test containers
set -uo pipefail

cache="$("$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh")/containers"
image="localhost/opendlc-test/debian:bookworm"
log() { printf 'containers-env: %s\n' "$*" >&2; }

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing podman, runc, catatonit and debootstrap (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq podman runc catatonit debootstrap; } >&2 ||
            log "apt-get failed"
    fi
fi
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    log "no podman with runc: the container tests will skip"
    exit 0
fi

mkdir -p "$cache"
conf="$cache/containers.conf"
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
[[ "$nofile" == unlimited || "$nofile" -gt 65536 ]] && nofile=65536
[[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
cat >"$conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$conf"

if ! podman image exists "$image" 2>/dev/null; then
    tarball="$cache/debian-bookworm-minbase.tar"
    if [[ ! -s "$tarball" ]]; then
        if ! command -v debootstrap >/dev/null 2>&1; then
            log "no debootstrap to make $image: the container tests will skip"
            exit 0
        fi
        log "making $image with debootstrap (about 30 s, once)"
        rootfs="$(mktemp -d)"
        if debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >&2; then
            tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        else
            log "debootstrap failed: the container tests will skip"
        fi
        rm -rf "$rootfs"
    fi
    if [[ -s "$tarball" ]] && ! podman import -q "$tarball" "$image" >/dev/null; then
        log "podman import failed: the container tests will skip"
    fi
fi
if ! podman run --rm "$image" /bin/true >&2; then
    log "podman cannot run $image here: the container tests will skip"
    exit 0
fi
printf 'export CONTAINERS_CONF=%q\n' "$conf"
printf 'export OPENDLC_TEST_IMAGE=%q\n' "$image"
log "ready: $image"
