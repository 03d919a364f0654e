#!/usr/bin/env bash
# Installs Debian packages quietly. The package lists are usually there already, so they are
# refreshed (apt-get update, the slow part) only when the install fails without it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
