#!/usr/bin/env bash
# Main job on embedded defaults: the whole appliance locally under a real s6-svscan --
# signed configuration (fail closed), PostgreSQL with one locked-down role per node, the price
# aggregator on 127.0.0.1:3000 and the process-metrics exporter on 127.0.0.1:3003.
# Chainlink nodes start too when a `chainlink` binary is on PATH. Ctrl-C (or kill -TERM of
# this script's pid: uv passes it on) stops it in reverse dependency order.
# Usage: bash scripts/up.sh [sealfeed up args...]
#   state dir: $SEALFEED_STATE, else sealfeed's per-user default ($XDG_STATE_HOME/sealfeed/up,
#   i.e. ~/.local/state/sealfeed/up; /var/lib/sealfeed/up for root), printed at start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_deps.sh

ensure_debian_packages initdb s6-svscan execlineb
ensure_uv

args=(--embedded-defaults)
if [ -n "${SEALFEED_STATE:-}" ]; then
  args+=(--state-dir "$SEALFEED_STATE")
fi
exec uv run --no-sync sealfeed up "${args[@]}" "$@"
