#!@shell@
# sealfeed /init (ADR 0080): PID 1 of the appliance container.
#
# 1. Nothing starts unless the signed configuration verifies (key baked in at build time as
#    CONFIGURATION_PUBLIC_KEY); a failure is the container's exit status, with the reason on
#    stderr.
# 2. The s6-rc source tree rendered at build time (/etc/s6-overlay/s6-rc.d) is compiled into
#    /run, s6-svscan becomes PID 1 on /run/service, and the `user` bundle is brought up.
# 3. SIGTERM (docker stop) or a service that exhausted its restart budget runs sealfeed-halt:
#    s6-rc stops everything in reverse dependency order, then s6-svscan exits with the code in
#    /run/s6-linux-init-container-results/exitcode (s6-overlay's file, kept compatible).
set -eu
PATH=@path@
export PATH

results=/run/s6-linux-init-container-results
scandir=/run/service
mkdir -p "$results" "$scandir/.s6-svscan" /run/s6
printf '0\n' > "$results/exitcode"

if ! sealfeed config verify; then
  printf '1\n' > "$results/exitcode"
  echo "sealfeed-init: configuration did not verify; nothing was started" >&2
  exit 1
fi

s6-rc-compile /run/s6/compiled /etc/s6-overlay/s6-rc.d

# s6-svscan runs these scripts for signals sent to PID 1 and when it exits.
for sig in SIGTERM SIGINT SIGQUIT; do
  printf '#!@shell@\nexec sealfeed-halt\n' > "$scandir/.s6-svscan/$sig"
  chmod 0755 "$scandir/.s6-svscan/$sig"
done
printf '#!@shell@\nexec sh -c '"'"'exit "$(cat %s/exitcode 2>/dev/null || echo 111)"'"'"'\n' \
  "$results" > "$scandir/.s6-svscan/finish"
chmod 0755 "$scandir/.s6-svscan/finish"

(
  # s6-rc-init needs a running s6-svscan on the scandir: wait for its control FIFO.
  i=0
  until [ -p "$scandir/.s6-svscan/control" ]; do
    i=$((i + 1))
    [ "$i" -lt 500 ] || { echo "sealfeed-init: s6-svscan did not start" >&2; exit 1; }
    sleep 0.01
  done
  s6-rc-init -c /run/s6/compiled -l /run/s6/rc "$scandir"
  if ! s6-rc -l /run/s6/rc -u change user; then
    echo "sealfeed-init: the user bundle failed to start" >&2
    printf '1\n' > "$results/exitcode"
    exec sealfeed-halt
  fi
) &

exec s6-svscan "$scandir"
