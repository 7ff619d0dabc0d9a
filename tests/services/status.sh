#!/usr/bin/env bash
# One line per test service: status.sh [SERVICE...] (default: all five, plus any extra MariaDB
# instances, shown for information). Exit 0 only if every named service runs and answers.
set -euo pipefail
SVC=status
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(mariadb zookeeper kafka redis postgres)
if [ "$#" -gt 0 ]; then services=("$@"); else services=("${ALL[@]}"); fi
bad=0
for s in "${services[@]}"; do
  [ -f "$SVC_SCRIPTS_DIR/$s.sh" ] || die "unknown service '$s' (known: ${ALL[*]})"
  env -u SLUICE_MARIADB_NAME bash "$SVC_SCRIPTS_DIR/$s.sh" status || bad=1
done
if [ "$#" -eq 0 ]; then
  for cnf in "$SLUICE_SVC_DIR"/*/my.cnf; do
    [ -f "$cnf" ] || continue
    name=$(basename "$(dirname "$cnf")")
    [ "$name" != mariadb ] || continue
    SLUICE_MARIADB_NAME="$name" env -u SLUICE_MARIADB_PORT bash "$SVC_SCRIPTS_DIR/mariadb.sh" status || true
  done
fi
if [ -f "$SLUICE_SVC_DIR/env.sh" ]; then echo "env: $SLUICE_SVC_DIR/env.sh"; fi
exit "$bad"
