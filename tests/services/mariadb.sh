#!/usr/bin/env bash
# MariaDB 10.11 with the binlog Sluice reads: ROW format, FULL row image, FULL row metadata,
# GTID strict mode. Usage: mariadb.sh install|start|stop|status
#
# Env: SLUICE_MARIADB_PORT      port (default 13306, or the port this instance last started on)
#      SLUICE_MARIADB_NAME      folder under SLUICE_SVC_DIR (default "mariadb"); another name runs
#                               a second, independent instance (own datadir, binlog, pid file)
#      SLUICE_MARIADB_EXTRA_CNF lines appended under [mariadbd], e.g. binlog_row_metadata=MINIMAL
#                               (later lines win over the defaults above them). Unset: the lines
#                               of this instance's last start; set but empty: none.
# Users: root (no password, TCP 127.0.0.1), sluice/sluice (replication + SELECT, all rights on
# `sluice\_%` and demo), norepl/norepl (SELECT only: for the "missing replication grant" test).
set -euo pipefail
NAME="${SLUICE_MARIADB_NAME:-mariadb}"
SVC="$NAME"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ "$NAME" =~ ^[A-Za-z0-9._-]+$ ]] || die "SLUICE_MARIADB_NAME must be a plain folder name"
DIR="$SLUICE_SVC_DIR/$NAME"
# Our own record of $! (= the server's PID). mariadbd's pid-file (mysqld.pid) vanishes on a clean
# exit but stays after a crash; ours is removed only by stop, so a test can SIGSTOP/SIGKILL it.
PIDFILE="$DIR/mariadbd.pid"
# Env wins; else the port saved at the last start (so stop/status of an extra instance need only
# its name); else the default.
PORT="${SLUICE_MARIADB_PORT:-$(cat "$DIR/port" 2>/dev/null || echo 13306)}"
# Remembered too, so that a restart (e.g. after a test killed it) keeps the instance's config.
EXTRA_CNF="${SLUICE_MARIADB_EXTRA_CNF-$(cat "$DIR/extra.cnf" 2>/dev/null || true)}"
MATCH="--defaults-file=$DIR/my.cnf"   # in the server's command line: identifies our instance

# timeout: a SIGSTOPped server accepts the TCP connect but never greets; do not hang on it.
healthy() {
  timeout 5 mariadb-admin --no-defaults --protocol=tcp -h127.0.0.1 -P"$PORT" -uroot \
    --connect-timeout=3 ping >/dev/null 2>&1
}

my_cnf() {
  cat <<EOF
# Written by tests/services/mariadb.sh at each start; edits here are lost.
[mariadbd]
user=root
datadir=$DIR/data
socket=$DIR/mysqld.sock
pid-file=$DIR/mysqld.pid
port=$PORT
bind-address=127.0.0.1
log-error=$DIR/error.log
server_id=1
log_bin=$DIR/data/binlog
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
gtid_strict_mode=ON
skip-name-resolve
innodb_buffer_pool_size=128M
max_allowed_packet=256M
EOF
  if [ -n "$EXTRA_CNF" ]; then
    echo "# from SLUICE_MARIADB_EXTRA_CNF"
    printf '%s\n' "$EXTRA_CNF"
  fi
}

# System tables, once. The .initialized marker is written last, so an interrupted init is redone.
init_datadir() {
  [ -e "$DIR/.initialized" ] && return 0
  rm -rf "$DIR/data"
  local t0; t0=$(now)
  # normal auth method: root@127.0.0.1 without password works over TCP (no unix_socket auth).
  if ! mariadb-install-db --defaults-file="$DIR/my.cnf" --auth-root-authentication-method=normal \
      --skip-test-db > "$DIR/install-db.log" 2>&1; then
    show_logs "$DIR/install-db.log" "$DIR/error.log"
    die "mariadb-install-db failed"
  fi
  touch "$DIR/.initialized"
  log "datadir initialised in $(since "$t0")"
}

# Test users, once per datadir (IF NOT EXISTS: harmless if the marker was lost).
create_users() {
  [ -e "$DIR/.users" ] && return 0
  # --no-defaults: ignore /etc/mysql client settings; only the flags given here count.
  mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$PORT" -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'sluice'@'%' IDENTIFIED BY 'sluice';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'sluice'@'%';
-- \_ is a literal underscore: tests create databases sluice_test_*.
GRANT ALL ON `sluice\_%`.* TO 'sluice'@'%';
GRANT ALL ON `demo`.* TO 'sluice'@'%';
CREATE USER IF NOT EXISTS 'norepl'@'%' IDENTIFIED BY 'norepl';
GRANT SELECT ON *.* TO 'norepl'@'%';
SQL
  touch "$DIR/.users"
}

svc_packages() { echo mariadb-server mariadb-client; }

svc_install() {
  if command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; then
    log "installed: $(mariadbd --version)"
    return 0
  fi
  # shellcheck disable=SC2046  # word splitting of the package list is intended
  apt_install $(svc_packages)
}

svc_start() {
  command -v mariadbd >/dev/null || die "not installed: run $SVC_SCRIPTS_DIR/install.sh mariadb"
  mkdir -p "$DIR"
  if pid_of "$PIDFILE" "$MATCH" >/dev/null && [ "$(my_cnf)" != "$(cat "$DIR/my.cnf")" ]; then
    log "WARNING: it runs with an older my.cnf; stop and start it to apply the new settings"
  fi
  if already_running; then
    create_users   # no-op unless an earlier start died between launch and this step
    return 0
  fi
  my_cnf > "$DIR/my.cnf"
  echo "$PORT" > "$DIR/port"
  printf '%s\n' "$EXTRA_CNF" > "$DIR/extra.cnf"
  init_datadir
  local t0; t0=$(now)
  # mariadbd itself, not mysqld_safe: one process whose PID is the server's.
  # setsid: own session, so a Ctrl-C or a kill of the caller's process group does not reach it.
  setsid mariadbd --defaults-file="$DIR/my.cnf" > "$DIR/mariadbd.out" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  await_ready "$t0" "$DIR/error.log" "$DIR/mariadbd.out"
  create_users
}

# SIGTERM = normal shutdown, the same as mariadb-admin shutdown, and needs no port or password.
svc_stop() { stop_service TERM; }
svc_status() { status_service; }

dispatch "$@"
