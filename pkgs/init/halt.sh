#!@shell@
# sealfeed-halt (ADR 0080): ordered shutdown. s6-rc brings every service down in reverse
# dependency order (Chainlink nodes before PostgreSQL, each logger after its service), each
# bounded by its own timeout-kill; then s6-svscan is told to exit, and its finish script
# turns the recorded exit code into the container's status.
set -u
PATH=@path@
export PATH
run=@run@

# once: SIGTERM, an exhausted restart budget and a failed start may all ask at the same time
mkdir "$run/s6/halting" 2>/dev/null || exit 0
# a start still in progress (Chainlink nodes take long to become ready) is aborted so the stop
# begins now; s6-rc releases its lock when it exits (s6-rc.html, SIGTERM)
if read -r pid 2>/dev/null < "$run/s6/boot.pid" \
  && read -r comm 2>/dev/null < "/proc/$pid/comm" && [ "$comm" = s6-rc ]; then
  kill -TERM "$pid" 2>/dev/null || true
fi
# -D: the container is going away, so s6-rc's own essential services (s6rc-oneshot-runner,
# s6rc-fdholder, which every pipeline depends on) stop too, last (s6-rc.html, "-D")
s6-rc -v2 -l "$run/s6/rc" -b -Da change \
  || echo "sealfeed-halt: some services did not stop cleanly" >&2
exec s6-svscanctl -t "$run/service"
