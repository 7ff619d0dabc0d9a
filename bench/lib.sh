# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are for the scripts that source it
# Shared by the sink benchmarks (kafka-throughput.sh, kafka-latency.sh, redis-sync.sh,
# big-transaction-kafka.sh): services, builds, SQL, a `sluice standalone` in the background with
# its CPU time and peak RSS, and the load note each result carries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/sluice-target}
sluice=${SLUICE_BIN:-$CARGO_TARGET_DIR/release/sluice}
# The helpers of bench/raw-producer (raw producer, topics, watermarks, paced writer, latency).
tools=$CARGO_TARGET_DIR/release/raw-producer

# Release builds of Sluice (unless SLUICE_BIN names a binary) and of the helpers (not a
# workspace member: its own manifest).
build() {
  [ -n "${SLUICE_BIN:-}" ] || cargo build --release --quiet --bin sluice
  cargo build --release --quiet --manifest-path bench/raw-producer/Cargo.toml
}

# Starts the named test services (idempotent) and reads their addresses.
services() {
  bash tests/services/start.sh "$@" >/dev/null
  # shellcheck disable=SC1091
  source "${SLUICE_SVC_DIR:-/tmp/sluice-svc}/env.sh"
  port=${SLUICE_MARIADB_PORT:-13306}
  brokers=${SLUICE_TEST_KAFKA:-127.0.0.1:19092}
  redis_port=${SLUICE_REDIS_PORT:-16379}
}

sql() { mariadb -h127.0.0.1 -P"$port" -uroot -N -e "$1"; }
# SQL in database $1 (the sequence engine's seq_1_to_N tables need a current database).
sql_in() { mariadb -h127.0.0.1 -P"$port" -uroot -N -D "$1" -e "$2"; }
binlog_pos() { sql "SHOW MASTER STATUS" | awk '{print $1":"$2}'; }
now() { echo "$EPOCHREALTIME"; }
# b - a, in seconds with 3 decimals.
seconds() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
# x / y with the given decimals.
ratio() { awk -v x="$1" -v y="$2" -v d="${3:-0}" 'BEGIN {printf "%.*f", d, x / y}'; }
load() { uptime | sed 's/.*load average: /load=/; s/, /\//g'; }

# Fills DB.TABLE with ROWS rows in transactions of 1000 (multi-row INSERT ... SELECT from the
# sequence engine); the table must have the throughput columns (see throughput_table).
throughput_table() {
  sql "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
       CREATE TABLE $1.t (id BIGINT PRIMARY KEY, account INT NOT NULL, name VARCHAR(64),
         amount DECIMAL(12,2), created DATETIME(6), note VARCHAR(255)) ENGINE=InnoDB"
}
fill_rows() {
  local table=$1 rows=$2 from
  for ((from = 1; from <= rows; from += 1000)); do
    local to=$((from + 999 > rows ? rows : from + 999))
    echo "INSERT INTO $table SELECT seq, seq % 10007, CONCAT('customer-', seq),
      seq % 100000 / 100, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,
      REPEAT(CHAR(97 + seq % 26), 120) FROM seq_${from}_to_${to};"
  done | mariadb -h127.0.0.1 -P"$port" -uroot -D "${table%%.*}"
}

# Makes DB.t (see throughput_table) with ROWS rows; sets start and end, the binlog positions
# before and after.
prepare_rows() {
  local t0
  throughput_table "$1"
  start=$(binlog_pos)
  t0=$(now)
  fill_rows "$1.t" "$2"
  end=$(binlog_pos)
  echo "wrote $2 rows in $(seconds "$t0" "$(now)") s: binlog $start .. $end" >&2
}

# Writes a standalone config to DIR/sluice.toml: one task reading the tables of DB from START
# into the sink given as TOML lines. SLUICE_TASK_EXTRA: more lines for the task's table, e.g.
# `queue_max_mib = 16`.
write_config() {
  local dir=$1 db=$2 start=$3 server_id=$4 sink=$5
  mkdir -p "$dir"
  cat > "$dir/sluice.toml" <<EOF
data_dir = "$dir/data"

[[tasks]]
name = "bench"
${SLUICE_TASK_EXTRA:-}

[tasks.source]
url = "$SLUICE_TEST_MYSQL_URL"
server_id = $server_id
start = "$start"

[tasks.filters]
include = ["$db\\\\..*"]

$sink
EOF
}

# A Kafka sink's TOML for topic template TOPIC. BENCH_KAFKA_PROPERTIES: librdkafka properties
# for it as `key=value` words, e.g. `queue.buffering.max.kbytes=8192`.
kafka_sink() {
  local kv
  printf '[[tasks.sinks]]\ntype = "kafka"\nbrokers = "%s"\ntopic = "%s"\nformat = "sluice"\n' \
    "$brokers" "$1"
  if [ -n "${BENCH_KAFKA_PROPERTIES:-}" ]; then
    printf '[tasks.sinks.properties]\n'
    for kv in $BENCH_KAFKA_PROPERTIES; do printf '"%s" = "%s"\n' "${kv%%=*}" "${kv#*=}"; done
  fi
}

# Starts `sluice standalone` on DIR/sluice.toml in the background (log: DIR/sluice.log) and sets
# sluice_pid.
start_sluice() {
  SLUICE_LOG=${SLUICE_LOG:-info} "$sluice" standalone --config "$1/sluice.toml" \
    > /dev/null 2> "$1/sluice.log" < /dev/null &
  sluice_pid=$!
}

# Waits until the task's checkpoint (DIR/data/bench/checkpoint.json) is at or past FILE:POS,
# checking every 20 ms without forking, and sets done_at (Unix seconds). Sluice only checkpoints
# a position once every sink has acknowledged everything before it (the Kafka sink: every
# message acked by the broker with acks=all), so this is when the range is delivered. Fails
# after TIMEOUT_S seconds.
wait_checkpoint() {
  local file="$1/data/bench/checkpoint.json" want_file=${2%:*} want_pos=${2##*:} text
  local re='"file":[[:space:]]*"([^"]*)",[[:space:]]*"pos":[[:space:]]*([0-9]+)' deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    if [ -f "$file" ] && text=$(< "$file") && [[ $text =~ $re ]]; then
      # Binlog files of one server compare by their numeric suffix.
      if ((10#${BASH_REMATCH[1]##*.} > 10#${want_file##*.})) ||
        { [ "${BASH_REMATCH[1]}" = "$want_file" ] && ((BASH_REMATCH[2] >= want_pos)); }; then
        done_at=$(now)
        return 0
      fi
    fi
    sleep 0.02
  done
  echo "no checkpoint at $2 within $3 s; Sluice's log:" >&2
  tail -20 "$1/sluice.log" >&2
  return 1
}

# Runs Sluice on DIR/sluice.toml until its checkpoint passes END (see wait_checkpoint; at most
# TIMEOUT_S seconds). Sets sluice_s (from process start), load_before, sluice_cpu, sluice_rss.
sluice_until() {
  local t0
  load_before=$(load)
  t0=$(now)
  start_sluice "$1"
  wait_checkpoint "$1" "$2" "$3"
  stop_sluice "$1"
  sluice_s=$(seconds "$t0" "$done_at")
}

# For the scripts' cleanup: ends a Sluice still running.
kill_sluice() {
  if [ -n "${sluice_pid:-}" ]; then kill "$sluice_pid" 2>/dev/null || true; fi
}

# CPU seconds (user + system) and peak RSS (VmHWM, MiB) of the running Sluice, then SIGTERM and
# wait. Sets sluice_cpu and sluice_rss.
stop_sluice() {
  local tick
  tick=$(getconf CLK_TCK)
  if ! kill -0 "$sluice_pid" 2>/dev/null; then
    echo "sluice ended early; its log:" >&2
    tail -20 "$1/sluice.log" >&2
    return 1
  fi
  sluice_cpu=$(awk -v t="$tick" '{printf "%.2f", ($14 + $15) / t}' "/proc/$sluice_pid/stat")
  sluice_rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$sluice_pid/status")
  kill -TERM "$sluice_pid"
  wait "$sluice_pid" || true
}
