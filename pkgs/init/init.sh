#!@shell@
# sealfeed /init (ADR 0080): PID 1 of the appliance container.
#
# 1. Nothing starts unless the signed configuration verifies (key baked in at build time as
#    CONFIGURATION_PUBLIC_KEY); a failure is the container's exit status, with the reason on
#    stderr.
# 2. The s6-rc source tree rendered at build time (@tree@) is compiled into @run@/s6,
#    s6-svscan replaces this script on @run@/service, and the `user` bundle is brought up.
# 3. SIGTERM/SIGINT/SIGQUIT (docker stop) or a failed start run sealfeed-halt: s6-rc stops
#    everything in reverse dependency order, then s6-svscan exits through its finish script
#    with the code in @run@/s6-linux-init-container-results/exitcode (s6-overlay's file,
#    kept compatible so the s6 tree's restart-budget finish scripts work unchanged).
set -eu
PATH=@path@
export PATH

results=@run@/s6-linux-init-container-results
scandir=@run@/service
mkdir -p "$results" "$scandir/.s6-svscan" @run@/s6
printf '0\n' > "$results/exitcode"

if ! sealfeed config verify; then
  printf '1\n' > "$results/exitcode"
  echo "sealfeed-init: configuration did not verify; nothing was started" >&2
  exit 1
fi

rm -rf @run@/s6/compiled
s6-rc-compile @run@/s6/compiled @tree@

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
