#!/usr/bin/env bash
# Start the test services: start.sh [SERVICE...] (default: all five), then write
# $SLUICE_SVC_DIR/env.sh, which the tests source to find them. Safe to run again.
set -euo pipefail
SVC=start
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(mariadb zookeeper kafka redis postgres)
if [ "$#" -gt 0 ]; then services=("$@"); else services=("${ALL[@]}"); fi
t0=$(now)
failed=()
for s in "${services[@]}"; do
  [ -f "$SVC_SCRIPTS_DIR/$s.sh" ] || die "unknown service '$s' (known: ${ALL[*]})"
  # The default MariaDB instance with the standard config: a caller's extra-instance settings
  # must not redirect or change it (an empty EXTRA_CNF also drops any remembered extra lines).
  env -u SLUICE_MARIADB_NAME SLUICE_MARIADB_EXTRA_CNF= \
    bash "$SVC_SCRIPTS_DIR/$s.sh" start || failed+=("$s")
done

# The MariaDB port: the one it really runs on (mariadb.sh remembers it), else env/default.
my_port=$(cat "$SLUICE_SVC_DIR/mariadb/port" 2>/dev/null || echo "${SLUICE_MARIADB_PORT:-13306}")
mkdir -p "$SLUICE_SVC_DIR"
# Written to a temp file and renamed: a test sourcing it at this moment never sees half a file.
{
  echo "# Written by tests/services/start.sh; source it to point the tests at the services."
  printf 'export %s=%q\n' \
    SLUICE_SVC_DIR "$SLUICE_SVC_DIR" \
    SLUICE_TEST_MYSQL_URL "mysql://sluice:sluice@127.0.0.1:$my_port" \
    SLUICE_TEST_MYSQL_ROOT_URL "mysql://root@127.0.0.1:$my_port" \
    SLUICE_TEST_ZK "127.0.0.1:${SLUICE_ZK_PORT:-12181}" \
    SLUICE_TEST_KAFKA "127.0.0.1:${SLUICE_KAFKA_PORT:-19092}" \
    SLUICE_TEST_REDIS_URL "redis://127.0.0.1:${SLUICE_REDIS_PORT:-16379}" \
    SLUICE_TEST_PG_URL "postgres://postgres@127.0.0.1:${SLUICE_PG_PORT:-15432}/sluice_manager" \
    SLUICE_TEST_MARIADB_PID_FILE "$SLUICE_SVC_DIR/mariadb/mariadbd.pid" \
    SLUICE_TEST_MARIADB_SCRIPT "$SVC_SCRIPTS_DIR/mariadb.sh"
} > "$SLUICE_SVC_DIR/env.sh.tmp.$$"
mv -f "$SLUICE_SVC_DIR/env.sh.tmp.$$" "$SLUICE_SVC_DIR/env.sh"

if [ "${#failed[@]}" -gt 0 ]; then
  die "failed to start: ${failed[*]} (the others run; env.sh written)"
fi
log "all up in $(since "$t0"): ${services[*]}; env: . $SLUICE_SVC_DIR/env.sh"
