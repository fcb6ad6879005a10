#!/usr/bin/env bash
# Interoperability checks against Feast 0.67 itself: proves that Larder and Feast read each other's
# files -- registry.db both ways (a, b), SQLite online store both ways (c, e), Redis online store both
# ways (d), historical retrieval against Feast's DuckDB offline store (f), and `larder serve` against
# `feast serve` (g). The checks are tests/interop/test_*.py (pytest; each file says what it proves).
#
#   scripts/interop.sh                 # all checks
#   scripts/interop.sh -k registry     # extra arguments go to pytest
#
# Feast runs from a venv, created on first use (pip install "feast[duckdb,redis]==0.67.0" pytest) and
# reused while it imports feast 0.67.0: ${LARDER_FEAST_VENV:-${XDG_CACHE_HOME:-~/.cache}/larder/feast-0.67-venv}.
# Needs python3 with venv, cargo, and Redis on 127.0.0.1:6379 (scripts/services.sh starts it).
# Every check works in its own temp dir under one `mktemp -d` (removed on exit), uses its own project
# name, deletes only its own Redis keys, and stops the servers it started.
set -euo pipefail
cd "$(dirname "$0")/.."

FEAST_VERSION=0.67.0
VENV=${LARDER_FEAST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/larder/feast-0.67-venv}
PYTHON=${LARDER_PYTHON:-python3}
export TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONWARNINGS=ignore
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[interop %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- Feast venv --------------------------------------------------------------------------------
feast_ok() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c \
    "import sys, feast, duckdb, redis; sys.exit(feast.__version__ != '$FEAST_VERSION')" 2>/dev/null
}
if ! feast_ok; then
  log "creating $VENV with feast[duckdb,redis]==$FEAST_VERSION (one-time, a few minutes)"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv --clear "$VENV"
  "$VENV/bin/python" -m pip install -q "feast[duckdb,redis]==$FEAST_VERSION" "pytest>=8,<10"
  feast_ok || { log "the venv at $VENV does not import feast $FEAST_VERSION after installing"; exit 1; }
fi
if ! "$VENV/bin/python" -c "import pytest" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q "pytest>=8,<10"
fi

# --- larder binary -----------------------------------------------------------------------------
log "building larder (cargo build -p larder-cli --locked)"
cargo build -q -p larder-cli --locked
LARDER_BIN=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/larder
export LARDER_BIN
[ -x "$LARDER_BIN" ] || { log "no binary at $LARDER_BIN"; exit 1; }

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "Redis is not answering on 127.0.0.1:6379 (run scripts/services.sh); the Redis checks will fail"
fi

# --- run ---------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/larder-interop.XXXXXX")
export INTEROP_PIDS_DIR=$WORK/pids
mkdir -p "$INTEROP_PIDS_DIR"
cleanup() {
  # servers the checks started run in their own sessions; stop any a killed run left behind
  for f in "$INTEROP_PIDS_DIR"/*; do
    [ -e "$f" ] || continue
    kill -TERM -- "-$(basename "$f")" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "$("$VENV/bin/python" -c 'import feast, sys; print(f"feast {feast.__version__}, python {sys.version.split()[0]}")'); larder $("$LARDER_BIN" --version)"
start=$(date +%s)
rc=0
# SIGINT first so that pytest runs its teardowns (servers, Redis keys) before giving up
timeout -s INT -k 30 420 "$VENV/bin/python" -m pytest tests/interop --rootdir tests/interop \
  -p no:cacheprovider --basetemp "$WORK/t" -v -rfEsP --tb=short --color=no -W ignore::DeprecationWarning "$@" || rc=$?
log "interop checks finished in $(( $(date +%s) - start ))s (exit $rc)"
exit "$rc"
