"""Issue #16, connection side, against the real server (granian) on real sockets: thousands
of idle or slowloris connections never lock a new client out; silent connections are
evicted; the cap evicts idle connections first; huge headers get 431 and huge bodies 413
without being read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from sealfeed.aggregator.app import create_app
from sealfeed.aggregator.server import ServerLimits, run
from sealfeed.config.model import AggregatorConfig, SourceConfig
from sealfeed.log import setup_logging

setup_logging("WARNING", json_lines=True)
url, port, limits = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
cfg = AggregatorConfig(sources={"binance": SourceConfig(name="binance", base_url=url, rps=None)})
app = create_app(cfg, streams=False)
run(app, server="granian", host="127.0.0.1", port=port, limits=ServerLimits(**limits),
    on_evict=app.aggregator.metrics.evict)
"""


@pytest.fixture
def binance() -> Iterator[str]:
    from tests.fakes.exchanges import FakeExchange

    loop = asyncio.new_event_loop()
    fake = FakeExchange("binance", prices={("BTC", "USDT"): "67012.34"})
    url = loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(fake.stop())
        loop.close()


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def metric(self, name: str, **labels: str) -> float:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} "):
                return float(line.split()[-1])
        return 0.0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@pytest.fixture
def serve(free_port: Callable[[], int], binance: str) -> Iterator[Callable[..., Server]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(**limits: Any) -> Server:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, binance, str(port), json.dumps(limits)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        srv = Server(proc, port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if srv.get("/health", 1)[0] == 200:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("server did not come up")
        status, doc = srv.get("/quote/binance/BTC/USDT")  # cached from now on
        assert status == 200 and doc["price"] == "67012.34"
        return srv

    yield start
    for proc in procs:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert b"Traceback" not in err, err.decode()[-2000:]


def _need_fds(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n}: cannot hold the connections")
    if soft != resource.RLIM_INFINITY and soft < n:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (n if hard == resource.RLIM_INFINITY else hard, hard)
        )


def _open(port: int, n: int, first_bytes: bytes = b"") -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if first_bytes:
            s.sendall(first_bytes)
        out.append(s)
    return out


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (TimeoutError, OSError) as exc:
        return not isinstance(exc, TimeoutError)


def _fresh_client_is_served(srv: Server) -> None:
    status, doc = srv.get("/health", timeout=5)
    assert status == 200 and doc["status"] == "ok"
    status, doc = srv.get("/quote/binance/BTC/USDT", timeout=5)
    assert status == 200 and doc["price"] == "67012.34"


@pytest.mark.slow
def test_5000_idle_then_5000_slowloris_connections_do_not_lock_out(
    serve: Callable[..., Server],
) -> None:
    _need_fds(6_000)
    srv = serve()
    held = _open(srv.port, 5_000)  # connect, send nothing
    try:
        time.sleep(0.5)
        _fresh_client_is_served(srv)
    finally:
        for s in held:
            s.close()
    held = _open(srv.port, 5_000, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        time.sleep(0.5)
        _fresh_client_is_served(srv)
    finally:
        for s in held:
            s.close()


@pytest.mark.slow
def test_guard_evicts_silent_connections_and_keeps_room_under_the_cap(
    serve: Callable[..., Server],
) -> None:
    _need_fds(2_000)
    # silent connections: closed after the silent timeout (here 1 s)
    srv = serve(silent_timeout_ms=1_000, guard_quiet_fds=20, guard_interval_s=0.2)
    held = _open(srv.port, 100)
    try:
        assert all(_closed_by_peer(s, 10) for s in held)
        assert srv.metric("sealfeed_aggregator_evicted_connections_total", reason="silent") >= 100
    finally:
        for s in held:
            s.close()
    # over the cap (200 connections): idle ones are closed first, a new client gets in
    srv = serve(max_connections=200, guard_quiet_fds=20, guard_interval_s=0.2)
    keepalive = socket.create_connection(("127.0.0.1", srv.port))
    held = _open(srv.port, 400)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                _fresh_client_is_served(srv)
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise
        assert srv.metric("sealfeed_aggregator_evicted_connections_total", reason="over_cap") > 0
    finally:
        keepalive.close()
        for s in held:
            s.close()


@pytest.mark.slow
def test_header_limits_431_and_slow_headers_cut(serve: Callable[..., Server]) -> None:
    srv = serve(header_read_timeout_ms=1_000)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 431 ")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        # one header line every 0.2 s never completes the head: the 1 s header timeout runs
        # for the whole head (a line does not restart it), so the server cuts the connection
        # while lines are still arriving -- long before the 4 s of drip run out
        for _ in range(20):
            with contextlib.suppress(OSError):
                s.sendall(b"X-Drip: 1\r\n")
            if _closed_by_peer(s, 0.2):
                break
        else:
            pytest.fail("a head dripped one line per 0.2 s for 4 s was never cut")
    _fresh_client_is_served(srv)


@pytest.mark.slow
def test_hostile_bodies_over_real_sockets(serve: Callable[..., Server]) -> None:
    srv = serve()
    rss_before = srv.rss_mb()

    def post(body: bytes, length: int | None = None) -> tuple[int, dict[str, Any]]:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            head = f"POST /quotes/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
            s.sendall(head.encode())
            with contextlib.suppress(OSError):
                s.sendall(body)
            data = b""
            with contextlib.suppress(OSError):
                while chunk := s.recv(65536):
                    data += chunk
        head_b, _, payload = data.partition(b"\r\n\r\n")
        return int(head_b.split()[1]), json.loads(payload)

    status, doc = post(b"[" * 10_000 + b"]" * 10_000)
    assert status == 400 and "nested deeper" in doc["message"]
    # 50 MB announced, 2 MB actually sent: refused from the header, never read
    status, doc = post(b"x" * (2 << 20), length=50 << 20)
    assert status == 413
    assert srv.rss_mb() - rss_before < 30
    _fresh_client_is_served(srv)
