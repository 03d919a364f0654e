#!/usr/bin/env bash
# npm run demo — the hub, end to end, on this machine: install if needed, build, then run
# scripts/demo.ts (creates and migrates its database, starts the hub and the Zoom
# simulator, captures a 3-participant meeting, prints a report). Needs PostgreSQL and
# Redis on localhost, or DEMO_DATABASE_URL / DEMO_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then
  echo "==> installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/scripts/demo.js ] || [ -n "$(find src scripts migrations package.json -newer dist/scripts/demo.js -print -quit)" ]; then
  echo "==> building"
  npm run build --silent
fi
exec node dist/scripts/demo.js
