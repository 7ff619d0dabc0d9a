#!/usr/bin/env bash
# The quick start: installs and starts a local MariaDB with its binlog on, builds Sluice, and
# runs it in standalone mode (embedded defaults, file checkpoints under ./data) while a demo
# workload writes to the database. Sluice prints each change as a JSON line on stdout.
#
#   scripts/quickstart.sh            # demo workload for ~15 s, then Sluice stops cleanly
#   scripts/quickstart.sh --follow   # keep Sluice running (Ctrl-C stops it) after the workload
set -euo pipefail
cd "$(dirname "$0")/.."
follow=false
[ "${1:-}" = "--follow" ] && follow=true

bash tests/services/install.sh mariadb
bash tests/services/start.sh mariadb
# shellcheck disable=SC1091
source "${SLUICE_SVC_DIR:-/tmp/sluice-svc}/env.sh"
port=${SLUICE_MARIADB_PORT:-13306}
sql() { mariadb -h127.0.0.1 -P"$port" -uroot demo -e "$1"; }

mariadb -h127.0.0.1 -P"$port" -uroot -e "CREATE DATABASE IF NOT EXISTS demo"
sql "CREATE TABLE IF NOT EXISTS orders (
       id BIGINT UNSIGNED PRIMARY KEY AUTO_INCREMENT,
       customer VARCHAR(64) NOT NULL,
       amount DECIMAL(12,2) NOT NULL,
       status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new',
       created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
       details JSON)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sluice-target}"
echo "Building the web UI and Sluice (release)..." >&2
# The web UI needs Node.js 20+; without it Sluice still runs, its UI page says how to build it.
bash scripts/build-web.sh || echo "The web UI was not built (see above); continuing without it." >&2
cargo build --release --quiet
sluice="$CARGO_TARGET_DIR/release/sluice"

"$sluice" standalone --config examples/quickstart.toml &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
sleep 2

echo "Writing a demo workload to demo.orders..." >&2
for i in $(seq 1 15); do
  sql "BEGIN;
       INSERT INTO orders (customer, amount, details)
         VALUES ('customer-$i', $i * 10.25, JSON_OBJECT('items', $i, 'note', 'café ☕'));
       UPDATE orders SET status = 'paid' WHERE customer = 'customer-$((i - 1))';
       COMMIT;"
  [ $((i % 5)) -eq 0 ] && sql "DELETE FROM orders WHERE status = 'paid' LIMIT 1"
  sleep 1
done

if $follow; then
  echo "Sluice keeps streaming; write to demo.orders, Ctrl-C to stop." >&2
  wait $pid
else
  sleep 1
  kill -TERM $pid
  wait $pid
  echo "Done: Sluice stopped after writing its checkpoint to ./data/demo." >&2
fi
