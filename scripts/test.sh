#!/usr/bin/env bash
# The test command: installs what the tests need (test services, build packages), starts the
# services on their own loopback ports, and runs every test of the workspace against them.
# Re-runnable; services already running are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/services/install.sh
bash tests/services/start.sh
# shellcheck disable=SC1091
source "${SLUICE_SVC_DIR:-/tmp/sluice-svc}/env.sh"

# compose.yaml: no Docker engine runs here, so it is parsed and checked, not run.
if command -v docker-compose > /dev/null; then
  docker-compose -f compose.yaml config -q
fi

# The web UI first: the manager embeds web/dist in the binary the tests run.
bash scripts/build-web.sh

# A build cache outside the clone lets a warm machine reuse earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/sluice-target}"
cargo test --workspace --all-targets --no-fail-fast "$@"
