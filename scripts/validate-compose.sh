#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine: `docker compose config` when the
# plugin exists, else Debian's docker-compose (installed on demand; `config` is offline).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp_env=""
if [ ! -f .env ]; then tmp_env=1; cp .env.example .env; fi
trap '[ -n "$tmp_env" ] && rm -f .env' EXIT
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q
else
  command -v docker-compose >/dev/null 2>&1 || bash scripts/apt-install.sh docker-compose
  docker-compose -f docker-compose.yml config -q
fi
echo "docker-compose.yml is valid"
