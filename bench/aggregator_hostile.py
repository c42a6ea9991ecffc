"""Hostile-client phases of bench/aggregator.py (issue #16) and the nginx ceiling.

* ``idle`` / ``slowloris`` -- hold 5,000 connections (nothing sent / a request head that
  never completes), then time 20 fresh clients each asking ``/health`` and a cached quote on
  a new connection (the issue's requirement: within 1 s);
* ``junk`` -- 500 made-up symbols on one source next to 20 real pairs (from the pairs file),
  upstream unreachable (closed port) and reachable (the shared fake Binance): statuses of
  the real pairs, their answer time, what ``POST /quote/cleanup`` removes;
* ``bodies`` -- a 10,000-deep JSON body, a 50 MB body (declared, then chunked), a 200 kB
  header: status, answer time, the server's RSS growth;
* nginx -- the Debian package, one worker, answering the same constant JSON as the cached
  quote: the ceiling of a fast HTTP server on this machine (``ours / nginx``).

Functions take a started server's URL and pid; bench/aggregator.py starts the targets.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

CONNECTIONS = 5_000
JUNK = 500
REAL = 20
QUOTE_BODY = (
    '{"source":"binance","pair":["BTC","USDT"],"price":"65000.12345678",'
    '"receivedAt":"2026-01-01T00:00:00.000Z"}'
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raise_nofile(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


# ---------------------------------------------------------------------- nginx ceiling
NGINX_CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type "application/json; charset=utf-8";
      return 200 '{body}';
    }}
  }}
}}
"""


def ensure_nginx() -> str | None:
    """The nginx binary, installed from Debian when missing (as root); None if impossible."""

    def find() -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
        )

    if find() is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
            env=env,
            check=False,
        )
    return find()


def nginx_argv(binary: str, port: int) -> list[str]:
    """Command line of a foreground nginx (config in a fresh temp dir) on 127.0.0.1:port."""
    tmp = Path(tempfile.mkdtemp(prefix="sealfeed-nginx-"))
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, body=QUOTE_BODY))
    return [binary, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]


# ---------------------------------------------------------------------- helpers
def _fresh_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, float]:
    """One request on a new connection: (status or 0 on failure, ms)."""
    t = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    except OSError:
        status = 0
    return status, (time.perf_counter() - t) * 1000


def _probe_clients(port: int, quote: str, n: int = 20) -> dict[str, Any]:
    health = [_fresh_get(port, "/health") for _ in range(n)]
    quotes = [_fresh_get(port, quote) for _ in range(n)]
    lat = [ms for _, ms in health + quotes]
    ok = sum(1 for s, _ in health + quotes if s == 200)
    return {
        "requests": 2 * n,
        "ok": ok,
        "latency_ms": {
            "p50": round(statistics.median(lat), 2),
            "max": round(max(lat), 2),
        },
        "all_within_1s": ok == 2 * n and max(lat) < 1000,
    }


def _hold(port: int, n: int, first: bytes) -> tuple[list[socket.socket], int]:
    held: list[socket.socket] = []
    failed = 0
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if first:
                s.sendall(first)
            held.append(s)
        except OSError:
            failed += 1
    return held, failed


def phase_connections(url: str, quote: str) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    raise_nofile(2 * CONNECTIONS + 1000)
    out: dict[str, Any] = {"connections": CONNECTIONS, "baseline": _probe_clients(port, quote)}
    for name, first in (("idle", b""), ("slowloris", b"GET /health HTTP/1.1\r\nHost: x\r\nX-a: ")):
        held, failed = _hold(port, CONNECTIONS, first)
        try:
            time.sleep(0.5)
            res = _probe_clients(port, quote)
            res["connect_failures"] = failed
            out[name] = res
        finally:
            for s in held:
                s.close()
        time.sleep(0.5)
    return out


async def _statuses(url: str, paths: list[str], method: str = "GET") -> list[tuple[int, float]]:
    import aiohttp

    out: list[tuple[int, float]] = [(0, 0.0)] * len(paths)
    conn = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(url, connector=conn, timeout=aiohttp.ClientTimeout(30)) as s:

        async def one(i: int, p: str) -> None:
            t = time.perf_counter()
            try:
                async with s.request(method, p) as r:
                    await r.read()
                    out[i] = (r.status, (time.perf_counter() - t) * 1000)
            except (aiohttp.ClientError, TimeoutError):
                out[i] = (0, (time.perf_counter() - t) * 1000)

        await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
    return out


async def _delayed(url: str, paths: list[str], delay_s: float) -> list[tuple[int, float]]:
    await asyncio.sleep(delay_s)  # the junk is in flight first
    return await _statuses(url, paths)


def real_pairs() -> list[str]:
    return ["BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "TRX", "DOT", "LINK",
            "AVAX", "LTC", "BCH", "ATOM", "UNI", "XLM", "ETC", "FIL", "NEAR", "APE"][:REAL]  # fmt: skip


def phase_junk(url: str) -> dict[str, Any]:
    """500 made-up symbols and the 20 real pairs at once, then the real pairs alone."""
    junk = [f"/quote/binance/ZZJUNK{i}/USDT" for i in range(JUNK)]
    real = [f"/quote/binance/{b}/USDT" for b in real_pairs()]

    async def both() -> list[tuple[int, float]]:
        # two clients (the junk's connection pool must not delay the real requests)
        j, r = await asyncio.gather(_statuses(url, junk), _delayed(url, real, 0.05))
        return j + r

    started = time.perf_counter()
    mixed = asyncio.run(both())
    wall = (time.perf_counter() - started) * 1000
    after = asyncio.run(_statuses(url, real))
    time.sleep(0.2)
    req = urllib.request.Request(url + "/quote/cleanup", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            cleanup_status, removed = r.status, json.loads(r.read()).get("removedCount")
    except OSError as exc:
        cleanup_status, removed = getattr(exc, "code", 0), None
    real_lat = [ms for _, ms in mixed[JUNK:]]
    return {
        "junk_statuses": {str(k): v for k, v in Counter(s for s, _ in mixed[:JUNK]).items()},
        "real_statuses_with_junk": {
            str(k): v for k, v in Counter(s for s, _ in mixed[JUNK:]).items()
        },
        "real_ms_with_junk": {
            "p50": round(statistics.median(real_lat), 1),
            "max": round(max(real_lat), 1),
        },
        "wall_ms": round(wall, 1),
        "real_statuses_after": {str(k): v for k, v in Counter(s for s, _ in after).items()},
        "cleanup_status": cleanup_status,
        "cleanup_removed": removed,
    }


def _raw(port: int, data: bytes, *, body: bytes = b"", timeout: float = 30) -> tuple[int, float]:
    t = time.perf_counter()
    status = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            if body:
                try:
                    view = memoryview(body)
                    for i in range(0, len(body), 1 << 16):
                        s.sendall(view[i : i + (1 << 16)])
                except OSError:
                    pass  # the server answered early and closed: read what it said
            head = s.recv(64)
            status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    except OSError:
        pass
    return status, round((time.perf_counter() - t) * 1000, 1)


def phase_bodies(url: str, pid: int, batch_path: str = "/quotes/batch") -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    rss0 = rss_mb(pid)

    def post(body: bytes, *, declared: int | None, chunked: bool = False) -> tuple[int, float]:
        head = f"POST {batch_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if chunked:
            head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            size = len(body)
            framed = (
                b"".join(
                    f"{len(body[i : i + 65536]):x}\r\n".encode() + body[i : i + 65536] + b"\r\n"
                    for i in range(0, size, 65536)
                )
                + b"0\r\n\r\n"
            )
            return _raw(port, head.encode(), body=framed)
        head += f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
        return _raw(port, head.encode(), body=body)

    deep = b"[" * 10_000 + b"]" * 10_000
    big = b"[" + b'"x",' * (50 * (1 << 20) // 4) + b'"x"]'
    res: dict[str, Any] = {}
    res["deep_10000"] = dict(zip(("status", "ms"), post(deep, declared=len(deep)), strict=True))
    res["body_50mb_declared"] = dict(
        zip(("status", "ms"), post(big, declared=len(big)), strict=True)
    )
    res["rss_after_declared_mb"] = round(rss_mb(pid) - rss0, 1)
    res["body_50mb_chunked"] = dict(
        zip(("status", "ms"), post(big, declared=None, chunked=True), strict=True)
    )
    res["rss_after_chunked_mb"] = round(rss_mb(pid) - rss0, 1)
    header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    res["header_200kb"] = dict(zip(("status", "ms"), _raw(port, header), strict=True))
    res["rss_growth_mb"] = round(rss_mb(pid) - rss0, 1)
    return res


def human(r: dict[str, Any]) -> list[str]:
    lines = []
    for target, h in r.items():
        if not isinstance(h, dict):
            continue
        for kind in ("baseline", "idle", "slowloris"):
            c = h.get("connections", {}).get(kind)
            if c:
                lines.append(
                    f"hostile {target:12} {kind:9} {c['ok']}/{c['requests']} ok, p50 "
                    f"{c['latency_ms']['p50']} ms, max {c['latency_ms']['max']} ms"
                )
        for kind in ("junk_down", "junk_up"):
            j = h.get(kind)
            if j:
                lines.append(
                    f"hostile {target:12} {kind:9} real {j['real_statuses_with_junk']} "
                    f"(max {j['real_ms_with_junk']['max']} ms) after {j['real_statuses_after']}, "
                    f"junk {j['junk_statuses']}, cleanup removed {j['cleanup_removed']}"
                )
        b = h.get("bodies")
        if b:
            lines.append(
                f"hostile {target:12} bodies    deep {b['deep_10000']['status']}, 50MB "
                f"{b['body_50mb_declared']['status']}/{b['body_50mb_chunked']['status']}, "
                f"200kB header {b['header_200kb']['status']}, RSS +{b['rss_growth_mb']} MB"
            )
    return lines


__all__ = [
    "CONNECTIONS",
    "JUNK",
    "QUOTE_BODY",
    "ensure_nginx",
    "human",
    "nginx_argv",
    "phase_bodies",
    "phase_connections",
    "phase_junk",
    "real_pairs",
]
