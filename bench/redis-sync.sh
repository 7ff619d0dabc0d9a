#!/usr/bin/env bash
# MariaDB -> Redis (sync mode, JSON values) against redis-benchmark on the same Redis, in one
# run. Writes ROWS rows (default 500000, 1000 per transaction) to the test MariaDB, then REPEATS
# times (default 3): `sluice standalone` (release build, Redis sink, mode sync, db 14) from the
# range's start until DBSIZE of db 14 is ROWS; and `redis-benchmark -P 100 -t set -n ROWS
# -d SIZE -r ROWS` (db 15, default 50 clients, SIZE = the average length of Sluice's values),
# plus the same with one client (`-c 1`), as Sluice uses one connection. Prints one result line
# per repeat. Databases 14 and 15 are flushed before and after.
#   bench/redis-sync.sh [ROWS] [REPEATS]
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rows=${1:-500000}
repeats=${2:-3}
db=sluice_bench_rs
server_id=4200301
sluice_db=14
bench_db=15
services mariadb redis
build
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing: apt-get install redis-tools" >&2; exit 1; }
rcli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
work=$(mktemp -d /tmp/sluice-bench-rs.XXXXXX)
cleanup() {
  kill_sluice
  rcli -n "$sluice_db" flushdb >/dev/null || true
  rcli -n "$bench_db" flushdb >/dev/null || true
  sql "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$work"
}
trap cleanup EXIT

prepare_rows "$db" "$rows"

# SETs per second that redis-benchmark reports (its --csv line for SET).
redis_bench() {
  rcli -n "$bench_db" flushdb >/dev/null
  redis-benchmark -h 127.0.0.1 -p "$redis_port" --dbnum "$bench_db" -P 100 -t set -n "$rows" \
    -d "$value_size" -r "$rows" --csv "$@" | awk -F'"' '/^"SET"/ {printf "%.0f", $4}'
}

for r in $(seq 1 "$repeats"); do
  rcli -n "$sluice_db" flushdb >/dev/null
  write_config "$work/$r" "$db" "$start" "$server_id" "$(printf '[[tasks.sinks]]\ntype = "redis"\nurl = "redis://127.0.0.1:%s/%s"\nmode = "sync"\n' "$redis_port" "$sluice_db")"
  load_before=$(load)
  t0=$(now)
  start_sluice "$work/$r"
  # DBSIZE every 10 ms until it reaches ROWS.
  timeout 900 redis-cli -h 127.0.0.1 -p "$redis_port" -n "$sluice_db" -r -1 -i 0.01 dbsize | awk -v n="$rows" '$1 >= n {exit}' || true
  t1=$(now)
  stop_sluice "$work/$r"
  sluice_s=$(seconds "$t0" "$t1")
  if [ "$r" = 1 ]; then
    # Average key and value length over all of Sluice's keys.
    read -r key_avg value_avg < <(rcli -n "$sluice_db" eval "
      local k, v, n = 0, 0, 0
      for _, key in ipairs(redis.call('KEYS', '*')) do
        k = k + #key; v = v + redis.call('STRLEN', key); n = n + 1
      end
      return {tostring(k / n), tostring(v / n)}" 0 | paste -sd ' ')
    value_size=$(printf '%.0f' "$value_avg")
    echo "Sluice's keys: $key_avg bytes, values $value_avg bytes on average" \
      "(e.g. $(rcli -n "$sluice_db" randomkey))" >&2
  fi
  keys=$(rcli -n "$sluice_db" dbsize)
  bench_rate=$(redis_bench)
  bench_c1_rate=$(redis_bench -c 1)
  sluice_rate=$(ratio "$rows" "$sluice_s")
  echo "redis-sync run $r: rows=$rows keys=$keys sluice_s=$sluice_s sluice_sets_per_s=$sluice_rate" \
    "sluice_cpu_s=$sluice_cpu sluice_rss_mib=$sluice_rss redis_benchmark_sets_per_s=$bench_rate" \
    "ratio=$(ratio "$sluice_rate" "$bench_rate" 3) redis_benchmark_c1_sets_per_s=$bench_c1_rate" \
    "ratio_c1=$(ratio "$sluice_rate" "$bench_c1_rate" 3) value=$value_size" \
    "$load_before -> $(load)"
done
