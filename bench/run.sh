#!/usr/bin/env bash
# Larder vs Feast 0.67, side by side on the same generated data, in one run. Every figure Larder
# reports here has its Feast counterpart from the same run, so the ratios in BENCHMARKS.md are
# computed from measurements taken minutes apart on the same machine.
#
#   bash bench/run.sh                                  # everything (≈ 2-3 h on 2 cores)
#   STEPS="apply" bash bench/run.sh                    # one step (steps append to the same run dir)
#   STEPS="materialize" SIZES=1m RUNS=1 bash bench/run.sh
#   STEPS=summary bash bench/run.sh                    # re-write summary.md from the raw results
#
# Steps, in order: venv gen apply materialize serve hist summary
#   venv         create the Feast venv if it is missing (as scripts/interop.sh does)
#   gen          seeded data with the peer's gen_data.py (../shared/peer/feast-0.67): small (10k rows,
#                for apply), 1m (1M rows, 100k entities x 10 = `preset medium`), 10m (100k entities x 100),
#                and entity dataframes of 100k and 1M rows for each feature table
#   apply        cold apply + no-op re-apply of the peer repo, and of a generated 1,000-view repo;
#                `feast version` / `larder version` as start-up floors
#   materialize  1m and 10m rows into SQLite and Redis, window 2026-10-02T00:00:00..2026-11-01T00:00:00
#   serve        HTTP /get-online-features on the materialized 1m data: feast serve (3 configs) vs
#                larder serve, SQLite and Redis, wrk -t1 at concurrency 1/8/32, 1 and 100 entities;
#                HTTP floor (GET /health) of each server; redis-benchmark floor
#   hist         get_historical_features: entity rows 100k/1M x feature rows 1m/10m; Larder CLI vs
#                Feast's file (dask) and duckdb offline stores (peer's bench_hist.py)
#   summary      bench/summarize.py -> <run dir>/summary.md (tables with ratios, goals met/missed)
#
# Knobs (environment): STEPS, SIZES ("1m 10m": feature-table sizes for materialize and hist),
# HIST_ENTITIES ("100k 1m"), RUNS (Feast repetitions, 3), LARDER_RUNS (5), HYPERFINE_RUNS (20),
# FEAST_TIMEOUT (1200 s per Feast command), LARDER_TIMEOUT (600 s), HEAVY_LIMIT (a Feast run slower
# than this many seconds is not repeated; 300), FEAST_10M_MATERIALIZE (1: try Feast at 10M rows),
# FEAST_FILE_SKIP ("1mx10m": hist cases Feast's file store is not run on; at 1M x 10M it grows past
# 23 GiB and is killed by the OOM killer, taking the machine's memory with it; "" runs it),
# SERVE_SECONDS (12), SERVE_WARMUP (3), SERVE_FLOOR_SECONDS (5: GET /health per server), SERVE_CONC
# ("1 8 32"), SERVE_BATCHES ("1 100"),
# FEAST_SERVE_CONFIGS ("1:1000 1:0 2:0" = workers:max-requests), LARDER_SERVE_CONFIGS ("default 1" =
# `larder serve` threads: one per CPU, and `-w 1`, which leaves wrk a core of its own), BENCH_REDIS_PORT (6390: a private
# redis-server this script starts and stops; 127.0.0.1:6379 is never touched), SERVE_PORT (6580),
# LARDER_BIN (default target/release/larder, rebuilt with `cargo build --release -p larder-cli --locked`
# first, a no-op when up to date; LARDER_BUILD=0 skips that), LARDER_FEAST_VENV, BENCH_DATA (bench/data,
# git-ignored), BENCH_OUT (run directory, default bench/runs/<UTC date>-<machine>-<git rev>).
#
# Raw results (commit-worthy, no data): <run dir>/results.tsv (one line per timed process:
# wall seconds from the shell's clock, peak RSS from `/usr/bin/time -v`, exit code), hyperfine/*.json,
# serve.jsonl (wrk's figures, plus the CPU seconds the server's processes and, for Redis, the
# redis-server used during each measured run), serve_floor.jsonl, serve_rss.tsv, redis_floor.csv,
# hist.jsonl, checks.txt (row counts,
# response cross-check), machine.txt, steps.tsv, run.log, logs/. Steps append to the run directory of
# the day, so separate `STEPS=...` invocations add up to one run; to repeat a step, start a new
# directory (BENCH_OUT=...) or the medians will mix both attempts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
BENCH=$ROOT/bench
PEER=$(cd "$ROOT/../shared/peer/feast-0.67" && pwd)

FEAST_VERSION=0.67.0
VENV=${LARDER_FEAST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/larder/feast-0.67-venv}
PYTHON=${LARDER_PYTHON:-python3}
PY=$VENV/bin/python
FEAST=$VENV/bin/feast
LARDER=${LARDER_BIN:-$ROOT/target/release/larder}

STEPS=${STEPS:-"venv gen apply materialize serve hist summary"}
SIZES=${SIZES:-"1m 10m"}
HIST_ENTITIES=${HIST_ENTITIES:-"100k 1m"}
RUNS=${RUNS:-3}
LARDER_RUNS=${LARDER_RUNS:-5}
HYPERFINE_RUNS=${HYPERFINE_RUNS:-20}
FEAST_TIMEOUT=${FEAST_TIMEOUT:-1200}
LARDER_TIMEOUT=${LARDER_TIMEOUT:-600}
HEAVY_LIMIT=${HEAVY_LIMIT:-300}
FEAST_10M_MATERIALIZE=${FEAST_10M_MATERIALIZE:-1}
FEAST_FILE_SKIP=${FEAST_FILE_SKIP:-"1mx10m"}
SERVE_SECONDS=${SERVE_SECONDS:-12}
SERVE_WARMUP=${SERVE_WARMUP:-3}
SERVE_FLOOR_SECONDS=${SERVE_FLOOR_SECONDS:-5}
SERVE_CONC=${SERVE_CONC:-"1 8 32"}
SERVE_BATCHES=${SERVE_BATCHES:-"1 100"}
FEAST_SERVE_CONFIGS=${FEAST_SERVE_CONFIGS:-"1:1000 1:0 2:0"}
LARDER_SERVE_CONFIGS=${LARDER_SERVE_CONFIGS:-"default 1"}
REDIS_PORT=${BENCH_REDIS_PORT:-6390}
SERVE_PORT=${SERVE_PORT:-6580}
DATA=${BENCH_DATA:-$BENCH/data}

START_TS=2026-10-02T00:00:00
END_TS=2026-11-01T00:00:00
ENTITIES=100000
declare -A FROWS=([small]=10000 [1m]=1000000 [10m]=10000000)
declare -A RPE=([small]=10 [1m]=10 [10m]=100)
declare -A EROWS=([100k]=100000 [1m]=1000000)
REFS=driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate,driver_hourly_stats:avg_daily_trips,driver_hourly_stats:rating,driver_hourly_stats:earnings,driver_hourly_stats:distance_km,driver_hourly_stats:trips_today,driver_hourly_stats:cancellations,driver_hourly_stats:speed_avg,driver_hourly_stats:city

export TZ=UTC PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONWARNINGS=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

machine_desc() {
  local cpus mem model virt
  cpus=$(nproc)
  mem=$(awk '/MemTotal/{printf "%d", $2/1048576 + 0.5}' /proc/meminfo)
  model=$(lscpu | awk -F: '/Model name/{print tolower($2); exit}' | grep -oE 'xeon|epyc|ryzen|core|graviton|neoverse|apple' | head -1 || true)
  virt=$(lscpu | awk -F: '/Hypervisor vendor/{gsub(/ /, "", $2); print tolower($2); exit}')
  echo "${cpus}cpu-${mem}gib${model:+-$model}${virt:+-$virt}"
}
missing=()
for tool in wrk hyperfine redis-server redis-cli redis-benchmark sqlite3 curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/run.sh needs: ${missing[*]} (Debian/Ubuntu: apt-get install wrk hyperfine redis-server redis-tools sqlite3 curl)" >&2
  exit 2
fi
REV=$(git rev-parse --short HEAD 2>/dev/null || echo norev)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || echo -dirty)
OUT=${BENCH_OUT:-$BENCH/runs/$(date -u +%Y-%m-%d)-$(machine_desc)-$REV}
mkdir -p "$OUT/logs" "$OUT/hyperfine"
OUT=$(cd "$OUT" && pwd)   # absolute: redis-server and the servers run in other directories
LOGS=$OUT/logs
REPOS=$DATA/repos
mkdir -p "$DATA" "$REPOS"
RESULTS=$OUT/results.tsv
[ -f "$RESULTS" ] || printf 'step\tcase\ttool\tstore\trun\twall_s\tmaxrss_kb\texit\trows\n' > "$RESULTS"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
has_step() { [[ " $STEPS " == *" $1 "* ]]; }
slow() { awk -v w="$1" -v l="$HEAVY_LIMIT" 'BEGIN{exit !(w>l)}'; }

# timed STEP CASE TOOL STORE RUN ROWS TIMEOUT -- CMD...  -> a results.tsv line; echoes wall seconds.
# Wall time: the shell's nanosecond clock around `/usr/bin/time -v timeout CMD` (≈ 1-2 ms of wrapper);
# peak RSS: /usr/bin/time's "Maximum resident set size" (the largest process of the tree).
timed() {
  local step=$1 case=$2 tool=$3 store=$4 run=$5 rows=$6 to=$7; shift 8
  local base=$LOGS/${step}_${case}_${tool}_${store}_${run}
  local rc=0 t0 t1 wall rss
  # Feast runs first in line for the kernel's OOM killer (Feast's file store can exhaust the machine)
  local pre=()
  if [ "$tool" = feast ] && command -v choom >/dev/null; then pre=(choom -n 1000 --); fi
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$base.time" timeout -k 10 "$to" "${pre[@]}" "$@" >"$base.log" 2>&1 || rc=$?
  t1=$(date +%s%N)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b - a) / 1e9}')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$base.time" 2>/dev/null || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$case" "$tool" "$store" "$run" "$wall" "${rss:-}" "$rc" "$rows" >> "$RESULTS"
  log "$step $case $tool $store #$run: ${wall}s rss=${rss:-?}KB rc=$rc"
  if [ "$rc" != 0 ]; then
    { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && log "  (timeout after ${to}s or killed; rc=$rc)"
    log "  FAILED, tail of $base.log:"; tail -5 "$base.log" | sed 's/^/    /' >&2
  fi
  echo "$wall"
}

# ---------------------------------------------------------------------------------------------
ensure_venv() {  # as scripts/interop.sh: reuse while it imports feast 0.67.0, else create it
  if [ -x "$PY" ] && "$PY" -c "import sys, feast, duckdb, redis; sys.exit(feast.__version__ != '$FEAST_VERSION')" 2>/dev/null; then
    return
  fi
  log "creating $VENV with feast[duckdb,redis]==$FEAST_VERSION (one-time, a few minutes)"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv --clear "$VENV"
  "$PY" -m pip install -q "feast[duckdb,redis]==$FEAST_VERSION"
}

ensure_larder() {
  # the binary measured is the working tree's: rebuilt first (a no-op when up to date) unless
  # LARDER_BIN names another binary or LARDER_BUILD=0
  if [ -z "${LARDER_BIN:-}" ] && [ "${LARDER_BUILD:-1}" != 0 ]; then
    log "cargo build --release -p larder-cli --locked"
    cargo build --release -q -p larder-cli --locked
  fi
  [ -x "$LARDER" ] || { log "no larder binary at $LARDER"; exit 1; }
}

write_machine() {
  {
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(machine_desc)"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|Hypervisor|L2|L3)' | sed 's/  */ /g'
    echo "memory: $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "larder: $("$LARDER" --version 2>/dev/null) (${LARDER#"$ROOT"/}, built $(date -u -r "$LARDER" +%Y-%m-%dT%H:%M:%SZ); working tree at git $REV)"
    "$PY" -c "import feast, pyarrow, pandas, duckdb, dask, sys; print(f'feast {feast.__version__}, pyarrow {pyarrow.__version__}, pandas {pandas.__version__}, duckdb {duckdb.__version__}, dask {dask.__version__}, python {sys.version.split()[0]}')"
    echo "redis-server: $(redis-server --version | awk '{print $3}')"
    echo "wrk: $(wrk --version 2>&1 | head -1 | awk '{print $2}'); hyperfine: $(hyperfine --version | awk '{print $2}')"
  } > "$OUT/machine.txt"
}

# ---------------------------------------------------------------------------------------------
REDIS_PID=""
start_redis() {
  [ -n "$REDIS_PID" ] && return
  if redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1; then
    log "something already listens on 127.0.0.1:$REDIS_PORT; refusing to flush it (set BENCH_REDIS_PORT)"; exit 1
  fi
  mkdir -p "$DATA/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --protected-mode yes \
    --dir "$DATA/redis" --logfile "$LOGS/redis-server.log" --daemonize no &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
  log "private redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT"
}
stop_redis() {
  if [ -n "$REDIS_PID" ]; then
    kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true
    log "stopped redis-server pid $REDIS_PID"; REDIS_PID=""
  fi
}
flush_redis() { redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null; }   # only ever our private server

SERVER_PGID=""
stop_server() {
  if [ -n "$SERVER_PGID" ]; then
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
    wait "$SERVER_PGID" 2>/dev/null || true
    SERVER_PGID=""
  fi
}
cleanup() { stop_server; stop_redis; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Repos: make_repo TOOL KIND NAME PARQUET ONLINE OFFLINE -> prints the repo dir
make_repo() {
  local tool=$1 kind=$2 name=$3 parquet=$4 online=$5 offline=$6 d=$REPOS/$3
  "$PY" "$BENCH/make_repo.py" --tool "$tool" --kind "$kind" --parquet "$parquet" --online "$online" \
    --redis-port "$REDIS_PORT" --offline "$offline" --out "$d"
  echo "$d"
}
# apply without timing (Feast's peer definitions.py reads its source path from FEAST_PEER_PARQUET)
apply_quiet() {  # TOOL REPO PARQUET
  if [ "$1" = feast ]; then
    FEAST_PEER_PARQUET=$3 "$FEAST" -c "$2" apply >> "$LOGS/apply_quiet.log" 2>&1
  else
    "$LARDER" -c "$2" apply >> "$LOGS/apply_quiet.log" 2>&1
  fi
}
reset_store() {  # REPO STORE: fresh registry + online store
  rm -rf "$1/data"
  if [ "$2" = redis ]; then flush_redis; fi
}
online_count() {  # REPO STORE -> "rows" stored (sqlite: entity keys in the table; redis: keys)
  if [ "$2" = redis ]; then redis-cli -p "$REDIS_PORT" DBSIZE
  else sqlite3 "$1/data/online.db" "SELECT count(DISTINCT entity_key) || ' keys, ' || count(*) || ' rows' FROM feast_peer_driver_hourly_stats" 2>/dev/null || echo "?"
  fi
}

# ---------------------------------------------------------------------------------------------
step_gen() {
  local g=$PEER/gen_data.py
  mkdir -p "$DATA/small" "$DATA/1m" "$DATA/10m"
  if [ ! -f "$DATA/small/driver_stats.parquet" ]; then
    log "generating small (preset small)"; "$PY" "$g" preset small --dir "$DATA/small" > "$DATA/small/gen.json"
  fi
  if [ ! -f "$DATA/1m/driver_stats.parquet" ] || [ ! -f "$DATA/1m/entities_100k.parquet" ]; then
    log "generating 1m (preset medium: 1M rows, 100k entities, + 100k entity rows)"
    "$PY" "$g" preset medium --dir "$DATA/1m" > "$DATA/1m/gen.json"
    mv "$DATA/1m/entity_df.parquet" "$DATA/1m/entities_100k.parquet"
  fi
  if [[ " $SIZES " == *" 10m "* ]] && [ ! -f "$DATA/10m/driver_stats.parquet" ]; then
    log "generating 10m (100k entities x 100 rows)"
    "$PY" "$g" features --entities $ENTITIES --rows-per-entity 100 --out "$DATA/10m/driver_stats.parquet" >> "$DATA/10m/gen.json"
  fi
  local s e
  for s in $SIZES; do
    for e in $HIST_ENTITIES; do
      if [ ! -f "$DATA/$s/entities_$e.parquet" ]; then
        log "generating $e entity rows for $s (rows-per-entity ${RPE[$s]})"
        "$PY" "$g" entities --entities $ENTITIES --rows-per-entity "${RPE[$s]}" --rows "${EROWS[$e]}" \
          --out "$DATA/$s/entities_$e.parquet" >> "$DATA/$s/gen.json"
      fi
    done
  done
  cat "$DATA"/*/gen.json > "$OUT/data_sha256.jsonl"
}

# ---------------------------------------------------------------------------------------------
apply_case() {  # CASE KIND PARQUET
  local case=$1 kind=$2 pq=$3 fr lr i w
  fr=$(make_repo feast "$kind" "feast_apply_$case" "$pq" sqlite file)
  lr=$(make_repo larder "$kind" "larder_apply_$case" "$pq" sqlite file)
  # Larder: hyperfine for the wall time (ms resolution matters here), /usr/bin/time for peak RSS
  hyperfine -N --style basic --runs "$HYPERFINE_RUNS" --prepare "rm -rf $lr/data" \
    --export-json "$OUT/hyperfine/apply_cold_${case}_larder.json" "$LARDER -c $lr apply" > "$LOGS/hyperfine_apply_cold_$case.log" 2>&1 \
    || log "hyperfine apply_cold $case failed"
  rm -rf "$lr/data"; "$LARDER" -c "$lr" apply > /dev/null 2>&1 || true
  hyperfine -N --style basic --runs "$HYPERFINE_RUNS" --warmup 2 \
    --export-json "$OUT/hyperfine/apply_noop_${case}_larder.json" "$LARDER -c $lr apply" > "$LOGS/hyperfine_apply_noop_$case.log" 2>&1 \
    || log "hyperfine apply_noop $case failed"
  for i in $(seq 1 "$LARDER_RUNS"); do
    rm -rf "$lr/data"
    timed apply_cold "$case" larder sqlite "$i" 0 "$LARDER_TIMEOUT" -- "$LARDER" -c "$lr" apply >/dev/null
    timed apply_noop "$case" larder sqlite "$i" 0 "$LARDER_TIMEOUT" -- "$LARDER" -c "$lr" apply >/dev/null
  done
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$fr/data"
    w=$(timed apply_cold "$case" feast sqlite "$i" 0 "$FEAST_TIMEOUT" -- env FEAST_PEER_PARQUET="$pq" "$FEAST" -c "$fr" apply)
    timed apply_noop "$case" feast sqlite "$i" 0 "$FEAST_TIMEOUT" -- env FEAST_PEER_PARQUET="$pq" "$FEAST" -c "$fr" apply >/dev/null
    if slow "$w"; then log "feast apply $case took ${w}s; not repeating"; break; fi
  done
  {
    echo "apply $case: larder registry $(stat -c %s "$lr/data/registry.db" 2>/dev/null) bytes, feast registry $(stat -c %s "$fr/data/registry.db" 2>/dev/null) bytes"
    echo "apply $case: sqlite tables larder $(sqlite3 "$lr/data/online.db" "SELECT count(*) FROM sqlite_master WHERE type='table'" 2>/dev/null), feast $(sqlite3 "$fr/data/online.db" "SELECT count(*) FROM sqlite_master WHERE type='table'" 2>/dev/null)"
  } >> "$OUT/checks.txt"
}

step_apply() {
  local pq=$DATA/small/driver_stats.parquet
  apply_case peer peer "$pq"
  apply_case views1000 many "$pq"
  # start-up floors
  hyperfine -N --style basic --runs "$HYPERFINE_RUNS" --warmup 2 --export-json "$OUT/hyperfine/version_larder.json" \
    "$LARDER --version" > "$LOGS/hyperfine_version.log" 2>&1 || true
  local i
  for i in $(seq 1 "$LARDER_RUNS"); do timed version none larder none "$i" 0 60 -- "$LARDER" version >/dev/null; done
  for i in $(seq 1 "$RUNS"); do timed version none feast none "$i" 0 120 -- "$FEAST" version >/dev/null; done
}

# ---------------------------------------------------------------------------------------------
materialize_runs() {  # TOOL STORE SIZE REPO NRUNS TIMEOUT
  local tool=$1 store=$2 s=$3 r=$4 n=$5 to=$6 pq=$DATA/$3/driver_stats.parquet i w
  for i in $(seq 1 "$n"); do
    reset_store "$r" "$store"
    apply_quiet "$tool" "$r" "$pq"
    if [ "$tool" = feast ]; then
      w=$(timed materialize "$s" feast "$store" "$i" "${FROWS[$s]}" "$to" -- "$FEAST" -c "$r" materialize "$START_TS" "$END_TS")
    else
      w=$(timed materialize "$s" larder "$store" "$i" "${FROWS[$s]}" "$to" -- "$LARDER" -c "$r" materialize "$START_TS" "$END_TS")
    fi
    echo "materialize $s $tool $store #$i: stored $(online_count "$r" "$store")" >> "$OUT/checks.txt"
    if [ "$tool" = feast ] && slow "$w"; then log "feast materialize $s $store took ${w}s; not repeating"; break; fi
  done
}

# SQLite alone writing the 1M online rows that 100k entities x 10 features make (bench/sqlite_floor.sql)
sqlite_floor() {
  local i db=$DATA/sqlite_floor.db
  for i in $(seq 1 "$LARDER_RUNS"); do
    rm -f "$db" "$db-wal" "$db-shm"
    timed materialize floor sqlite3 sqlite "$i" 1000000 300 -- sqlite3 "$db" ".read $BENCH/sqlite_floor.sql" > /dev/null
  done
  rm -f "$db" "$db-wal" "$db-shm"
}

step_materialize() {
  start_redis
  local s store lr fr
  sqlite_floor
  for s in $SIZES; do
    for store in sqlite redis; do
      lr=$(make_repo larder peer "larder_mat_${store}_$s" "$DATA/$s/driver_stats.parquet" "$store" file)
      fr=$(make_repo feast peer "feast_mat_${store}_$s" "$DATA/$s/driver_stats.parquet" "$store" file)
      materialize_runs larder "$store" "$s" "$lr" "$LARDER_RUNS" "$LARDER_TIMEOUT"
      if [ "$s" = 1m ]; then
        materialize_runs feast "$store" "$s" "$fr" "$RUNS" "$FEAST_TIMEOUT"
      elif [ "$FEAST_10M_MATERIALIZE" = 1 ]; then
        materialize_runs feast "$store" "$s" "$fr" 1 "$FEAST_TIMEOUT"
      fi
      if [ "$store" = redis ]; then
        redis-cli -p "$REDIS_PORT" INFO memory | grep -E '^used_memory(_human)?:' | sed "s/^/redis $s after feast: /" >> "$OUT/checks.txt" || true
      fi
    done
  done
  stop_redis
}

# ---------------------------------------------------------------------------------------------
start_server() {  # TOOL REPO LOGNAME [WORKERS MAXREQ] (larder: [WORKERS|default])
  local tool=$1 r=$2 name=$3
  if [ "$tool" = feast ]; then
    setsid "$FEAST" -c "$r" serve -h 127.0.0.1 -p "$SERVE_PORT" --no-access-log -w "$4" --max-requests "$5" \
      > "$LOGS/$name.log" 2>&1 &
  else
    local threads=()
    [ "${4:-default}" = default ] || threads=(-w "$4")
    setsid "$LARDER" -c "$r" serve -h 127.0.0.1 -p "$SERVE_PORT" --no-access-log "${threads[@]}" \
      > "$LOGS/$name.log" 2>&1 &
  fi
  SERVER_PGID=$!
  local ok=0
  for _ in $(seq 1 240); do
    if curl -sf -o /dev/null "http://127.0.0.1:$SERVE_PORT/health"; then ok=1; break; fi
    sleep 0.25
  done
  [ $ok = 1 ] || { log "server $name did not come up"; tail -5 "$LOGS/$name.log" >&2; stop_server; return 1; }
}

serve_body() {  # IDS... -> request JSON
  local ids; ids=$(IFS=,; echo "$*")
  printf '{"features":["%s"],"entities":{"driver_id":[%s]}}' "${REFS//,/\",\"}" "$ids"
}

# CPU seconds (user + system, with those of reaped children: gunicorn's recycled workers) used so
# far by the processes of a process group, or by one pid
group_cpu_s() {  # PGID
  local p t=0
  for p in $(pgrep -g "$1" || true); do t=$((t + $(proc_ticks "$p"))); done
  awk -v t="$t" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t / hz}'
}
pid_cpu_s() {  # PID
  awk -v t="$(proc_ticks "$1")" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t / hz}'
}
proc_ticks() {  # PID -> utime + stime + cutime + cstime (0 once it is gone)
  awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0
}
CLK_TCK=$(getconf CLK_TCK)
serve_cpu() {  # STORE -> "SERVER_S REDIS_S": CPU seconds so far of the server and (Redis) the redis-server
  echo "$(group_cpu_s "$SERVER_PGID") $( [ "$1" = redis ] && pid_cpu_s "$REDIS_PID" || echo 0)"
}

serve_runs() {  # LABEL(tool/config) STORE
  local label=$1 store=$2 c b log lua body s0 s1 r0 r1
  # one fixed request, saved for the cross-check of the two servers' answers
  body=$(serve_body 1001 1002 150000 200001)
  curl -s -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$SERVE_PORT/get-online-features" \
    > "$OUT/serve_response_${store}_${label%%-*}.json" || true
  for b in $SERVE_BATCHES; do
    for c in $SERVE_CONC; do
      log="$LOGS/wrk_${store}_${label}_b${b}_c$c.log"
      if [ "$b" = 1 ]; then
        # the peer's script, unchanged: one random existing id per request
        wrk -t1 -c"$c" -d"${SERVE_WARMUP}s" -s "$PEER/wrk_post.lua" "http://127.0.0.1:$SERVE_PORT" > /dev/null 2>&1 || true
        read -r s0 r0 <<< "$(serve_cpu "$store")"
        FEAST_PEER_E=$ENTITIES FEAST_PEER_LABEL="serve $store $label b$b c$c" \
          timeout $((SERVE_SECONDS + 30)) wrk -t1 -c"$c" -d"${SERVE_SECONDS}s" --timeout 10s -s "$PEER/wrk_post.lua" \
          "http://127.0.0.1:$SERVE_PORT" > "$log" 2>&1 || true
      else
        BENCH_E=$ENTITIES BENCH_BATCH=$b wrk -t1 -c"$c" -d"${SERVE_WARMUP}s" -s "$BENCH/wrk_post_batch.lua" \
          "http://127.0.0.1:$SERVE_PORT" > /dev/null 2>&1 || true
        read -r s0 r0 <<< "$(serve_cpu "$store")"
        BENCH_E=$ENTITIES BENCH_BATCH=$b BENCH_LABEL="serve $store $label b$b c$c" \
          timeout $((SERVE_SECONDS + 30)) wrk -t1 -c"$c" -d"${SERVE_SECONDS}s" --timeout 10s -s "$BENCH/wrk_post_batch.lua" \
          "http://127.0.0.1:$SERVE_PORT" > "$log" 2>&1 || true
      fi
      read -r s1 r1 <<< "$(serve_cpu "$store")"
      if grep -q '^JSON ' "$log"; then
        # + the CPU the server and (Redis runs) the redis-server used during the measured run
        grep '^JSON ' "$log" | sed 's/^JSON //' | "$PY" -c "import json,sys; d=json.loads(sys.stdin.read()); d.setdefault('batch', $b); \
d['server_cpu_s'] = round($s1 - $s0, 2); d['redis_cpu_s'] = round($r1 - $r0, 2) if '$store' == 'redis' else None; print(json.dumps(d))" >> "$OUT/serve.jsonl"
        log "$(tail -1 "$OUT/serve.jsonl")"
      else
        log "wrk $store $label b$b c$c produced no result"; tail -3 "$log" >&2 || true
      fi
    done
  done
  # the HTTP floor of this server: GET /health (no body, no store), same wrk settings
  for c in $SERVE_CONC; do
    log="$LOGS/wrk_${store}_${label}_health_c$c.log"
    BENCH_LABEL="floor $store $label health c$c" timeout $((SERVE_FLOOR_SECONDS + 30)) wrk -t1 -c"$c" \
      -d"${SERVE_FLOOR_SECONDS}s" --timeout 10s -s "$BENCH/wrk_get.lua" "http://127.0.0.1:$SERVE_PORT" > "$log" 2>&1 || true
    grep '^JSON ' "$log" | sed 's/^JSON //' >> "$OUT/serve_floor.jsonl" || true
  done
  # peak RSS of the server's processes (gunicorn master + workers, or the one larder process)
  local p
  for p in $(pgrep -g "$SERVER_PGID" || true); do
    echo -e "$store\t$label\t$p\t$(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | cut -c1-80)\t$(awk '/VmHWM/{print $2}' /proc/$p/status 2>/dev/null)"
  done >> "$OUT/serve_rss.tsv"
}

redis_floor() {
  local c
  redis-cli -p "$REDIS_PORT" HSET bench:floor f0 0123456789 f1 0123456789 f2 0123456789 f3 0123456789 \
    f4 0123456789 f5 0123456789 f6 0123456789 f7 0123456789 f8 0123456789 f9 0123456789 f10 0123456789 >/dev/null
  redis-cli -p "$REDIS_PORT" SET key:__rand_int__ 0123456789 >/dev/null
  for c in $SERVE_CONC; do
    redis-benchmark -p "$REDIS_PORT" -n 200000 -c "$c" -P 1 --csv -t get 2>/dev/null | sed "s/^/\"c$c\",\"P1\",/" >> "$OUT/redis_floor.csv" || true
    redis-benchmark -p "$REDIS_PORT" -n 200000 -c "$c" -P 1 --csv HMGET bench:floor f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 2>/dev/null \
      | sed "s/^/\"c$c\",\"P1\",/" >> "$OUT/redis_floor.csv" || true
    redis-benchmark -p "$REDIS_PORT" -n 1000000 -c "$c" -P 100 --csv HMGET bench:floor f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 2>/dev/null \
      | sed "s/^/\"c$c\",\"P100\",/" >> "$OUT/redis_floor.csv" || true
  done
  redis-cli -p "$REDIS_PORT" DEL bench:floor key:__rand_int__ >/dev/null
  log "redis floor: $(grep -c . "$OUT/redis_floor.csv") lines in redis_floor.csv"
}

step_serve() {
  start_redis
  local s=1m store pq=$DATA/1m/driver_stats.parquet lr fr cfg w m
  for store in sqlite redis; do
    lr=$(make_repo larder peer "larder_serve_$store" "$pq" "$store" file)
    fr=$(make_repo feast peer "feast_serve_$store" "$pq" "$store" file)
    # Larder serves what Larder materialized, Feast what Feast materialized (same bytes either way)
    reset_store "$lr" "$store"; apply_quiet larder "$lr" "$pq"
    "$LARDER" -c "$lr" materialize "$START_TS" "$END_TS" > "$LOGS/serve_materialize_larder_$store.log" 2>&1
    for cfg in $LARDER_SERVE_CONFIGS; do
      local label=larder
      [ "$cfg" = default ] || label=larder-w$cfg
      if start_server larder "$lr" "serve_${store}_$label" "$cfg"; then
        serve_runs "$label" "$store"; stop_server
      fi
      sleep 1
    done
    [ "$store" = redis ] && redis_floor
    reset_store "$fr" "$store"; apply_quiet feast "$fr" "$pq"
    log "feast materialize for serve ($store)"
    "$FEAST" -c "$fr" materialize "$START_TS" "$END_TS" > "$LOGS/serve_materialize_feast_$store.log" 2>&1
    for cfg in $FEAST_SERVE_CONFIGS; do
      w=${cfg%%:*}; m=${cfg##*:}
      if start_server feast "$fr" "serve_${store}_feast_w${w}_m$m" "$w" "$m"; then
        serve_runs "feast-w${w}-m$m" "$store"; stop_server
      fi
      sleep 1
    done
    "$PY" "$BENCH/summarize.py" --compare-responses "$OUT/serve_response_${store}_larder.json" "$OUT/serve_response_${store}_feast.json" \
      | sed "s/^/serve $store: /" >> "$OUT/checks.txt" || true
  done
  stop_redis
}

# ---------------------------------------------------------------------------------------------
step_hist() {
  local s e r lr off i w pq ed out
  for s in $SIZES; do
    pq=$DATA/$s/driver_stats.parquet
    lr=$(make_repo larder peer "larder_hist_$s" "$pq" sqlite file)
    apply_quiet larder "$lr" "$pq"
    for e in $HIST_ENTITIES; do
      ed=$DATA/$s/entities_$e.parquet
      out=$DATA/hist_out_larder.parquet
      for i in $(seq 1 "$LARDER_RUNS"); do
        rm -f "$out"
        timed hist "${e}x$s" larder offline "$i" "${EROWS[$e]}" "$LARDER_TIMEOUT" -- \
          "$LARDER" -c "$lr" get-historical-features --entities "$ed" -f "$REFS" -o "$out" >/dev/null
      done
      "$PY" "$BENCH/summarize.py" --count-parquet "$out" --label "hist ${e}x$s larder offline" >> "$OUT/hist.jsonl" || true
      rm -f "$out"
      for off in file duckdb; do
        if [ "$off" = file ] && [[ " $FEAST_FILE_SKIP " == *" ${e}x$s "* ]]; then
          log "hist ${e}x$s feast file: skipped (FEAST_FILE_SKIP; it needs more memory than the machine has)"
          continue
        fi
        r=$(make_repo feast peer "feast_hist_${off}_$s" "$pq" sqlite "$off")
        apply_quiet feast "$r" "$pq"
        for i in $(seq 1 "$RUNS"); do
          w=$(cd "$PEER" && timed hist "${e}x$s" feast "$off" "$i" "${EROWS[$e]}" "$FEAST_TIMEOUT" -- \
                "$PY" bench_hist.py --repo "$r" --entity-df "$ed" --label "hist ${e}x$s feast $off run$i")
          grep '^{' "$LOGS/hist_${e}x${s}_feast_${off}_$i.log" | tail -1 >> "$OUT/hist.jsonl" || true
          if slow "$w"; then log "feast hist ${e}x$s $off took ${w}s; not repeating"; break; fi
          # a failed (timeout/OOM) run is not repeated either
          if tail -1 "$RESULTS" | awk -F'\t' '{exit ($8 != 0) ? 0 : 1}'; then break; fi
        done
      done
    done
  done
}

step_summary() {
  "$PY" "$BENCH/summarize.py" --run "$OUT" > "$OUT/summary.md"
  # the committed results name no path of this machine: repo-relative paths, the venv by its variable
  local f
  for f in "$OUT"/*.md "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.tsv "$OUT"/*.jsonl "$OUT"/hyperfine/*.json; do
    [ -f "$f" ] && sed -i -e "s#$VENV#\$LARDER_FEAST_VENV#g" -e "s#$ROOT/##g" "$f"
  done
  log "wrote ${OUT#"$ROOT"/}/summary.md"
}

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
if has_step venv; then ensure_venv; fi
[ -x "$PY" ] || { log "no Feast venv at $VENV (add the venv step or set LARDER_FEAST_VENV)"; exit 1; }
if has_step apply || has_step materialize || has_step serve || has_step hist; then ensure_larder; fi
write_machine
log "run dir $OUT; steps: $STEPS; sizes: $SIZES; feast runs $RUNS, larder runs $LARDER_RUNS"
for st in gen apply materialize serve hist summary; do
  if has_step "$st"; then
    t=$(date +%s)
    # each step in its own subshell (with its own cleanup trap): a failing step does not stop the others
    set +e; ( set -e; trap cleanup EXIT; "step_$st" ); rc=$?; set -e
    printf '%s\t%s\t%s\n' "$st" "$(( $(date +%s) - t ))" "$rc" >> "$OUT/steps.tsv"
    log "step $st finished in $(( $(date +%s) - t ))s (exit $rc)"
  fi
done
log "done in $(( $(date +%s) - T0 ))s"
