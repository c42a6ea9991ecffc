"""Reading other accounts' ``/proc/<pid>/io`` and ``/proc/<pid>/fd``, with least privilege.

Both are guarded by the owner's file mode (``io`` 0400, ``fd/`` 0500) *and* a ptrace access
check (``PTRACE_MODE_READ_FSCREDS``; proc(5) "/proc/[pid]/io", "/proc/[pid]/fd"): an exporter
running as ``sealfeed`` sees them only for its own processes, and loses I/O and fd metrics
for PostgreSQL, the Chainlink nodes, the loggers and s6's own helpers (measured in the real
boot, ADR 0133). Granting the exporter CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE would let the
network-facing process read every secret file and attach to every process.

Instead, privilege separation (as OpenSSH does it): ``sealfeed exporter serve --user ACCOUNT``
starts as root, forks :func:`serve_helper` -- a loop that answers one question, "read_bytes,
write_bytes and open fd count of these pids", over a socketpair, reading nothing but those two
proc entries -- and then drops the main process to ACCOUNT before it loads the configuration
or opens a socket. The helper keeps root but has no network, no configuration, no secrets
(it is forked before any is read), and exits when the exporter closes the pair.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Protocol

from sealfeed.errors import ExternalError
from sealfeed.privsep import HelperChannel, drop_privileges, fork_helper

#: (read_bytes, write_bytes, open fds); None where not readable
IoFds = tuple[int | None, int | None, int | None]
#: a request names at most this many pids (a container runs a few hundred processes)
MAX_PIDS = 65536
#: kernel PID_MAX_LIMIT on 64-bit (include/linux/threads.h)
PID_MAX = 4 * 1024 * 1024
MAX_LINE = 1024 * 1024


def read_io(proc_root: str, pid: int) -> tuple[int | None, int | None]:
    """``read_bytes``/``write_bytes`` of ``/proc/<pid>/io`` (proc(5)); None if unreadable."""
    try:
        fd = os.open(f"{proc_root}/{pid}/io", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        text = os.read(fd, 4096).decode("ascii", "replace")
    except OSError:
        return None, None
    finally:
        os.close(fd)
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        with contextlib.suppress(ValueError):
            out[key.strip()] = int(value.strip())
    return out.get("read_bytes"), out.get("write_bytes")


def count_fds(proc_root: str, pid: int) -> int | None:
    try:
        return len(os.listdir(f"{proc_root}/{pid}/fd"))
    except OSError:
        return None


class ProcReader(Protocol):
    def read(self, pids: Sequence[int]) -> Mapping[int, IoFds]: ...


class LocalReader:
    """In this process, with this process's rights (tests, local mode, the helper itself)."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self.proc_root = proc_root

    def read(self, pids: Sequence[int]) -> Mapping[int, IoFds]:
        return {p: (*read_io(self.proc_root, p), count_fds(self.proc_root, p)) for p in pids}


def _check_request(line: bytes) -> list[int]:
    doc = json.loads(line)
    pids = doc.get("pids") if isinstance(doc, dict) else None
    if not isinstance(pids, list) or len(pids) > MAX_PIDS:
        raise ValueError("pids must be a list")
    if not all(type(p) is int and 0 < p <= PID_MAX for p in pids):
        raise ValueError("pids must be positive integers")
    return pids


def serve_helper(sock: socket.socket, proc_root: str) -> None:
    """The privileged side: one JSON line in (``{"pids": [...]}``), one JSON line out
    (``{"<pid>": [read_bytes, write_bytes, fds]}``), until EOF. A malformed request ends
    the helper (the exporter then falls back to what it can read itself)."""
    reader = LocalReader(proc_root)
    stream = sock.makefile("rwb", buffering=0)
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line or len(line) > MAX_LINE:
            return
        try:
            pids = _check_request(line)
        except (ValueError, UnicodeDecodeError):
            return
        answer = {str(p): list(v) for p, v in reader.read(pids).items()}
        try:
            stream.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")
        except OSError:
            return


class HelperReader(HelperChannel):
    """The unprivileged side. If the helper is gone, :meth:`read` raises ExternalError once
    and the caller falls back to a :class:`LocalReader` (fewer metrics, never a crash)."""

    def read(self, pids: Sequence[int]) -> Mapping[int, IoFds]:
        try:
            self._stream.write(json.dumps({"pids": list(pids)}).encode() + b"\n")
            line = self._stream.readline(MAX_LINE + 1)
        except OSError as exc:
            raise ExternalError(f"the /proc reader is gone: {exc.strerror}") from None
        if not line:
            raise ExternalError("the /proc reader is gone (EOF)")
        try:
            doc = json.loads(line)
            return {int(k): _iofds(v) for k, v in doc.items()}
        except (ValueError, AttributeError, TypeError):
            raise ExternalError("the /proc reader answered nonsense") from None


def _iofds(value: object) -> IoFds:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("expected [read_bytes, write_bytes, fds]")
    out = tuple(v if isinstance(v, int) else None for v in value)
    return out[0], out[1], out[2]


def start_helper(proc_root: str = "/proc") -> HelperReader:
    """Fork the privileged reader (call as root, before any thread, configuration or
    secret exists in this process)."""
    parent, pid = fork_helper(functools.partial(serve_helper, proc_root=proc_root))
    return HelperReader(parent, pid)


__all__ = [
    "HelperReader",
    "IoFds",
    "LocalReader",
    "ProcReader",
    "count_fds",
    "drop_privileges",
    "read_io",
    "serve_helper",
    "start_helper",
]
