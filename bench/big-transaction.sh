#!/usr/bin/env bash
# Memory with a huge transaction: writes one transaction of about SIZE_MIB MiB of row data
# (default 1024) to the test MariaDB, then has `sluice dump` decode exactly that range as a
# replica, writing JSON to /dev/null, and reports rows, time and peak RSS. Events must stream
# through: RSS stays flat whatever the transaction size.
#   bench/big-transaction.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
rows=$(( size_mib * 1024 ))          # 1 KiB of payload per row
bash tests/services/start.sh mariadb >/dev/null
# shellcheck disable=SC1091
source "${SLUICE_SVC_DIR:-/tmp/sluice-svc}/env.sh"
port=${SLUICE_MARIADB_PORT:-13306}
sql() { mariadb -h127.0.0.1 -P"$port" -uroot -N -e "$1"; }
bench_sql() { mariadb -h127.0.0.1 -P"$port" -uroot -N -D sluice_bench -e "$1"; }
sluice=${SLUICE_BIN:-${CARGO_TARGET_DIR:-/var/tmp/sluice-target}/release/sluice}

sql "CREATE DATABASE IF NOT EXISTS sluice_bench; DROP TABLE IF EXISTS sluice_bench.big;
     CREATE TABLE sluice_bench.big (id BIGINT PRIMARY KEY, payload VARCHAR(1100)) ENGINE=InnoDB"
start=$(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')
t0=$(date +%s.%N)
# One transaction: the sequence engine generates the rows server-side.
bench_sql "SET SESSION max_statement_time=0; INSERT INTO sluice_bench.big
     SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_${rows}"
end=$(sql "SHOW MASTER STATUS" | awk '{print $1":"$2}')
t1=$(date +%s.%N)
echo "wrote $rows rows in one transaction in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: binlog $start .. $end" >&2

/usr/bin/time -v -o /tmp/sluice-big.time "$sluice" dump --source "$SLUICE_TEST_MYSQL_URL" \
  --from "$start" --until "$end" --output /dev/null --stats 2>&1 | grep -o 'events=.*' || true
awk -F': ' '/Maximum resident set size/ {printf "peak RSS: %.1f MiB\n", $2/1024}
            /Elapsed \(wall clock\)/ {print "wall: " $2}
            /User time/ {u=$2} /System time/ {s=$2} END {printf "CPU: %.2f s\n", u+s}' /tmp/sluice-big.time
sql "DROP TABLE sluice_bench.big"
