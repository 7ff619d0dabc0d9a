#!/usr/bin/env bash
# Install the test services: install.sh [SERVICE...] (default: all five), plus the Debian
# packages the Rust build links against. Fast no-op when everything is there already.
set -euo pipefail
SVC=install
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(mariadb zookeeper kafka redis postgres)
if [ "$#" -gt 0 ]; then services=("$@"); else services=("${ALL[@]}"); fi
for s in "${services[@]}"; do
  [ -f "$SVC_SCRIPTS_DIR/$s.sh" ] || die "unknown service '$s' (known: ${ALL[*]})"
done

t0=$(now)
# openssl-sys, libz-sys and rdkafka's bundled build need these; the image usually has them.
# openssl (the CLI) makes the TLS test's certificate; g++ and make build bundled C code.
# docker-compose (v1, no engine needed) only parses compose.yaml: scripts/test.sh checks it.
pkgs=(pkg-config libssl-dev zlib1g-dev openssl g++ make docker-compose)
# The full install (no service named, as scripts/test.sh asks) adds chromium, with a font for
# legible screenshots, for the web UI's browser tests (tests/web_ui.rs through playwright-core,
# which downloads no browser of its own).
[ "$#" -eq 0 ] && pkgs+=(chromium fonts-dejavu-core)
# One apt transaction for everything missing: each apt-get run costs seconds of dpkg triggers.
for s in "${services[@]}"; do
  read -ra more <<< "$(bash "$SVC_SCRIPTS_DIR/$s.sh" packages)"
  pkgs+=("${more[@]}")
done
apt_install "${pkgs[@]}"
# Then each service's own steps (the apt part now finds its packages; kafka makes its venv).
for s in "${services[@]}"; do
  bash "$SVC_SCRIPTS_DIR/$s.sh" install
done
log "done in $(since "$t0"): ${services[*]}"
