#!/usr/bin/env bash
# The trust chain on embedded defaults: sign + verify the example configuration (both
# schemes, tampering rejected), then verify the real TDX/SGX quotes in ../shared/tdx-samples.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_deps.sh
ensure_uv
exec uv run --no-sync python -m sealfeed.demo "$@"
