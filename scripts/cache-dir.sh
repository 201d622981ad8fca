#!/usr/bin/env bash
# Prints the directory that caches the test environments (venvs, frameworks, console modules,
# container images): $OPENDLC_CACHE_DIR if set; for root, /var/cache/opendlc, because pods run
# as their owners' unprivileged accounts and must read the frameworks installed there (root's
# home is private); otherwise ${XDG_CACHE_HOME:-$HOME/.cache}/opendlc.
set -euo pipefail
if [[ -n "${OPENDLC_CACHE_DIR:-}" ]]; then
    printf '%s\n' "$OPENDLC_CACHE_DIR"
elif [[ $EUID -eq 0 ]]; then
    printf '%s\n' /var/cache/opendlc
else
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/opendlc"
fi
