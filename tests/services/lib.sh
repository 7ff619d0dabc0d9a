# shellcheck shell=bash
# Shared helpers for the test-service scripts in this folder. Sourced, never run.
#
# Conventions (see README.md):
#  - every service keeps all its files under $SLUICE_SVC_DIR/<service>/;
#  - services listen on 127.0.0.1 only, on non-default ports (other runs may share the machine);
#  - processes are stopped by the PID in their pid file, never by name, and only after
#    /proc/PID/cmdline shows the PID is still ours (PIDs get reused after a crash or reboot).

set -euo pipefail

SLUICE_SVC_DIR="${SLUICE_SVC_DIR:-/tmp/sluice-svc}"
# Absolute, so that it means the same to every script and server whatever their cwd.
case "$SLUICE_SVC_DIR" in /*) ;; *) SLUICE_SVC_DIR="$PWD/$SLUICE_SVC_DIR" ;; esac
export SLUICE_SVC_DIR
# Absolute folder of these scripts, whatever the caller's current directory.
SVC_SCRIPTS_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Bounded waits (seconds). Generous: the machine may be busy with a 2-core cargo build.
SVC_START_TIMEOUT="${SLUICE_SVC_START_TIMEOUT:-60}"
SVC_STOP_TIMEOUT="${SLUICE_SVC_STOP_TIMEOUT:-30}"
# apt-get update runs once per machine, not once per run: lists survive between runs.
APT_STAMP=/var/lib/sluice-svc/apt-update.stamp
SVC="${SVC:-services}"   # each script sets SVC before sourcing; used in log lines

log() { printf '[%s] %s\n' "$SVC" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Wall-clock helpers for "ready in 0.4 s" lines.
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

# Print the last lines of each log file, so a failed start explains itself.
show_logs() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
  done
}

# ---------------------------------------------------------------------------------------------
# apt

pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# Install the given Debian packages that are not installed yet; no-op (and no apt call) if all are.
apt_install() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No systemd here, but postinst scripts still try invoke-rc.d; exit 101 = "do not start".
  # Only create it: an existing policy (e.g. a container image's) is left as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  # The lock timeout: another run (CI, a benchmark) may be inside apt-get on this machine.
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
  if [ ! -e "$APT_STAMP" ]; then
    log "apt-get update (once per machine)"
    "${apt[@]}" update >&2
    mkdir -p "$(dirname "$APT_STAMP")" && touch "$APT_STAMP"
  fi
  log "apt-get install ${missing[*]}"
  local t0; t0=$(now)
  # Recommends are skipped: smaller and faster; these services run fine without them.
  if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2; then
    # Stale package lists (a marker older than a Debian point release) give 404s: refresh once.
    log "install failed; refreshing package lists and retrying once"
    "${apt[@]}" update >&2 && touch "$APT_STAMP"
    "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2
  fi
  log "installed ${missing[*]} in $(since "$t0")"
}

# ---------------------------------------------------------------------------------------------
# processes and ports

# True if PID exists and is not a zombie (a zombie child still answers kill -0).
pid_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# Print the PID in pid file $1 if that process is alive AND its command line contains $2
# (a path or port that only our instance has). Fails otherwise, i.e. no or stale pid file.
pid_of() {
  local file=$1 pattern=$2 pid cmd
  [ -s "$file" ] || return 1
  pid=$(head -n 1 "$file" | tr -dc '0-9')
  [ -n "$pid" ] && pid_alive "$pid" || return 1
  # Read into a variable, not "| grep -q": with pipefail an early grep exit can fail the pipe.
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmd" == *"$pattern"* ]] || return 1
  printf '%s\n' "$pid"
}

# Wait up to $2 seconds for PID $1 to be gone.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Stop the process named by pid file $1 (cmdline must contain $2) with signal $3 (default TERM),
# wait (bounded), then SIGKILL. Removes the pid file. Not running -> just drops a stale file.
stop_pid() {
  local file=$1 pattern=$2 sig=${3:-TERM} pid
  if ! pid=$(pid_of "$file" "$pattern"); then
    rm -f "$file"
    return 0
  fi
  # A test may have SIGSTOPped the server; a stopped process does not act on TERM until CONT.
  kill -CONT "$pid" 2>/dev/null || true
  kill "-$sig" "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$SVC_STOP_TIMEOUT"; then
    log "pid $pid still alive after ${SVC_STOP_TIMEOUT}s of SIG$sig: sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  fi
  rm -f "$file"
}

# bash's /dev/tcp instead of nc: the base image has no netcat.
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Refuse to start when something that is not our instance already listens on the port.
check_port_free() {
  if port_open "$1"; then
    ss -ltnp "( sport = :$1 )" >&2 || true
    die "port $1 is already in use by another process (see above); pick another port"
  fi
}

# ---------------------------------------------------------------------------------------------
# start/stop/status shared by the service scripts. Each script sets SVC, PORT, DIR, PIDFILE,
# MATCH (a string only our instance's command line contains) and defines healthy().

# Wait until "$@" succeeds. Returns 1 on timeout, 2 at once if the process has died: no point
# waiting a minute for a crashed server. An absent pid file is not death: daemonizing servers
# write it a moment after they start.
wait_ready() {
  local deadline=$((SECONDS + SVC_START_TIMEOUT))
  until "$@"; do
    if [ -s "$PIDFILE" ] && ! pid_of "$PIDFILE" "$MATCH" >/dev/null; then return 2; fi
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Start, part 1. True (and says so) if our instance runs and answers. Otherwise drops a stale
# pid file, refuses a port that another process holds, and returns false: go on and launch.
already_running() {
  local pid
  if pid=$(pid_of "$PIDFILE" "$MATCH"); then
    # Maybe a concurrent start is still booting it: give it the usual time, then complain.
    wait_ready healthy ||
      die "pid $pid runs but does not answer on 127.0.0.1:$PORT (SIGSTOPped?); stop it first"
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  rm -f "$PIDFILE"
  check_port_free "$PORT"
  return 1
}

# Start, part 2, after the launch: wait until healthy. On failure show the given logs, kill
# what we launched (the next start begins clean) and die. $1 = start time from now().
await_ready() {
  local t0=$1 rc=0 why
  shift
  wait_ready healthy || rc=$?
  if [ "$rc" -ne 0 ]; then
    show_logs "$@"
    stop_pid "$PIDFILE" "$MATCH" KILL
    why="timeout ${SVC_START_TIMEOUT}s"
    [ "$rc" -eq 2 ] && why="process exited"
    die "did not come up on 127.0.0.1:$PORT ($why); logs above"
  fi
  log "ready on 127.0.0.1:$PORT (pid $(pid_of "$PIDFILE" "$MATCH")) in $(since "$t0")"
}

# Stop by PID with signal $1 (default TERM); says how long it took.
stop_service() {
  local pid t0
  if ! pid=$(pid_of "$PIDFILE" "$MATCH"); then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  t0=$(now)
  stop_pid "$PIDFILE" "$MATCH" "${1:-TERM}"
  log "stopped (pid $pid) in $(since "$t0")"
}

# One line on stdout. Exit status: 0 running and answering, 1 running but not answering,
# 3 stopped (the LSB init-script convention).
status_service() {
  local pid
  if ! pid=$(pid_of "$PIDFILE" "$MATCH"); then
    echo "$SVC: stopped"
    return 3
  fi
  if ! healthy; then
    echo "$SVC: NOT ANSWERING (pid $pid, 127.0.0.1:$PORT)"
    return 1
  fi
  echo "$SVC: running (pid $pid, 127.0.0.1:$PORT, $DIR)"
}

# Common tail of every script: run the verb function named like the verb.
dispatch() {
  local verb=${1:-} rc=0
  case "$verb" in
    start|stop)
      # One start/stop per instance at a time: two concurrent starts would both find the port
      # free and then race on the pid file. So re-run this script under a lock on the folder.
      # flock -o: the servers we launch must not inherit (and hold forever) the lock's fd.
      if [ "${SLUICE_SVC_LOCKED:-}" != "$DIR" ]; then
        mkdir -p "$DIR"
        SLUICE_SVC_LOCKED="$DIR" flock -o -E 75 -w $((SVC_START_TIMEOUT + SVC_STOP_TIMEOUT + 60)) \
          "$DIR/.lock" bash "$SVC_SCRIPTS_DIR/$(basename "$0")" "$verb" || rc=$?
        [ "$rc" -ne 75 ] || die "timed out waiting for $DIR/.lock (another start/stop hangs?)"
        exit "$rc"
      fi
      "svc_$verb" ;;
    install|status|packages) "svc_$verb" ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
  esac
}
