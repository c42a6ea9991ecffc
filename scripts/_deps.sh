# Sourced by scripts/*.sh: install what the project drives for real, only when missing.
# Debian packages via apt-get (only as root), uv from PyPI; prints what it installs.
say() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

declare -A DEB_FOR=(
  [initdb]=postgresql [s6-svscan]=s6 [execlineb]=execline [promtool]=prometheus
  [prometheus-pushgateway]=prometheus-pushgateway [victoria-metrics]=victoria-metrics
  [nix-instantiate]=nix-bin [node]=nodejs [npm]=npm
)

ensure_debian_packages() {
  local have_it missing=() bin
  for bin in "$@"; do
    have_it=0
    command -v "$bin" >/dev/null 2>&1 && have_it=1
    ls /usr/lib/postgresql/*/bin/"$bin" >/dev/null 2>&1 && have_it=1
    [ "$have_it" = 1 ] || missing+=("${DEB_FOR[$bin]}")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    say "missing Debian packages (not root, not installing): ${missing[*]}"
  fi
}

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    say "installing uv from PyPI"
    python3 -m pip install --quiet --user uv >&2 || python3 -m pip install --quiet uv >&2
    export PATH="$HOME/.local/bin:$PATH"
  fi
  say "syncing the locked environment (uv sync --locked)"
  uv sync --locked --quiet
}
