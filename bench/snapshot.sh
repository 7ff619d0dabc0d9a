#!/usr/bin/env bash
# Snapshot speed: one table of ROWS rows (default 1000000; BIGINT key, VARCHAR, DECIMAL,
# DATETIME, a TEXT of about 100 bytes), read in one run by `mariadb-dump --quick` to /dev/null
# and by a `sluice standalone` task with `snapshot.mode = "initial"` and a file sink to /dev/null
# until its log says the snapshot is complete (timed from the process start). The two take
# turns ROUNDS times (default 5): this machine is shared and one reading of each varies by a
# quarter from run to run, so the ratio is that of the medians. Prints each round, the medians'
# rows/s and their ratio; the target is Sluice >= 80% of mariadb-dump. The file sink writes to
# stdout, which goes to /dev/null (a file sink on /dev/null itself fails: it cannot be
# fsynced). SLUICE_CHUNK_ROWS and SLUICE_READERS set the task's chunk_rows and readers
# (default: the task defaults, 8192 and 2).
#   bench/snapshot.sh [ROWS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
rows=${1:-1000000}
rounds=${2:-5}
db=sluice_bench_snapshot
dir=$(mktemp -d /tmp/sluice-bench-snapshot.XXXXXX)
cleanup() {
  kill_sluice
  sql "DROP DATABASE IF EXISTS $db" || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Sluice only (lib.sh's build also makes the Kafka helpers, not needed here).
[ -n "${SLUICE_BIN:-}" ] || cargo build --release --quiet --bin sluice
services mariadb
# A table of the right size left by an interrupted run is reused.
if [ "$(sql "SELECT COUNT(*) FROM $db.t" 2>/dev/null || echo 0)" != "$rows" ]; then
  sql "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
       CREATE TABLE $db.t (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12,2),
         created DATETIME, note TEXT) ENGINE=InnoDB"
  t0=$(now)
  for ((from = 1; from <= rows; from += 100000)); do
    to=$((from + 99999 > rows ? rows : from + 99999))
    sql_in "$db" "INSERT INTO t SELECT seq, CONCAT('customer-', seq), seq % 100000 / 100,
      TIMESTAMP('2026-01-01') + INTERVAL seq SECOND, REPEAT(CHAR(97 + seq % 26), 100)
      FROM seq_${from}_to_${to}"
  done
  echo "loaded $rows rows in $(seconds "$t0" "$(now)") s" >&2
fi
# Both readers start from a warm buffer pool: one full scan first.
sql "SELECT COUNT(*), SUM(LENGTH(note)) FROM $db.t" > /dev/null

chunk=${SLUICE_CHUNK_ROWS:+chunk_rows = $SLUICE_CHUNK_ROWS}
readers=${SLUICE_READERS:+readers = $SLUICE_READERS}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
dump_times=()
sluice_times=()
for ((round = 1; round <= rounds; round++)); do
  load_before=$(load)
  t0=$(now)
  mariadb-dump -h127.0.0.1 -P"$port" -uroot --quick --single-transaction "$db" t > /dev/null
  dump_s=$(seconds "$t0" "$(now)")
  dump_times+=("$dump_s")
  echo "round $round mariadb-dump: s=$dump_s rows_per_s=$(ratio "$rows" "$dump_s") $load_before/$(load)"

  # A fresh task each round (no checkpoint: the snapshot starts over).
  rm -rf "$dir/data"
  write_config "$dir" "$db" current 4800950 \
    "$(printf '[[tasks.sinks]]\ntype = "file"\npath = "-"\n\n[tasks.snapshot]\nmode = "initial"\nsignal_table = "%s.watermarks"\n%s\n%s\n' "$db" "$chunk" "$readers")"
  load_before=$(load)
  t0=$(now)
  start_sluice "$dir"
  deadline=$((SECONDS + 1800))
  until grep -qs "Snapshot complete" "$dir/sluice.log"; do
    if ! kill -0 "$sluice_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "the snapshot did not complete; Sluice's log:" >&2
      tail -20 "$dir/sluice.log" >&2
      exit 1
    fi
    sleep 0.02
  done
  sluice_s=$(seconds "$t0" "$(now)")
  stop_sluice "$dir"
  sluice_times+=("$sluice_s")
  echo "round $round sluice: s=$sluice_s rows_per_s=$(ratio "$rows" "$sluice_s") cpu_s=$sluice_cpu rss_mib=$sluice_rss $load_before/$(load)"
done
dump_s=$(median "${dump_times[@]}")
sluice_s=$(median "${sluice_times[@]}")
echo "snapshot mariadb-dump: rows=$rows median_s=$dump_s rows_per_s=$(ratio "$rows" "$dump_s")"
echo "snapshot sluice: rows=$rows median_s=$sluice_s rows_per_s=$(ratio "$rows" "$sluice_s")"
echo "snapshot ratio: sluice/mariadb-dump=$(ratio "$dump_s" "$sluice_s" 2) (target >= 0.80)"
