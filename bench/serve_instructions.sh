#!/usr/bin/env bash
# Instructions per request of `larder serve`, counted by callgrind: user-space work only (no
# kernel, no cache misses), but the same from run to run, where requests/s on a shared 2-vCPU VM
# moves by a fifth between runs minutes apart. Use it to compare two builds of a hot-path change;
# BENCHMARKS.md figures still come from bench/run.sh, side by side with Feast.
#
#   bash bench/serve_instructions.sh BIN [BIN...]
#
# Each BIN serves REPO (default bench/data/repos/larder_serve_sqlite, made by `STEPS=serve
# bench/run.sh`) with one server thread under callgrind; wrk sends SCRIPT's requests (default the
# peer's 1-entity wrk_post.lua) for MEASURE_SECONDS (10) after a 3 s warm-up; counting covers only the
# measured part. Prints BIN, requests and instructions per request. Needs valgrind and wrk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=${REPO:-bench/data/repos/larder_serve_sqlite}
SCRIPT=${SCRIPT:-../shared/peer/feast-0.67/wrk_post.lua}
MEASURE_SECONDS=${MEASURE_SECONDS:-10}
PORT=${PORT:-6596}
export FEAST_PEER_E=${FEAST_PEER_E:-100000}
[ $# -gt 0 ] || { echo "usage: $0 BIN [BIN...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT
for bin in "$@"; do
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out_dir/cg.%p" \
    "$bin" -c "$REPO" serve -h 127.0.0.1 -p "$PORT" --no-access-log -w 1 > "$out_dir/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -s -o /dev/null "127.0.0.1:$PORT/health" && break; sleep 0.2; done
  wrk -t1 -c2 -d3s -s "$SCRIPT" "http://127.0.0.1:$PORT" > /dev/null
  callgrind_control -i on "$pid" > /dev/null 2>&1
  requests=$(wrk -t1 -c4 -d"${MEASURE_SECONDS}s" -s "$SCRIPT" "http://127.0.0.1:$PORT" | awk '/requests in/ {print $1}')
  callgrind_control -i off "$pid" > /dev/null 2>&1
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  total=$(callgrind_annotate "$out_dir"/cg.* 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen {gsub(",", "", $1); print $1; seen = 1}')
  rm -f "$out_dir"/cg.*
  echo "$bin requests=$requests instructions/request=$((total / requests))"
done
