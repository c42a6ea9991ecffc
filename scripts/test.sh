#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then lint, types, pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_deps.sh

ensure_debian_packages initdb s6-svscan execlineb promtool prometheus-pushgateway \
  victoria-metrics nix-instantiate node npm
ensure_uv

say "ruff check + format"
uv run --no-sync ruff check src tests bench attest scripts
uv run --no-sync ruff format --check --quiet src tests bench attest scripts

say "mypy (strict)"
uv run --no-sync mypy

say "pytest"
set +e
uv run --no-sync pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  say "pytest collected no tests: that is a failure"
  exit 1
fi
exit "$rc"
