#!/usr/bin/env bash
# Fuzzes the binlog decoder for SECONDS (default 600), seeded with the fixture binlogs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus=fuzz/corpus/decode_binlog
mkdir -p "$corpus"
fixtures=${SLUICE_FIXTURES:-../shared/fixtures/mysql-binlogs}
for f in "$fixtures"/*; do
  case "$f" in *.md) continue ;; esac
  cp -n "$f" "$corpus/$(basename "$f")"
done
# cargo-fuzz passes -Z flags (sanitizer coverage); the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
cargo fuzz run decode_binlog "$corpus" -- \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576
