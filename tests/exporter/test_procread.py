"""Least privilege for the exporter (issue #19 b, ADR 0133): the network-facing process runs
as an ordinary account; a forked helper that kept root answers only "io and fd counts of these
pids". Proven with real processes and the real kernel's /proc permission checks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from sealfeed.errors import ExternalError
from sealfeed.exporter.procread import HelperReader, LocalReader, serve_helper, start_helper

SCRIPT = """
import json, os, sys
from sealfeed.exporter.procread import LocalReader, drop_privileges, start_helper
helper = start_helper("/proc")
drop_privileges("nobody")
target = int(sys.argv[1])
try:
    os.setuid(0)
    regained = True
except PermissionError:
    regained = False
out = {"uid": os.getuid(), "regained": regained,
       "local": LocalReader().read([target])[target], "helper": helper.read([target])[target],
       "helper_pid": helper.pid}
helper.close()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_the_helper_sees_what_the_dropped_exporter_cannot() -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(victim.pid)],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    finally:
        victim.kill()
        victim.wait()
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["uid"] == 65534 and out["regained"] is False
    assert out["local"] == [None, None, None]  # root's process: io 0400 + ptrace check
    rb, wb, fds = out["helper"]
    assert isinstance(rb, int) and isinstance(wb, int) and isinstance(fds, int) and fds >= 3


def test_a_malformed_request_ends_the_helper() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b'{"pids": ["/etc/shadow"]}\n')
        serve_helper(b, "/proc")  # returns instead of answering
        a.sendall(b'{"pids": [1]}\n')  # nobody reads it any more


def test_a_dead_helper_degrades_to_local_reads() -> None:
    from sealfeed.exporter.sampler import Sampler

    helper = start_helper("/proc")
    os.kill(helper.pid, signal.SIGKILL)
    os.waitpid(helper.pid, 0)
    with pytest.raises(ExternalError, match="the /proc reader is gone"):
        helper.read([os.getpid()])
    sampler = Sampler(proc_reader=helper)
    warnings: list[str] = []
    got = sampler._io_fds([os.getpid()], warnings)
    assert isinstance(sampler.proc_reader, LocalReader)
    assert got[os.getpid()][2] is not None
    assert warnings and "reading /proc with this process's own rights" in warnings[0]
    helper.close()


def test_helper_answers_in_batches() -> None:
    gone = 4_194_303  # PID_MAX_LIMIT - 1: not a live process here
    helper = start_helper("/proc")
    try:
        assert isinstance(helper, HelperReader)
        got = helper.read([os.getpid(), gone])
        assert got[os.getpid()][2] is not None
        assert got[gone] == (None, None, None)  # a process that exited: fewer samples
    finally:
        helper.close()
