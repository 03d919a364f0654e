#!/usr/bin/env bash
# npm run demo — installs dependencies if needed, builds if the build is missing or older
# than the sources, then runs the demo (scripts/demo.ts, compiled to dist/scripts/demo.js).
# Needs PostgreSQL and Redis on localhost (or DEMO_DATABASE_URL / DEMO_REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then
  echo "[demo] installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

needs_build=0
if [ ! -f dist/scripts/demo.js ] || [ ! -f dist/src/main.js ]; then
  needs_build=1
elif [ -n "$(find src scripts bench migrations package.json tsconfig.json tsconfig.build.json -newer dist/scripts/demo.js -print -quit 2>/dev/null)" ]; then
  needs_build=1
fi
if [ "$needs_build" = 1 ]; then
  echo "[demo] building (npm run build)"
  npm run build
  touch dist/scripts/demo.js
fi

exec node dist/scripts/demo.js
