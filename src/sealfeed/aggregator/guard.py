"""Connection guard: a fair cap on client connections that evicts idle ones first.

Why (issue #16): an HTTP server holds a slot (granian: one backpressure permit, and a file
descriptor) for every accepted connection, and hyper's header-read timeout does not start
until a connection's first byte, so connections that never send anything are held forever.
About 1,024 of them used to silence the oracle. The server's own limits handle the rest
(slow headers are cut by the header-read timeout, oversized headers get 431; see
:mod:`sealfeed.aggregator.server`); this module closes what they leave open.

How: every :data:`INTERVAL_S` the guard counts the process's descriptors; above
``quiet_fds`` it reads ``TCP_INFO`` of each connection accepted on the service port (through
a ``dup`` of the descriptor, identity checked by socket inode) and

* closes every connection that has sent no byte for ``silent_timeout_ms`` (``silent``);
* when connections exceed 90 % of ``max_connections``, closes connections that are not in
  the middle of a request, idlest first, until 80 % remain (``over_cap``).

"Close" is ``shutdown(SHUT_RDWR)`` on the duplicate: the server sees end-of-stream and
releases the connection itself (we never close a descriptor the server owns). Requests in
flight (a request received, no answer sent yet) are never evicted.

:func:`choose_evictions` is the pure policy; :class:`ConnectionGuard` is the IO.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("sealfeed.aggregator.guard")

INTERVAL_S = 1.0
#: below this many open descriptors nothing can be exhausted: the guard does not scan
QUIET_FDS = 256
HIGH_WATER = 0.9
LOW_WATER = 0.8

# struct tcp_info offsets (include/uapi/linux/tcp.h): u32 tcpi_last_data_sent at 44,
# tcpi_last_data_recv at 52 (ms ago), u64 tcpi_bytes_received at 128 (Linux >= 4.1),
# u32 tcpi_data_segs_out at 156 (Linux >= 4.6)
_LAST_DATA_SENT = 44
_LAST_DATA_RECV = 52
_BYTES_RECEIVED = 128
_DATA_SEGS_OUT = 156
_TCP_INFO_LEN = 160


@dataclass(frozen=True)
class Conn:
    """One accepted client connection as the kernel sees it."""

    fd: int
    inode: int
    #: ms since the last byte received (since the connection was set up if none)
    idle_ms: int
    #: any byte received at all
    received: bool
    #: a request received and not answered yet (never evicted)
    busy: bool


@dataclass(frozen=True)
class EvictionPolicy:
    max_connections: int
    silent_timeout_ms: int


def choose_evictions(conns: Iterable[Conn], policy: EvictionPolicy) -> list[tuple[Conn, str]]:
    """Connections to close, each with its reason (``silent`` or ``over_cap``)."""
    conns = list(conns)
    out = [
        (c, "silent")
        for c in conns
        if not c.received and not c.busy and c.idle_ms >= policy.silent_timeout_ms
    ]
    chosen = {c.inode for c, _ in out}
    remaining = len(conns) - len(out)
    if remaining > policy.max_connections * HIGH_WATER:
        target = int(policy.max_connections * LOW_WATER)
        idle = sorted(
            (c for c in conns if not c.busy and c.inode not in chosen),
            key=lambda c: (c.received, -c.idle_ms),  # never-spoke first, then idlest
        )
        for c in idle[: max(0, remaining - target)]:
            out.append((c, "over_cap"))
    return out


def parse_tcp_info(fd: int, inode: int, info: bytes) -> Conn:
    """A :class:`Conn` from raw ``TCP_INFO`` bytes (older kernels: treated as having spoken,
    so only the over-cap rule can close them)."""
    sent_ago = struct.unpack_from("<I", info, _LAST_DATA_SENT)[0]
    recv_ago = struct.unpack_from("<I", info, _LAST_DATA_RECV)[0]
    if len(info) >= _TCP_INFO_LEN:
        received = struct.unpack_from("<Q", info, _BYTES_RECEIVED)[0] > 0
        answered = struct.unpack_from("<I", info, _DATA_SEGS_OUT)[0] > 0
    else:
        received, answered = True, True
    busy = received and (not answered or recv_ago < sent_ago)
    return Conn(fd=fd, inode=inode, idle_ms=recv_ago, received=received, busy=busy)


class ConnectionGuard:
    """Watches the connections accepted on ``port`` by this process and evicts per
    :func:`choose_evictions`."""

    def __init__(
        self,
        port: int,
        policy: EvictionPolicy,
        *,
        interval_s: float = INTERVAL_S,
        quiet_fds: int = QUIET_FDS,
        on_evict: Callable[[str, int], None] | None = None,
        fd_dir: str = "/proc/self/fd",
    ) -> None:
        self.port = port
        self.policy = policy
        self.interval_s = interval_s
        self.quiet_fds = quiet_fds
        self.on_evict = on_evict
        self.fd_dir = fd_dir
        self.evicted: dict[str, int] = {"silent": 0, "over_cap": 0}

    def _sockets(self) -> list[tuple[int, int]]:
        """(fd, inode) of every socket descriptor of the process."""
        out = []
        for name in os.listdir(self.fd_dir):
            try:
                link = os.readlink(f"{self.fd_dir}/{name}")
            except OSError:
                continue  # closed meanwhile
            if link.startswith("socket:["):
                out.append((int(name), int(link[8:-1])))
        return out

    def _open(self, fd: int, inode: int) -> socket.socket | None:
        """A duplicate of ``fd`` if it is still socket ``inode`` and a connection accepted
        on our port, else None."""
        try:
            dup = os.dup(fd)
        except OSError:
            return None
        try:
            if os.fstat(dup).st_ino != inode:
                os.close(dup)
                return None
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            return None
        try:
            if (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM
                and sock.getsockname()[1] == self.port
            ):
                sock.getpeername()  # the listener has no peer
                return sock
        except OSError:
            pass
        sock.close()
        return None

    def scan(self) -> list[Conn]:
        conns = []
        for fd, inode in self._sockets():
            sock = self._open(fd, inode)
            if sock is None:
                continue
            try:
                info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
                conns.append(parse_tcp_info(fd, inode, info))
            except OSError:
                pass
            finally:
                sock.close()
        return conns

    def sweep(self) -> dict[str, int]:
        """One pass: scan (when above ``quiet_fds`` descriptors), choose, evict. Returns
        evictions by reason."""
        counts = {"silent": 0, "over_cap": 0}
        try:
            if len(os.listdir(self.fd_dir)) <= self.quiet_fds:
                return counts
        except OSError:
            return counts
        for conn, reason in choose_evictions(self.scan(), self.policy):
            sock = self._open(conn.fd, conn.inode)
            if sock is None:
                continue  # gone or reused meanwhile: not ours to touch
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                counts[reason] += 1
            sock.close()
        for reason, n in counts.items():
            if n:
                self.evicted[reason] += n
                if self.on_evict is not None:
                    self.on_evict(reason, n)
        if any(counts.values()):
            log.warning(
                "connections evicted",
                extra={"event": "connections_evicted", **counts},
            )
        return counts

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval_s`` in a worker thread until ``stop`` is set."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # the guard must never take the service down
                log.exception("connection guard bug", extra={"event": "bug"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


__all__ = [
    "HIGH_WATER",
    "LOW_WATER",
    "Conn",
    "ConnectionGuard",
    "EvictionPolicy",
    "choose_evictions",
    "parse_tcp_info",
]
