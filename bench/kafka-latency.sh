#!/usr/bin/env bash
# Commit-to-consume latency through the Kafka sink at a steady write rate. REPEATS times
# (default 3): `sluice standalone` (release build, Kafka sink, format `sluice`) follows the test
# MariaDB from the current position into a fresh topic (3 partitions); a paced writer commits
# RATE rows/s (default 10000) for SECONDS (default 30), ROWS_PER_TX rows per autocommit INSERT
# (default 100: one connection managed only ~2,800 rows/s in 10-row commits on the 2-core test
# machine), each row carrying `committed_at DATETIME(6)`, the writer's UTC clock read right
# before the INSERT is sent; a consumer reading the topic from the start takes receive time
# minus committed_at for every row. That bounds commit-to-ack from above: it also holds the
# statement's own execution, the broker's fetch path and the consumer (fetch.wait.max.ms=10).
#   bench/kafka-latency.sh [RATE] [SECONDS] [ROWS_PER_TX] [REPEATS]
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rate=${1:-10000}
secs=${2:-30}
per_tx=${3:-100}
repeats=${4:-3}
rows=$((rate * secs / per_tx * per_tx))
db=sluice_bench_kl
server_id=4200201
services mariadb kafka
build
run=$(date +%s)
work=$(mktemp -d /tmp/sluice-bench-kl.XXXXXX)
topic=
cleanup() {
  kill_sluice
  [ -n "$topic" ] && { "$tools" delete-topic "$brokers" "$topic" || true; }
  sql "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

for r in $(seq 1 "$repeats"); do
  sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
       CREATE TABLE $db.t (id BIGINT PRIMARY KEY, committed_at DATETIME(6) NOT NULL,
         payload VARCHAR(200)) ENGINE=InnoDB"
  prefix="bench.kl$run.$r"
  topic="$prefix.$db.t"
  "$tools" create-topic "$brokers" "$topic" 3
  write_config "$work/$r" "$db" "$(binlog_pos)" "$server_id" "$(kafka_sink "$prefix.{db}.{table}")"
  start_sluice "$work/$r"
  "$tools" latency "$brokers" "$topic" "$rows" committed_at 20 > "$work/latency.out" &
  consumer=$!
  sleep 2   # Sluice connected, the consumer assigned
  load_before=$(load)
  writer=$("$tools" write-paced "$SLUICE_TEST_MYSQL_ROOT_URL/$db" "$db.t" "$rate" "$secs" "$per_tx")
  load_after=$(load)
  wait "$consumer"
  stop_sluice "$work/$r"
  echo "kafka-latency run $r: $(cat "$work/latency.out") writer: $writer" \
    "sluice_cpu_s=$sluice_cpu sluice_rss_mib=$sluice_rss $load_before -> $load_after"
  "$tools" delete-topic "$brokers" "$topic" || true
  topic=
done
