#!/usr/bin/env bash
# Sluice as a peerbench reader: decodes the recorded binlog range live, as a replica, and writes
# one JSON line per event to $PEERBENCH_OUT (default /dev/null). Prints `events=N seconds=T`
# (row events, wall time inside the process) on stdout, as peerbench expects.
#   ../shared/peerbench/run.sh --sluice "$PWD/bench/peerbench-sluice.sh"
set -euo pipefail
sluice=${SLUICE_BIN:-${CARGO_TARGET_DIR:-/var/tmp/sluice-target}/release/sluice}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
SLUICE_LOG=warn "$sluice" dump \
  --source "mysql://$SLUICE_BENCH_USER:$SLUICE_BENCH_PASSWORD@$SLUICE_BENCH_HOST:$SLUICE_BENCH_PORT" \
  --from "$SLUICE_BENCH_START_FILE:$SLUICE_BENCH_START_POS" \
  --until "$SLUICE_BENCH_END_FILE:$SLUICE_BENCH_END_POS" \
  --output "${PEERBENCH_OUT:-/dev/null}" --stats 2>"$err" || { cat "$err" >&2; exit 1; }
grep -o 'events=[0-9]* seconds=[0-9.]*' "$err"
