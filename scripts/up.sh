#!/usr/bin/env bash
# Main job on embedded defaults: the whole appliance locally under a real s6-svscan --
# signed configuration (fail closed), PostgreSQL with one locked-down role per node, the price
# aggregator on 127.0.0.1:3000 and the process-metrics exporter on 127.0.0.1:3003.
# Chainlink nodes start too when a `chainlink` binary is on PATH. Ctrl-C stops it in order.
# Usage: bash scripts/up.sh [sealfeed up args...]   (state: $SEALFEED_STATE, default /tmp/sealfeed-up)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_deps.sh

ensure_debian_packages initdb s6-svscan execlineb
ensure_uv

state="${SEALFEED_STATE:-/tmp/sealfeed-up}"
mkdir -p "$(dirname "$state")"
say "state dir: $state  (status: uv run sealfeed status --state-dir $state)"
exec uv run --no-sync sealfeed up --embedded-defaults --state-dir "$state" "$@"
