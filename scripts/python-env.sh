#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment the compatibility suite runs in: the official
# PAI-DLC SDK and pytest, pinned in compat/requirements.txt. Prints the venv's python on stdout;
# everything else goes to stderr. Usage:
#
#     "$(scripts/python-env.sh)" -m pytest compat -q
#
# The venv lives outside the repository, in a cache keyed on a hash of the requirements file, so
# a changed pin builds a fresh venv and an unchanged one costs nothing:
#     $(scripts/cache-dir.sh)/venv-<hash>
# OPENDLC_PYTHON picks the interpreter that builds it (default: python3.11, else python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/compat/requirements.txt"
cache="$("$root/scripts/cache-dir.sh")"

log() { printf 'python-env: %s\n' "$*" >&2; }

[[ -f "$requirements" ]] || { log "missing $requirements"; exit 1; }
hash="$(sha256sum "$requirements" | cut -c1-16)"
venv="$cache/venv-$hash"
ready="$venv/.opendlc-ready"

# The fast path: a venv that finished installing and whose interpreter still starts.
is_ready() { [[ -f "$ready" ]] && "$venv/bin/python" -c '' 2>/dev/null; }
if is_ready; then
    printf '%s\n' "$venv/bin/python"
    exit 0
fi

pick_python() {
    if [[ -n "${OPENDLC_PYTHON:-}" ]]; then
        printf '%s\n' "$OPENDLC_PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        printf 'python3.11\n'
    else
        printf 'python3\n'
    fi
}
python="$(pick_python)"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    log "$python is missing or older than 3.9; set OPENDLC_PYTHON to a Python 3.9+ interpreter"
    exit 1
fi

mkdir -p "$cache"
# Two runs at once (two checkouts, a terminal and an editor) must not build into the same folder.
exec 9>"$cache/venv-$hash.lock"
if ! flock -w 900 9; then
    log "timed out waiting for another run to finish building $venv"
    exit 1
fi
if is_ready; then # the other run built it while we waited
    printf '%s\n' "$venv/bin/python"
    exit 0
fi

log "building $venv with $("$python" --version 2>&1) (takes a minute, once)"
rm -rf "$venv"
cleanup_partial() { rm -rf "$venv"; }
trap cleanup_partial ERR
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --requirement "$requirements" >&2
# Fail here, not in the middle of a test run, if the SDK cannot be imported.
"$venv/bin/python" - >&2 <<'PY'
from alibabacloud_pai_dlc20201203.client import Client  # noqa: F401
from alibabacloud_pai_dlc20201203 import models  # noqa: F401
import pytest  # noqa: F401
PY
trap - ERR
{
    printf 'requirements-sha256-prefix=%s\n' "$hash"
    printf 'python=%s\n' "$("$venv/bin/python" --version 2>&1)"
} >"$ready"
log "ready: $venv"
printf '%s\n' "$venv/bin/python"
