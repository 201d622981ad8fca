#!/usr/bin/env bash
# Provides what the web console's tests need, so that they run instead of skipping:
#
#   - Node.js (node, npm) and Chromium, from the distribution's packages (apt-get, when it is
#     there and we are root; Debian: nodejs, npm, chromium);
#   - playwright-core (console/package.json) in a cached node_modules, keyed on a hash of that
#     file like scripts/frameworks-env.sh's venv:
#       $(scripts/cache-dir.sh)/console-<hash>/node_modules
#
# Prints, on stdout, `export` lines for what it found (eval them); everything else goes to stderr.
# Never fails: what it cannot provide is left out, and the tests that need it skip, saying why.
#
#     eval "$(scripts/console-env.sh)"; cargo nextest run -p opendlc --test console
#
#   OPENDLC_NODE                  node (>= 18): runs the crypto unit tests and drives the browser
#   OPENDLC_CHROMIUM              the Chromium executable the e2e test launches headless
#   OPENDLC_CONSOLE_NODE_MODULES  the node_modules holding playwright-core
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$("$root/scripts/cache-dir.sh")"
log() { printf 'console-env: %s\n' "$*" >&2; }

find_chromium() {
    local c
    for c in "${OPENDLC_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        if [[ -n "$c" && -x "$c" ]]; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null
}
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null
}

# --- Node.js and Chromium, from the system's packages ------------------------------------------
missing=()
node_ok || missing+=(nodejs npm)
[[ -n "$(find_chromium)" ]] || missing+=(chromium)
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >&2 ||
            log "apt-get failed: the console tests that need ${missing[*]} will skip"
    else
        log "no ${missing[*]}, and no apt-get as root to install them: the console tests will skip"
    fi
fi

if ! node_ok; then
    log "no Node.js 18+ with npm: the console tests will skip"
    exit 0
fi
printf 'export OPENDLC_NODE=%q\n' "$(command -v node)"
chromium="$(find_chromium)"
if [[ -n "$chromium" ]]; then
    printf 'export OPENDLC_CHROMIUM=%q\n' "$chromium"
else
    log "no Chromium: the browser test will skip"
fi

# --- playwright-core, in a cached node_modules -------------------------------------------------
package="$root/console/package.json"
hash="$(sha256sum <"$package" | cut -c1-16)"
dir="$cache/console-$hash"
ready="$dir/.opendlc-ready"
is_ready() { [[ -f "$ready" && -f "$dir/node_modules/playwright-core/package.json" ]]; }
emit() { printf 'export OPENDLC_CONSOLE_NODE_MODULES=%q\n' "$dir/node_modules"; }
if is_ready; then
    emit
    exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/console-$hash.lock"
if ! flock -w 600 9; then
    log "timed out waiting for another run to build $dir"
    exit 0
fi
if is_ready; then
    emit
    exit 0
fi
log "installing playwright-core into $dir (once)"
rm -rf "$dir"
mkdir -p "$dir"
cp "$package" "$dir/package.json"
# playwright-core drives the system's Chromium: it never downloads a browser of its own.
if (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund \
    --no-package-lock --loglevel=error) >&2 && [[ -f "$dir/node_modules/playwright-core/package.json" ]]; then
    printf 'package-sha256-prefix=%s\n' "$hash" >"$ready"
    log "ready: $dir"
    emit
else
    log "could not install playwright-core: the browser test will skip"
    rm -rf "$dir"
fi
exit 0
