#!/usr/bin/env bash
# Starts or stops the 3-node Redis Cluster the larder-online tests use (loopback ports 7101-7103,
# no persistence, no replicas).
#
#   scripts/redis-cluster.sh start   # idempotent; returns once cluster_state is ok
#   scripts/redis-cluster.sh stop    # shuts the nodes down and removes their directory
#   scripts/redis-cluster.sh status
#
# Environment: LARDER_REDIS_CLUSTER_PORTS (default "7101 7102 7103"),
#              LARDER_REDIS_CLUSTER_DIR  (default "${TMPDIR:-/tmp}/larder-redis-cluster").
set -euo pipefail

ports=(${LARDER_REDIS_CLUSTER_PORTS:-7101 7102 7103})
dir=${LARDER_REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/larder-redis-cluster}
host=127.0.0.1

die() { echo "redis-cluster.sh: $*" >&2; exit 1; }
cli() { local port=$1; shift; redis-cli -h "$host" -p "$port" "$@"; }
up() { cli "$1" ping 2>/dev/null | grep -q PONG; }
info() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

start_node() {
  local port=$1
  if up "$port"; then return; fi
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind "$host" --daemonize yes \
    --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 5000 \
    --save "" --appendonly no --dir "$dir/$port" --logfile "$dir/$port/redis.log" \
    --pidfile "$dir/$port/redis.pid"
  for _ in $(seq 50); do up "$port" && return; sleep 0.1; done
  die "node $port did not start; see $dir/$port/redis.log"
}

create_cluster() {
  local assigned
  assigned=$(info "${ports[0]}" cluster_slots_assigned)
  if [ "$assigned" = 16384 ] && [ "$(info "${ports[0]}" cluster_known_nodes)" = "${#ports[@]}" ]; then
    return
  fi
  local nodes=()
  for p in "${ports[@]}"; do nodes+=("$host:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 \
    || die "redis-cli --cluster create failed; see $dir/create.log"
}

wait_ok() {
  for _ in $(seq 100); do
    local ok=1
    for p in "${ports[@]}"; do [ "$(info "$p" cluster_state)" = ok ] || ok=0; done
    if [ $ok = 1 ]; then echo "redis cluster ok on ${ports[*]} ($dir)"; return; fi
    sleep 0.2
  done
  die "cluster_state is not ok after 20 s; see $dir/*/redis.log"
}

start() {
  command -v redis-server >/dev/null || die "redis-server is not installed"
  mkdir -p "$dir"
  for p in "${ports[@]}"; do start_node "$p"; done
  create_cluster
  wait_ok
}

stop() {
  for p in "${ports[@]}"; do
    if up "$p"; then cli "$p" shutdown nosave >/dev/null 2>&1 || true; fi
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 50); do up "$p" || break; sleep 0.1; done
  done
  rm -rf "$dir"
  echo "redis cluster stopped"
}

status() {
  for p in "${ports[@]}"; do
    if up "$p"; then echo "$p: up, cluster_state=$(info "$p" cluster_state)"; else echo "$p: down"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
