#!/usr/bin/env bash
# Redis 7 (Debian package), no persistence; for the Redis sink tests.
# Usage: redis.sh install|start|stop|status      Env: SLUICE_REDIS_PORT (default 16379)
set -euo pipefail
SVC=redis
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${SLUICE_REDIS_PORT:-16379}"
DIR="$SLUICE_SVC_DIR/redis"
PIDFILE="$DIR/redis.pid"       # written by redis itself after it daemonizes, removed on exit
MATCH="127.0.0.1:$PORT"        # redis shows "redis-server 127.0.0.1:PORT" as its command line

# timeout: a SIGSTOPped server accepts the connect but never answers.
healthy() { [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]; }

svc_packages() { echo redis-server; }

svc_install() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    log "installed: $(redis-server --version)"
    return 0
  fi
  # shellcheck disable=SC2046  # word splitting of the package list is intended
  apt_install $(svc_packages)
}

svc_start() {
  command -v redis-server >/dev/null || die "not installed: run $SVC_SCRIPTS_DIR/install.sh redis"
  already_running && return 0
  mkdir -p "$DIR"
  local t0; t0=$(now)
  # Redis daemonizes itself (own session, writes the pid file). --save '' and --appendonly no:
  # test data need not survive, and no disk writes in the background.
  if ! redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
      --daemonize yes --pidfile "$PIDFILE" --logfile "$DIR/redis.log" < /dev/null; then
    show_logs "$DIR/redis.log"
    die "redis-server refused to start"
  fi
  await_ready "$t0" "$DIR/redis.log"
}

# SIGTERM = shutdown; with no save points configured nothing is written.
svc_stop() { stop_service TERM; }
svc_status() { status_service; }

dispatch "$@"
