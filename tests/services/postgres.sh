#!/usr/bin/env bash
# PostgreSQL 15 (Debian package) with an empty database sluice_manager; for the manager tests.
# Usage: postgres.sh install|start|stop|status
# Env: SLUICE_PG_PORT (default 15432); SLUICE_PG_BIN (default /usr/lib/postgresql/15/bin)
# Auth is "trust": user postgres, no password, TCP 127.0.0.1 only.
set -euo pipefail
SVC=postgres
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${SLUICE_PG_PORT:-15432}"
PG_BIN="${SLUICE_PG_BIN:-/usr/lib/postgresql/15/bin}"   # not on PATH in Debian
DIR="$SLUICE_SVC_DIR/postgres"
DATA="$DIR/data"
PIDFILE="$DATA/postmaster.pid"   # written by postgres; its first line is the postmaster PID
MATCH="-D $DATA"                 # in the postmaster's command line: identifies our cluster

# initdb and postgres refuse to run as root: run them as the package's postgres user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# -U/-d: without them it logs "role root does not exist" in server.log at every check.
healthy() { timeout 5 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 3; }
psql_pg() { "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }
installed() { [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/psql" ]; }

svc_packages() { echo postgresql-15; }

svc_install() {
  if installed; then
    log "installed: $("$PG_BIN/postgres" --version)"
    return 0
  fi
  # shellcheck disable=SC2046  # word splitting of the package list is intended
  apt_install $(svc_packages)
  installed || die "no PostgreSQL binaries in $PG_BIN after install"
}

# The cluster, once. The .initialized marker is written last, so an interrupted initdb is redone.
init_cluster() {
  [ -e "$DIR/.initialized" ] && return 0
  rm -rf "$DATA"
  local t0; t0=$(now)
  if ! as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale \
      > "$DIR/initdb.log" 2>&1; then
    show_logs "$DIR/initdb.log"
    die "initdb failed"
  fi
  touch "$DIR/.initialized"
  log "cluster initialised in $(since "$t0")"
}

svc_start() {
  installed || die "not installed: run $SVC_SCRIPTS_DIR/install.sh postgres"
  already_running && return 0
  mkdir -p "$DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR"; fi
  # The postgres user must reach the folder: fine under /tmp, not under /root (mode 700).
  as_pg test -w "$DIR" || die "user postgres cannot write $DIR; choose another SLUICE_SVC_DIR"
  init_cluster
  local t0; t0=$(now)
  # -k: the Unix socket goes into our folder, not /var/run/postgresql (not ours, maybe absent).
  # fsync=off: test data, and much faster on a busy disk.
  # setsid -w: own session (a Ctrl-C of the caller does not reach the server); -w keeps the
  # exit status of pg_ctl.
  if ! as_pg setsid -w "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c fsync=off" \
      -w -t "$SVC_START_TIMEOUT" start > "$DIR/pg_ctl.out" 2>&1 < /dev/null; then
    show_logs "$DIR/server.log" "$DIR/pg_ctl.out"
    stop_pid "$PIDFILE" "$MATCH" KILL
    die "pg_ctl start failed"
  fi
  await_ready "$t0" "$DIR/server.log"
  local exists="SELECT 1 FROM pg_database WHERE datname = 'sluice_manager'"
  if [ "$(psql_pg -d postgres -tAc "$exists")" != 1 ]; then
    psql_pg -d postgres -c 'CREATE DATABASE sluice_manager'
    log "created database sluice_manager"
  fi
}

# SIGINT = "fast" shutdown (what pg_ctl -m fast sends): rolls back open sessions, then exits.
svc_stop() { stop_service INT; }
svc_status() { status_service; }

dispatch "$@"
