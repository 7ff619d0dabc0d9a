#!/usr/bin/env bash
# MariaDB -> Kafka end to end against a plain librdkafka producer, in one run on the same broker.
# Writes ROWS rows (default 500000, 1000 per transaction) to the test MariaDB, then REPEATS
# times (default 3): `sluice standalone` (release build, Kafka sink, format `sluice`, topic per
# table with 3 partitions) from the range's start until the topic's high watermarks add up to
# ROWS; and `raw-producer produce` sending ROWS messages of Sluice's average key and value size
# with the sink's producer settings to a topic of its own. Prints one result line per repeat.
# Both are timed until the broker acknowledged every message: Sluice until its checkpoint
# reaches the range's end (it checkpoints only what every sink has acknowledged), the producer
# until its flush returns. The topics' message counts are checked afterwards.
#   bench/kafka-throughput.sh [ROWS] [REPEATS]
# BENCH_KEY_BYTES / BENCH_VALUE_BYTES: the raw producer's sizes when Sluice's messages cannot be
# sampled (55 / 435 for this table in the format `sluice`).
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rows=${1:-500000}
repeats=${2:-3}
db=sluice_bench_kt
server_id=4200101
services mariadb kafka
build
run=$(date +%s)
work=$(mktemp -d /tmp/sluice-bench-kt.XXXXXX)
topics=()
cleanup() {
  kill_sluice
  for t in "${topics[@]}"; do "$tools" delete-topic "$brokers" "$t" || true; done
  sql "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

prepare_rows "$db" "$rows"

for r in $(seq 1 "$repeats"); do
  # Sluice.
  prefix="bench.kt$run.$r"
  topic="$prefix.$db.t"
  topics+=("$topic")
  "$tools" create-topic "$brokers" "$topic" 3
  write_config "$work/$r" "$db" "$start" "$server_id" "$(kafka_sink "$prefix.{db}.{table}")"
  sluice_until "$work/$r" "$end" 1800
  in_topic=$("$tools" count "$brokers" "$topic" || echo unknown)
  if [ "$r" = 1 ]; then
    read -r key_avg value_avg < <("$tools" sizes "$brokers" "$topic" 5000 |
      sed 's/.*key_avg=\([0-9.]*\) value_avg=\([0-9.]*\)/\1 \2/')
    key_size=$(printf '%.0f' "${BENCH_KEY_BYTES:-$key_avg}")
    value_size=$(printf '%.0f' "${BENCH_VALUE_BYTES:-$value_avg}")
    if [ "$value_size" = 0 ]; then
      # Tansu serves topics made of many small batches very slowly (see bench/README.md).
      echo "could not sample Sluice's messages: set BENCH_KEY_BYTES and BENCH_VALUE_BYTES" >&2
      exit 1
    fi
    echo "Sluice's messages: key $key_avg bytes, value $value_avg bytes on average (5000 from the middle)" >&2
  fi
  # The raw producer, same count and sizes, own topic.
  raw_topic="bench.kt$run.$r.raw"
  topics+=("$raw_topic")
  "$tools" create-topic "$brokers" "$raw_topic" 3
  raw=$("$tools" produce "$brokers" "$raw_topic" "$rows" "$key_size" "$value_size")
  raw_s=${raw#*seconds=}
  raw_s=${raw_s%% *}
  raw_count=$("$tools" count "$brokers" "$raw_topic")
  sluice_rate=$(ratio "$rows" "$sluice_s")
  raw_rate=$(ratio "$rows" "$raw_s")
  echo "kafka-throughput run $r: rows=$rows sluice_s=$sluice_s sluice_msgs_per_s=$sluice_rate in_topic=$in_topic" \
    "sluice_cpu_s=$sluice_cpu sluice_rss_mib=$sluice_rss raw_s=$raw_s raw_msgs_per_s=$raw_rate" \
    "raw_in_topic=$raw_count ratio=$(ratio "$sluice_rate" "$raw_rate" 3)" \
    "key=$key_size value=$value_size $load_before -> $(load)"
  for t in "$topic" "$raw_topic"; do "$tools" delete-topic "$brokers" "$t" || true; done
  topics=()
done
