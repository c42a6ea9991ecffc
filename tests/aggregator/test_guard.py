"""The connection guard's policy (pure) and its reading of real sockets' TCP_INFO."""

from __future__ import annotations

import contextlib
import os
import socket
import time

from sealfeed.aggregator.guard import (
    Conn,
    ConnectionGuard,
    EvictionPolicy,
    choose_evictions,
    parse_tcp_info,
)


def _c(inode: int, idle_ms: int, *, received: bool = True, busy: bool = False) -> Conn:
    return Conn(fd=inode, inode=inode, idle_ms=idle_ms, received=received, busy=busy)


def test_silent_connections_are_evicted_after_the_timeout() -> None:
    conns = [_c(1, 11_000, received=False), _c(2, 9_000, received=False), _c(3, 60_000)]
    out = choose_evictions(conns, EvictionPolicy(max_connections=1000, silent_timeout_ms=10_000))
    assert [(c.inode, r) for c, r in out] == [(1, "silent")]  # a quiet keep-alive stays


def test_over_cap_evicts_never_spoke_then_idlest_and_never_busy() -> None:
    conns = [
        _c(1, 5_000),
        _c(2, 50_000),
        _c(3, 100, received=False),
        _c(4, 90_000, busy=True),
        _c(5, 20_000),
        _c(6, 10),
    ]
    # cap 5: 6 > 4.5 (90 %) -> down to 4 (80 %): two go
    out = choose_evictions(conns, EvictionPolicy(max_connections=5, silent_timeout_ms=60_000))
    assert [(c.inode, r) for c, r in out] == [(3, "over_cap"), (2, "over_cap")]
    assert choose_evictions(conns[:4], EvictionPolicy(5, 60_000)) == []


def test_tcp_info_of_real_sockets_tells_silent_answered_and_busy() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        port = srv.getsockname()[1]
        silent_c = socket.create_connection(("127.0.0.1", port))
        silent, _ = srv.accept()
        busy_c = socket.create_connection(("127.0.0.1", port))
        busy, _ = srv.accept()
        done_c = socket.create_connection(("127.0.0.1", port))
        done, _ = srv.accept()
        for c in (busy_c, done_c):
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.05)
        busy.recv(100)
        done.recv(100)
        done.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        time.sleep(0.05)
        try:
            info = {
                name: parse_tcp_info(
                    s.fileno(), os.fstat(s.fileno()).st_ino,
                    s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256),
                )
                for name, s in (("silent", silent), ("busy", busy), ("done", done))
            }  # fmt: skip
            assert not info["silent"].received and not info["silent"].busy
            assert info["silent"].idle_ms >= 50
            assert info["busy"].received and info["busy"].busy
            assert info["done"].received and not info["done"].busy
            # the guard finds exactly the connections accepted on the port, and its
            # eviction is a shutdown the peer sees as end-of-stream
            guard = ConnectionGuard(port, EvictionPolicy(100, 0), quiet_fds=0)
            found = {c.inode for c in guard.scan()}
            assert found == {info[n].inode for n in info}
            counts = guard.sweep()
            assert counts == {"silent": 1, "over_cap": 0}
            silent_c.settimeout(2)
            assert silent_c.recv(10) == b""
            busy_c.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # still open: nothing to read yet
                assert busy_c.recv(10) != b""
        finally:
            for s in (silent_c, silent, busy_c, busy, done_c, done):
                s.close()
