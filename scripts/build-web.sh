#!/usr/bin/env bash
# Builds the web UI (web/ -> web/dist/), which the manager embeds in the sluice binary: build it
# before `cargo build` so the binary carries it. Needs Node.js 20 or later and npm. `npm ci`
# runs only when web/node_modules is older than web/package-lock.json (or missing).
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "build-web: Node.js 20+ and npm are needed to build the web UI (https://nodejs.org," \
    "or Debian's nodejs from a current release)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "build-web: Node.js $(node --version) is too old: the web UI needs 20 or later" >&2
  exit 1
fi

# npm ci writes node_modules/.package-lock.json: newer than the lock file means current.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
