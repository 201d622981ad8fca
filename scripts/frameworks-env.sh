#!/usr/bin/env bash
# Provides the frameworks the job-type tests run for real, so that they run instead of skipping:
#
#   - Open MPI (`mpirun`) and mpi4py for the system python3, from the distribution's packages
#     (apt-get, when it is there and we are root; Debian/Ubuntu: openmpi-bin, python3-mpi4py);
#   - a cached Python venv with Ray (scripts/frameworks-requirements.txt), keyed on a hash of
#     that file like scripts/python-env.sh's venv:
#       $(scripts/cache-dir.sh)/frameworks-<hash>
#   - PyTorch in that venv as well (scripts/frameworks-torch.txt), for PyTorchJob's real test (a
#     gloo all-reduce between pods through torchrun). The Linux wheel on PyPI is the CUDA build:
#     about 5 GB and 80 s to install, once per cache. OPENDLC_WITH_TORCH=0 leaves it out (that
#     test then skips).
#
# Prints the venv's python on stdout (empty if it could not be built); everything else goes to
# stderr. Never fails: what it cannot provide, the tests that need it skip, saying why.
#
#     OPENDLC_FRAMEWORKS_PYTHON="$(scripts/frameworks-env.sh)" cargo nextest run --test job_types
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$("$root/scripts/cache-dir.sh")"
log() { printf 'frameworks-env: %s\n' "$*" >&2; }

# --- Open MPI and mpi4py, from the system's packages -------------------------------------------
have_mpi() { command -v mpirun >/dev/null 2>&1 && /usr/bin/python3 -c 'import mpi4py' 2>/dev/null; }
if ! have_mpi; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing openmpi-bin and python3-mpi4py (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq openmpi-bin python3-mpi4py; } >&2 ||
            log "apt-get failed: the MPI tests will skip"
    else
        log "no Open MPI, and no apt-get as root to install it: the MPI tests will skip"
    fi
fi

# --- The Python frameworks, in a cached venv ---------------------------------------------------
requirements=("$root/scripts/frameworks-requirements.txt")
if [[ "${OPENDLC_WITH_TORCH:-1}" == 1 ]]; then
    requirements+=("$root/scripts/frameworks-torch.txt")
fi
hash="$(cat "${requirements[@]}" | sha256sum | cut -c1-16)"
venv="$cache/frameworks-$hash"
ready="$venv/.opendlc-ready"
# As root, pods run as unprivileged accounts (docs/SECURITY.md): they must be able to run it.
as_pod() { if [[ $EUID -eq 0 ]]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi; }
is_ready() {
    [[ -f "$ready" ]] && as_pod test -x "$(readlink -f "$venv/bin/python")" &&
        as_pod "$venv/bin/python" -c '' 2>/dev/null
}
if is_ready; then
    printf '%s\n' "$venv/bin/python"
    exit 0
fi
# The first Python 3.9+ that pods can run (as root: the system's, not one in root's home).
python="${OPENDLC_PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in /usr/bin/python3.11 /usr/bin/python3 "$(command -v python3.11)" "$(command -v python3)"; do
        if [[ -n "$candidate" ]] && as_pod test -x "$(readlink -f "$candidate")" &&
            as_pod "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    log "no Python 3.9+ (set OPENDLC_PYTHON): the Ray and PyTorch tests will skip"
    exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/frameworks-$hash.lock"
if ! flock -w 900 9; then
    log "timed out waiting for another run to build $venv"
    exit 0
fi
if is_ready; then
    printf '%s\n' "$venv/bin/python"
    exit 0
fi
log "building $venv (Ray$([[ ${#requirements[@]} -gt 1 ]] && echo ' and PyTorch'); takes a minute, once)"
rm -rf "$venv"
args=()
for file in "${requirements[@]}"; do args+=(--requirement "$file"); done
if "$python" -m venv "$venv" >&2 &&
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${args[@]}" >&2 &&
    "$venv/bin/python" -c 'import ray' >&2; then
    printf 'requirements-sha256-prefix=%s\n' "$hash" >"$ready"
    log "ready: $venv"
    printf '%s\n' "$venv/bin/python"
else
    log "could not build $venv: the Ray and PyTorch tests will skip"
    rm -rf "$venv"
fi
exit 0
