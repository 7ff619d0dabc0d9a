#!/usr/bin/env bash
# Stop the test services: stop.sh [SERVICE...]. Without arguments: all five, and any extra
# MariaDB instances (SLUICE_MARIADB_NAME) found under $SLUICE_SVC_DIR. Stops by PID only.
set -euo pipefail
SVC=stop
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(mariadb zookeeper kafka redis postgres)
failed=()
if [ "$#" -gt 0 ]; then
  services=("$@")
else
  services=("${ALL[@]}")
  # Extra MariaDB instances: folders with a my.cnf written by mariadb.sh, other than the default.
  for cnf in "$SLUICE_SVC_DIR"/*/my.cnf; do
    [ -f "$cnf" ] || continue
    name=$(basename "$(dirname "$cnf")")
    [ "$name" != mariadb ] || continue
    SLUICE_MARIADB_NAME="$name" env -u SLUICE_MARIADB_PORT bash "$SVC_SCRIPTS_DIR/mariadb.sh" stop || failed+=("$name")
  done
fi
for s in "${services[@]}"; do
  [ -f "$SVC_SCRIPTS_DIR/$s.sh" ] || die "unknown service '$s' (known: ${ALL[*]})"
  env -u SLUICE_MARIADB_NAME bash "$SVC_SCRIPTS_DIR/$s.sh" stop || failed+=("$s")
done
[ "${#failed[@]}" -eq 0 ] || die "failed to stop: ${failed[*]}"
