#!/usr/bin/env bash
# Main job on embedded defaults (see README): the appliance's trust chain, end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  echo "[demo] installing uv from PyPI" >&2
  python3 -m pip install --quiet uv >&2
fi
uv sync --locked --quiet
exec uv run --no-sync python -m sealfeed.demo "$@"
