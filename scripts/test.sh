#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then lint + pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test.sh] %s\n' "$*" >&2; }

# Debian packages the tests drive for real (only installed when missing, only as root).
declare -A DEB_FOR=(
  [initdb]=postgresql [s6-svscan]=s6 [execlineb]=execline [promtool]=prometheus
  [prometheus-pushgateway]=prometheus-pushgateway [victoria-metrics]=victoria-metrics
  [nix-instantiate]=nix-bin [node]=nodejs [npm]=npm
)
have() { command -v "$1" >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/"$1" >/dev/null 2>&1; }
missing=()
for bin in "${!DEB_FOR[@]}"; do have "$bin" || missing+=("${DEB_FOR[$bin]}"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    say "missing Debian packages (not root, not installing): ${missing[*]} -- tests needing them will skip loudly"
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  say "installing uv from PyPI"
  python3 -m pip install --quiet --user uv >&2 || python3 -m pip install --quiet uv >&2
  export PATH="$HOME/.local/bin:$PATH"
fi

say "syncing the locked environment (uv sync --locked)"
uv sync --locked --quiet

say "ruff check"
uv run --no-sync ruff check src tests bench attest

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
