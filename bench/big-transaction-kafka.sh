#!/usr/bin/env bash
# Memory with a huge transaction through the Kafka sink: as big-transaction.sh, one transaction
# of SIZE_MIB MiB of row data (default 1024; 1 KiB per row) on the test MariaDB, then
# `sluice standalone` (release build, Kafka sink, format `sluice`) sends exactly those rows to a
# fresh topic (3 partitions). Reports the time until Sluice's checkpoint passes the transaction
# (every message acknowledged), Sluice's CPU time and peak RSS (VmHWM), and checks the broker
# holds all messages. Deletes the topic and the table.
#   bench/big-transaction-kafka.sh [SIZE_MIB]
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
size_mib=${1:-1024}
rows=$((size_mib * 1024))
db=sluice_bench_big
server_id=4200401
services mariadb kafka
build
run=$(date +%s)
work=$(mktemp -d /tmp/sluice-bench-bigk.XXXXXX)
prefix="bench.big$run"
topic="$prefix.$db.big"
cleanup() {
  kill_sluice
  "$tools" delete-topic "$brokers" "$topic" 2>/dev/null || true
  sql "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
     CREATE TABLE $db.big (id BIGINT PRIMARY KEY, payload VARCHAR(1100)) ENGINE=InnoDB"
start=$(binlog_pos)
t0=$(now)
sql_in "$db" "SET SESSION max_statement_time=0; INSERT INTO $db.big
     SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_${rows}"
end=$(binlog_pos)
echo "wrote $rows rows in one transaction in $(seconds "$t0" "$(now)") s: binlog $start .. $end" >&2

"$tools" create-topic "$brokers" "$topic" 3
write_config "$work" "$db" "$start" "$server_id" "$(kafka_sink "$prefix.{db}.{table}")"
sluice_until "$work" "$end" 3600
in_topic=$("$tools" count "$brokers" "$topic" || echo 0)
verdict=$([ "$in_topic" -ge "$rows" ] && echo all || echo MISSING)
echo "big-transaction-kafka: size_mib=$size_mib rows=$rows in_topic=$in_topic ($verdict)" \
  "seconds=$sluice_s sluice_cpu_s=$sluice_cpu peak_rss_mib=$sluice_rss" \
  "$load_before -> $(load)"
