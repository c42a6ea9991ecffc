#!@shell@
# sealfeed-halt (ADR 0080): ordered shutdown. s6-rc brings every service down in reverse
# dependency order (Chainlink nodes before PostgreSQL), each bounded by its own timeout-down;
# then s6-svscan is told to exit (-t: loggers drain on EOF), and its finish script turns the
# recorded exit code into the container's status.
set -u
PATH=@path@
export PATH
s6-rc -l @run@/s6/rc -b -da change || echo "sealfeed-halt: some services did not stop cleanly" >&2
exec s6-svscanctl -t @run@/service
