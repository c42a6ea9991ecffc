#!@shell@
# sealfeed /init (ADRs 0080, 0100-0102): PID 1 of the appliance container.
#
# 1. The trusted key is the image's own file (@pubkey@, part of the measured image), never an
#    injected environment variable: CONFIGURATION_PUBLIC_KEY is reset from that file for every
#    child.
# 2. `sealfeed s6 render` verifies the signed configuration against that key, refuses one the
#    image was not built for (@layout@: node slots, ports, directories, accounts) and writes
#    the s6-rc source tree into @run@/s6/tree. On any refusal nothing starts: the one-line
#    cause is in @run@/s6-linux-init-container-results/cause and the exit code is the
#    verifier's (1 bad signature, 2 malformed or not for this image). A tree baked at build
#    time under @treeroot@ (ADR 0085) is run instead of the fresh one when present.
# 3. `sealfeed s6 check`, s6-rc-compile, then s6-svscan replaces this script on
#    @run@/service; a background subshell runs s6-rc-init and `s6-rc -u change user`, which
#    starts every service in dependency order, waiting for each one's readiness.
# 4. SIGTERM/SIGINT/SIGQUIT (docker stop), a failed start, or a service that exhausted its
#    restart budget (its finish script runs @run@/s6/basedir/bin/halt) run sealfeed-halt:
#    s6-rc stops everything in reverse dependency order, then s6-svscan exits through
#    .s6-svscan/finish, which reports any process still alive and exits with the code in
#    @run@/s6-linux-init-container-results/exitcode.
set -eu
PATH=@path@
export PATH

run=@run@
results=$run/s6-linux-init-container-results
scandir=$run/service
config=${CONFIGURATION_PATH:-/sp/configurations/configuration.json}
pubkey=@pubkey@
layout=@layout@
tree=$run/s6/tree

# a new boot (a restarted container keeps its filesystem): no old cause, live state or links
rm -rf "$results" "$scandir" "$run/s6"
mkdir -p "$results" "$scandir/.s6-svscan" "$run/s6/basedir/bin"
printf '0\n' > "$results/exitcode"

fail() {
  printf '%s\n' "$2" > "$results/exitcode"
  echo "sealfeed-init: $1 (exit $2)" >&2
  exit "$2"
}

CONFIGURATION_PUBLIC_KEY=$(cat "$pubkey") || fail "cannot read the image's public key $pubkey" 1
export CONFIGURATION_PUBLIC_KEY
unset CONFIGURATION_PUBLIC_KEY_FILE

# One DON over several VMs (ADR 0142): this VM's name in sealfeed.placement is a deploy-time
# input outside the signed configuration -- env SEALFEED_VM, else a file `sealfeed-vm` in one
# of the order's data inputs (Super Protocol mounts them read-only at @inputs@/input-NNNN; the
# file may sit one directory down, as an uploaded archive with a top directory unpacks).
# render checks it against the placement and refuses a multi-VM configuration without it.
vm=${SEALFEED_VM:-}
if [ -z "$vm" ]; then
  for f in @inputs@/*/sealfeed-vm @inputs@/*/*/sealfeed-vm; do
    [ -f "$f" ] || continue
    read -r name < "$f" || true
    [ -n "$vm" ] && [ "$vm" != "$name" ] && fail "order inputs name two VMs: $vm, $name" 2
    vm=$name
  done
fi
set --
[ -n "$vm" ] && set -- --vm "$vm"
sealfeed s6 render --config "$config" --pubkey "$pubkey" --layout "$layout" --mode image \
  --run-dir "$run" --out "$tree" --tree-root "$tree" --record-cause "$results" "$@" \
  || fail "configuration rejected; nothing was started" "$?"
root=$tree
if [ -z "$vm" ] && [ -d @treeroot@/s6-rc.d ]; then
  root=@treeroot@ # (a baked tree is the whole DON's: never one VM's)
fi
sealfeed s6 check "$root" || fail "the service tree $root is invalid; nothing was started" 1

s6-rc-compile "$run/s6/compiled" "$root/s6-rc.d" || fail "s6-rc-compile failed" 1
ln -sf "$(command -v sealfeed-halt)" "$run/s6/basedir/bin/halt"

# Every service inherits where the live scandir, the source tree and the attestation document
# are (the exporter reads them; sealfeed.s6.runtime.Runtime.service_env, which `sealfeed up` sets the same way).
SEALFEED_SCANDIR=$scandir
SEALFEED_S6_SOURCE_DIR=$root/s6-rc.d
SEALFEED_ATTESTATION=$run/sealfeed/attestation.json
export SEALFEED_SCANDIR SEALFEED_S6_SOURCE_DIR SEALFEED_ATTESTATION

# s6-svscan spawns .s6-svscan/SIG<name> when it receives that signal and execs
# .s6-svscan/finish when it exits (s6-svscan.html, "Signals" and "Notes").
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
# Runs as PID 1 once the supervision tree is gone. When PID 1 exits the kernel kills every
# process left in the container without a word: name them first. A process that is just
# exiting (the s6-svscanctl that asked for this exit) gets up to 1 s to be gone.
code=111
read -r code < "$results/exitcode" || true
scan() {
  left=0
  for p in /proc/[0-9]*; do
    [ "\${p#/proc/}" = 1 ] && continue
    stat=
    read -r stat 2>/dev/null < "\$p/stat" || continue
    case "\${stat##*) }" in Z*) continue ;; esac
    comm=?
    read -r comm 2>/dev/null < "\$p/comm" || true
    [ "\$1" = report ] && echo "sealfeed-init: still running at exit: pid \${p#/proc/} (\$comm)" >&2
    left=\$((left + 1))
  done
}
left=0
if [ "\$\$" = 1 ]; then
  for try in 1 2 3 4 5; do
    scan count
    [ "\$left" = 0 ] && break
    sleep 0.2
  done
  [ "\$left" = 0 ] || scan report
fi
printf '%s\n' "\$left" > "$run/s6/leftovers"
echo "sealfeed-init: supervision tree stopped, exit code \$code" >&2
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
      printf '111\n' > "$results/exitcode"
      exec sealfeed-halt
    fi
    sleep 0.01
  done
  if ! s6-rc-init -c "$run/s6/compiled" -l "$run/s6/rc" "$scandir"; then
    echo "sealfeed-init: s6-rc-init failed" >&2
    printf '111\n' > "$results/exitcode"
    exec sealfeed-halt
  fi
  # Status is public, control stays root's: the exporter (user sealfeed) reads every
  # supervise/status (s6-svperms.html: "it is also safe to make status: more permissive";
  # s6-supervise creates it owner-only). s6-rc-init has started every supervisor by now.
  s6-svperms -o "$scandir"/* || echo "sealfeed-init: warning: status stays root-only" >&2
  # -v2: one line per transition ("service X: starting", "... successfully started") in the
  # container log; its pid lets sealfeed-halt cut a slow start short
  s6-rc -v2 -l "$run/s6/rc" -u change user &
  echo "$!" > "$run/s6/boot.pid"
  if wait "$!"; then
    echo "sealfeed-init: all services started" >&2
    exit 0
  fi
  [ -d "$run/s6/halting" ] && exit 0 # stopped while starting: not a failure
  if [ ! -e "$results/cause.json" ]; then
    # a failing oneshot or service records its own cause (and exit code) first
    printf '1\n' > "$results/exitcode"
    echo "sealfeed-init: the user bundle failed to start" >&2
  fi
  exec sealfeed-halt
) &

exec s6-svscan "$scandir"
