#!@shell@
# sealfeed /init (ADR 0080): PID 1 of the appliance container.
#
# 1. The trusted key is the image's own file (@pubkey@, part of the measured image), never an
#    injected environment variable: CONFIGURATION_PUBLIC_KEY is reset from that file for every
#    child. Nothing starts unless the signed configuration verifies against it.
# 2. The s6-rc source tree is the one baked at build time under @treeroot@ if the image has
#    one; otherwise `sealfeed s6 render` writes it now into @run@/s6/tree from the
#    configuration that was just verified (ADR 0085). Either way `sealfeed s6 check` validates
#    it, s6-rc-compile compiles it, s6-svscan replaces this script on @run@/service, and the
#    `user` bundle is brought up.
# 3. SIGTERM/SIGINT/SIGQUIT (docker stop), a failed start, or a service that exhausted its
#    restart budget (its finish script calls @run@/s6/basedir/bin/halt, s6-overlay's path) run
#    sealfeed-halt: s6-rc stops everything in reverse dependency order, then s6-svscan exits
#    through its finish script with the code in
#    @run@/s6-linux-init-container-results/exitcode (s6-overlay's file).
set -eu
PATH=@path@
export PATH

results=@run@/s6-linux-init-container-results
scandir=@run@/service
config=${CONFIGURATION_PATH:-/sp/configurations/configuration.json}
pubkey=@pubkey@
mkdir -p "$results" "$scandir/.s6-svscan" @run@/s6/basedir/bin
printf '0\n' > "$results/exitcode"

fail() {
  printf '%s\n' "${2:-1}" > "$results/exitcode"
  echo "sealfeed-init: $1" >&2
  exit "${2:-1}"
}

CONFIGURATION_PUBLIC_KEY=$(cat "$pubkey") || fail "cannot read the image's public key $pubkey"
export CONFIGURATION_PUBLIC_KEY
unset CONFIGURATION_PUBLIC_KEY_FILE

sealfeed config verify "$config" --pubkey "$pubkey" \
  || fail "configuration did not verify; nothing was started"

root=@treeroot@
if [ ! -d "$root/s6-rc.d" ]; then
  root=@run@/s6/tree
  sealfeed s6 render --config "$config" --pubkey "$pubkey" --mode image \
    --out "$root" --tree-root "$root" || fail "cannot render the service tree"
fi
sealfeed s6 check "$root" || fail "the service tree is invalid"

rm -rf @run@/s6/compiled
s6-rc-compile @run@/s6/compiled "$root/s6-rc.d" || fail "s6-rc-compile failed"
ln -sf "$(command -v sealfeed-halt)" @run@/s6/basedir/bin/halt

# s6-svscan spawns .s6-svscan/SIG<name> when it receives that signal and execs
# .s6-svscan/finish when it exits (s6-svscan.html, "Signals" and "finish").
for sig in SIGTERM SIGINT SIGQUIT; do
  cat > "$scandir/.s6-svscan/$sig" <<SCRIPT
#!@shell@
PATH=@path@
exec sealfeed-halt
SCRIPT
  chmod 0755 "$scandir/.s6-svscan/$sig"
done
cat > "$scandir/.s6-svscan/finish" <<SCRIPT
#!@shell@
code=111
read -r code < "$results/exitcode" || true
exit "\$code"
SCRIPT
chmod 0755 "$scandir/.s6-svscan/finish"

(
  # s6-rc-init needs a running s6-svscan on the scandir: wait for its control FIFO (5 s).
  i=0
  until [ -p "$scandir/.s6-svscan/control" ]; do
    i=$((i + 1))
    if [ "$i" -ge 500 ]; then
      echo "sealfeed-init: s6-svscan did not start" >&2
      exit 1
    fi
    sleep 0.01
  done
  s6-rc-init -c @run@/s6/compiled -l @run@/s6/rc "$scandir"
  if ! s6-rc -l @run@/s6/rc -u change user; then
    echo "sealfeed-init: the user bundle failed to start" >&2
    printf '1\n' > "$results/exitcode"
    exec sealfeed-halt
  fi
) &

exec s6-svscan "$scandir"
