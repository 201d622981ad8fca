#!/usr/bin/env bash
# The one command that runs every gate and test, by hand and in CI (.ci/run):
#
#   1. cargo fmt --check         (skipped by --quick and --compat)
#   2. cargo clippy -D warnings  (skipped by --quick and --compat)
#   3. cargo doc -D warnings     (broken or private intra-doc links, bare URLs, ...; skipped by
#      --quick and --compat)
#   4. the Rust tests            (cargo nextest if installed, plus doc tests; skipped by --compat),
#      with the frameworks of scripts/frameworks-env.sh (Open MPI, Ray, PyTorch), podman and a
#      test image from scripts/containers-env.sh, a real Slurm cluster from
#      scripts/slurm-env.sh when one can be started, and Node.js, Chromium and
#      playwright-core from scripts/console-env.sh for the web console's browser test
#   5. cargo build -p opendlc
#   6. the official-SDK compatibility suite: compat/, pytest, in scripts/python-env.sh's venv
#
# Usage: scripts/test.sh [--quick | --compat] [-- PYTEST_ARGS...]
#   --quick    skip fmt, clippy and doc
#   --compat   only build the binary and run the compatibility suite
#   -- ARGS    extra arguments for pytest, e.g. `scripts/test.sh --compat -- -k tour -x`
# Stops at the first failing step and exits non-zero. Section headers and timings go to stderr.
set -euo pipefail

usage() { sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

lint=1
rust_tests=1
pytest_args=()
while (($#)); do
    case "$1" in
    --quick) lint=0 ;;
    --compat) lint=0 rust_tests=0 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; pytest_args=("$@"); break ;;
    *) printf 'test.sh: unknown argument %q\n\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

if [[ -t 2 ]]; then bold=$'\033[1m' green=$'\033[1;32m' red=$'\033[1;31m' reset=$'\033[0m'
else bold="" green="" red="" reset=""; fi

started=$SECONDS
slurm_started=0
current=""
timings=()
section() {
    finish_section
    current="$1"
    section_started=$SECONDS
    printf '\n%s==> %s%s\n' "$bold" "$current" "$reset" >&2
}
finish_section() {
    if [[ -n "$current" ]]; then
        timings+=("$(printf '%5ss  %s' "$((SECONDS - section_started))" "$current")")
    fi
}
on_exit() {
    local rc=$?
    finish_section
    if ((${#timings[@]})); then
        printf '\n' >&2
        printf '    %s\n' "${timings[@]}" >&2
    fi
    if ((slurm_started)); then
        scripts/slurm-env.sh stop || true
    fi
    if ((rc == 0)); then
        printf '%s==> all passed%s in %ss\n' "$green" "$reset" "$((SECONDS - started))" >&2
    else
        printf '%s==> FAILED%s at: %s (exit %s) after %ss\n' \
            "$red" "$reset" "${current:-setup}" "$rc" "$((SECONDS - started))" >&2
    fi
}
trap on_exit EXIT

if ((lint)); then
    section "cargo fmt --check"
    cargo fmt --all -- --check

    section "cargo clippy"
    cargo clippy --workspace --all-targets -- -D warnings

    section "cargo doc"
    RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps
fi

# The Python environment (official SDK, pytest, tensorboard, xgboost): the compat suite runs in
# it, the Rust TensorBoard tests run its tensorboard, the job-type tests its python.
section "python env (official SDK, pytest, tensorboard, xgboost)"
python="$(scripts/python-env.sh)"
export OPENDLC_TENSORBOARD="${OPENDLC_TENSORBOARD:-$(dirname "$python")/tensorboard}"
export OPENDLC_TEST_PYTHON="${OPENDLC_TEST_PYTHON:-$python}"

# The frameworks the job-type tests run for real: Open MPI and mpi4py (system packages), Ray
# and PyTorch (unless OPENDLC_WITH_TORCH=0) in a cached venv. What it cannot provide, the tests
# skip, saying why.
if ((rust_tests)); then
    section "frameworks env (Open MPI, Ray, PyTorch)"
    frameworks_python="$(scripts/frameworks-env.sh)"
    export OPENDLC_FRAMEWORKS_PYTHON="${OPENDLC_FRAMEWORKS_PYTHON:-$frameworks_python}"

    # podman and a small local image for the container tests (tests/containers.rs).
    section "containers env (podman, test image)"
    eval "$(scripts/containers-env.sh)"
fi

if ((rust_tests)); then
    # Node.js, headless Chromium and playwright-core for the web console's tests
    # (tests/console.rs: the signing code's unit tests and the end-to-end browser test). What it
    # cannot provide, those tests skip, saying why.
    section "console env (Node.js, Chromium, playwright-core)"
    eval "$(scripts/console-env.sh)"
fi

if ((rust_tests)); then
    # A real Slurm cluster on this host for the Slurm runtime's tests (tests/slurm_*.rs), stopped
    # at the end if this run started it. Without one those tests skip themselves, saying why.
    section "slurm cluster (scripts/slurm-env.sh)"
    slurm_was_up=0
    scripts/slurm-env.sh status >/dev/null 2>&1 && slurm_was_up=1
    if slurm_env="$(scripts/slurm-env.sh start)"; then
        eval "$slurm_env"
        ((slurm_was_up)) || slurm_started=1
    else
        printf 'no Slurm cluster: the slurm_* tests will be skipped\n' >&2
    fi

    if command -v cargo-nextest >/dev/null 2>&1; then
        section "cargo nextest run"
        cargo nextest run --workspace --no-tests=warn
        # nextest does not run doc tests.
        section "cargo test --doc"
        cargo test --workspace --doc
    else
        section "cargo test"
        cargo test --workspace
    fi
fi

section "cargo build -p opendlc"
cargo build -p opendlc

section "compat suite (official Python SDK against opendlc serve)"
OPENDLC_BIN="$target_dir/debug/opendlc" \
    "$python" -m pytest compat -q ${pytest_args[@]+"${pytest_args[@]}"}
