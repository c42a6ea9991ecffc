#!/usr/bin/env python3
"""Aggregator benchmark: the issue #5 workloads on the shared harness (../shared/bench).

Phases (all by default; ``--phases hot,cold,rss,burst,oracle,hostile``):

* hot    -- ``wrk -t2 -c50`` on a cached ``GET /quote/binance/BTC/USDT`` (fake Binance at
            20 ms), for each ASGI server, metrics on; plus a bare Starlette endpoint
            returning a cached dict on the same server, a constant answer served the way
            ours is (``-const``: the server's own ceiling), and nginx (Debian
            package, one worker) returning the same constant JSON: the ceiling, reported as
            ours/nginx. ``--rounds N`` repeats the whole set N times, interleaved, and
            keeps each target's median run (its runs' req/s are listed too);
* cold   -- sequential first requests for uncached pairs vs. a direct call to the fake;
* rss    -- resident memory of the service with 1,000 tracked (cached) pairs;
* burst  -- an OCR round: 260 feeds x 7 sources x 5 nodes = 9,100 requests at once;
* oracle -- load.py oracle mode, 5 nodes x 20 pairs every 5 s: upstream calls per minute;
* hostile -- issue #16 (bench/aggregator_hostile.py): 5,000 idle / slowloris connections
            while fresh clients ask /health and a cached quote; 500 junk pairs next to 20
            real ones (upstream down, and up); 10,000-deep and 50 MB bodies, a 200 kB header.

Prints a human table on stderr and one JSON line on stdout. Run from the repository root:
``uv run python bench/aggregator.py`` (needs ``wrk`` and ../shared/bench).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import aggregator_hostile as hostile  # noqa: E402

SHARED_BENCH = next(
    (p for p in (ROOT.parent / "shared" / "bench", ROOT / "shared" / "bench") if p.is_dir()),
    ROOT.parent / "shared" / "bench",
)
SERVERS = ("granian", "uvicorn", "hypercorn")
BURST_SOURCES = ("binance", "okx", "bybit", "kucoin", "kraken", "coingecko", "cryptocompare")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- child processes
def _child_serve(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from sealfeed.aggregator.server import run
    from sealfeed.log import setup_logging

    setup_logging("WARNING", json_lines=True)
    if args.raw:
        body = json.dumps(
            {"source": "binance", "pair": ["BTC", "USDT"], "price": "65000.12345678",
             "receivedAt": "2026-01-01T00:00:00.000Z"}, separators=(",", ":")
        ).encode()  # fmt: skip
        start = {"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json; charset=utf-8"),
                             (b"content-length", str(len(body)).encode())]}  # fmt: skip

        class Const:
            """The same constant answer the way each server serves ours fastest: ASGI
            messages, and on granian the RSGI front's native hot path (``hot_body``)."""

            def hot_body(self, path: str) -> bytes:
                return body

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] == "http":
                    await send(start)
                    await send({"type": "http.response.body", "body": body})

        run(Const(), server=args.server, host="127.0.0.1", port=args.port)
        return
    if args.bare:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        cached = {
            "source": "binance",
            "pair": ["BTC", "USDT"],
            "price": "65000.12345678",
            "receivedAt": "2026-01-01T00:00:00.000Z",
        }

        async def quote(request: Request) -> JSONResponse:
            return JSONResponse(cached)

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        app: Any = Starlette(routes=[Route("/quote/{s}/{b}/{q}", quote), Route("/health", health)])
    else:
        from sealfeed.aggregator.app import create_app
        from sealfeed.aggregator.sources import DEFAULTS
        from sealfeed.config.model import AggregatorConfig, RefetchConfig, SourceConfig

        upstreams = json.loads(args.upstreams)
        sources = {
            name: SourceConfig(
                name=name,
                base_url=url,
                ttl_ms=args.ttl_ms,
                # as the schema does: the catalogue's budget unless one is given
                rps=args.rps if args.rps is not None else DEFAULTS[name].rps,
            )
            for name, url in upstreams.items()
        }
        refetch = RefetchConfig(stale_trigger_before_expiry_ms=args.stale_ms)
        cfg = AggregatorConfig(sources=sources, pairs_file=args.pairs_file, refetch=refetch)
        app = create_app(cfg, streams=False)
    run(app, server=args.server, host="127.0.0.1", port=args.port, **_evict_kw(app))


def _evict_kw(app: Any) -> dict[str, Any]:
    agg = getattr(app, "aggregator", None)
    return {"on_evict": agg.metrics.evict} if agg is not None else {}


def _child_fakes(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fakes.exchanges import FakeExchange

    async def main() -> None:
        out = {}
        fakes = []
        for name in args.sources.split(","):
            prices = {(f"C{i:04d}", "USDT"): f"{1 + i / 1000:.6f}" for i in range(args.count)}
            fx = FakeExchange(name, prices=prices, latency_s=args.latency_ms / 1000)
            out[name] = await fx.start()
            fakes.append(fx)
        Path(args.out).write_text(json.dumps(out))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()

    asyncio.run(main())


class Proc:
    def __init__(
        self, argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        self.p = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def start_service(
    server: str,
    upstreams: dict[str, str],
    *,
    bare: bool = False,
    raw: bool = False,
    pairs_file: str | None = None,
    ttl_ms: int = 300_000,
    stale_ms: int = 5_000,
    rps: float | None = None,
) -> tuple[Proc, str]:
    port = free_port()
    argv = [
        sys.executable,
        __file__,
        "_serve",
        "--server",
        server,
        "--port",
        str(port),
        "--upstreams",
        json.dumps(upstreams),
        "--ttl-ms",
        str(ttl_ms),
        "--stale-ms",
        str(stale_ms),
    ]
    if bare:
        argv.append("--bare")
    if raw:
        argv.append("--raw")
    if pairs_file:
        argv += ["--pairs-file", pairs_file]
    if rps is not None:
        argv += ["--rps", str(rps)]
    proc = Proc(argv)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health")
    return proc, url


def start_fakes(
    sources: tuple[str, ...], count: int, latency_ms: float
) -> tuple[Proc, dict[str, str]]:
    out = Path(tempfile.mkdtemp()) / "fakes.json"
    proc = Proc(
        [
            sys.executable,
            __file__,
            "_fakes",
            "--sources",
            ",".join(sources),
            "--count",
            str(count),
            "--latency-ms",
            str(latency_ms),
            "--out",
            str(out),
        ]
    )
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    return proc, json.loads(out.read_text())


# ---------------------------------------------------------------- phases
def wrk(url: str, duration: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{duration}s", "-s", str(SHARED_BENCH / "wrk_json.lua"), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith('{"tool":"wrk"'))
    return dict(json.loads(line))


Starter = Callable[..., tuple["Proc", str]]


def ours(server: str, *, bare: bool = False, raw: bool = False) -> Starter:
    def start(upstreams: dict[str, str], **kw: Any) -> tuple[Proc, str]:
        return start_service(server, upstreams, bare=bare, raw=raw, **kw)

    return start


REF_CONFIG = """port: {port}
environment: production
pairsFilePath: {pairs}
logger:
  level: warn
  isPrettyEnabled: false
metricsPush:
  enabled: false
refetch:
  enabled: true
  staleTriggerBeforeExpiry: {stale}
  batchInterval: 1000
  minTimeBetweenRefreshes: 2000
quotes:
  requestTimeoutMs: 10000
pairCleanup:
  enabled: true
  inactiveTimeoutMs: 600000
  cleanupIntervalMs: 20000
sources:
  binance:
    enabled: true
    baseUrl: {base}
    ttl: {ttl}
    timeoutMs: 10000
    rps: 100
    maxConcurrent: 10
    refetch: true
    maxBatchSize: 500
    stream:
      autoReconnect: false
      wsUrl: ws://127.0.0.1:9/ws
"""
REF_DISABLED = (
    "okx",
    "finnhub",
    "cryptocompare",
    "alphavantage",
    "coingecko",
    "exchangeratehost",
    "kraken",
    "coinbase",
    "frankfurter",
    "yahoofinance",
    "kucoin",
    "bybit",
)


def reference(ref_dir: str) -> Starter:
    """The reference NestJS app built by hand outside the repository (dist/main.js)."""

    def start(
        upstreams: dict[str, str],
        *,
        pairs_file: str | None = None,
        ttl_ms: int = 300_000,
        stale_ms: int = 5_000,
        **_: Any,
    ) -> tuple[Proc, str]:
        port = free_port()
        tmp = Path(tempfile.mkdtemp())
        if pairs_file is None:
            pairs_file = str(tmp / "pairs.json")
            Path(pairs_file).write_text("{}")
        cfg = REF_CONFIG.format(
            port=port, pairs=pairs_file, stale=stale_ms, base=upstreams["binance"], ttl=ttl_ms
        )
        cfg += "".join(f"  {n}:\n    enabled: false\n" for n in REF_DISABLED)
        (tmp / "config.yaml").write_text(cfg)
        proc = Proc(
            ["node", "dist/main.js"],
            env={"CONFIG_FILE": str(tmp / "config.yaml"), "NODE_ENV": "production"},
            cwd=Path(ref_dir),
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", timeout=60)
        return proc, url

    return start


def nginx_target(binary: str) -> Starter:
    """nginx (one worker) answering the cached quote's JSON on every path: the ceiling."""

    def start(upstreams: dict[str, str], **_: Any) -> tuple[Proc, str]:
        port = free_port()
        proc = Proc(hostile.nginx_argv(binary, port))
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health")
        return proc, url

    return start


def phase_hostile(fake_url: str, targets: dict[str, Starter], sections: set[str]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    pairs = Path(tempfile.mkdtemp()) / "pairs-real.json"
    pairs.write_text(json.dumps({"binance": [f"{b}/USDT" for b in hostile.real_pairs()]}))
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    quote = "/quote/binance/BTC/USDT"
    for name, start in targets.items():
        out: dict[str, Any] = {}
        if "connections" in sections:
            proc, url = start({"binance": fake_url})
            try:
                urllib.request.urlopen(url + quote, timeout=10).read()
                out["connections"] = hostile.phase_connections(url, quote)
            finally:
                proc.stop()
        for key, upstream in (("junk_down", down), ("junk_up", fake_url)):
            if "junk" not in sections:
                continue
            proc, url = start({"binance": upstream}, pairs_file=str(pairs))
            try:
                time.sleep(1.0)  # the pairs file is fetched at start
                out[key] = hostile.phase_junk(url)
            finally:
                proc.stop()
        if "bodies" in sections:
            proc, url = start({"binance": fake_url})
            try:
                out["bodies"] = hostile.phase_bodies(url, proc.pid, "/sources/binance/batch")
            finally:
                proc.stop()
        res[name] = out
    return res


def phase_hot(
    fake_url: str, targets: dict[str, Starter], duration: int, rounds: int = 1
) -> dict[str, Any]:
    """Each target ``rounds`` times, interleaved (A B C A B C ...); per target the run with
    the median req/s, with every run's req/s in ``rps_runs``."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, r in _hot_once(fake_url, targets, duration).items():
            runs[name].append(r)
    res: dict[str, Any] = {}
    for name, rs in runs.items():
        ordered = sorted(rs, key=lambda r: float(r["rps"]))
        res[name] = {**ordered[len(ordered) // 2], "rps_runs": [r["rps"] for r in rs]}
    return res


def _hot_once(fake_url: str, targets: dict[str, Starter], duration: int) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for name, start in targets.items():
        proc, url = start({"binance": fake_url})
        try:
            quote = url + "/quote/binance/BTC/USDT"
            urllib.request.urlopen(quote, timeout=10).read()  # warm the cache
            r = wrk(quote, duration)
            r["rss_mb"] = round(rss_mb(proc.pid), 1)
            res[name] = r
        finally:
            proc.stop()
    return res


async def _timed_gets(urls: list[str]) -> list[float]:
    import aiohttp

    out = []
    async with aiohttp.ClientSession() as s:
        async with s.get(urls[0].rsplit("/quote", 1)[0] + "/health") as r:
            await r.read()
        for u in urls:
            t = time.perf_counter()
            async with s.get(u) as r:
                await r.read()
                assert r.status == 200, (u, r.status)
            out.append((time.perf_counter() - t) * 1000)
    return out


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(len(v) * p / 100))], 2)


COLD_BASES = [
    "ETH",
    "BNB",
    "SOL",
    "XRP",
    "ADA",
    "DOGE",
    "TRX",
    "DOT",
    "LINK",
    "AVAX",
    "LTC",
    "BCH",
    "ATOM",
    "UNI",
    "XLM",
    "ETC",
    "FIL",
    "NEAR",
    "APE",
    "ARB",
]


def phase_cold(fake_url: str, targets: dict[str, Starter]) -> dict[str, Any]:
    direct = asyncio.run(
        _timed_gets([f"{fake_url}/api/v3/ticker/price?symbol={b}USDT" for b in COLD_BASES])
    )
    res: dict[str, Any] = {"direct_upstream_ms": {"p50": _pct(direct, 50), "p90": _pct(direct, 90)}}
    for name, start in targets.items():
        proc, url = start({"binance": fake_url})
        try:
            cold = asyncio.run(_timed_gets([f"{url}/quote/binance/{b}/USDT" for b in COLD_BASES]))
        finally:
            proc.stop()
        res[name] = {
            "p50": _pct(cold, 50),
            "p90": _pct(cold, 90),
            "max": round(max(cold), 2),
            "overhead_p50_ms": round(statistics.median(cold) - statistics.median(direct), 2),
        }
    return res


async def _warm(url: str, paths: list[str], concurrency: int = 50) -> Counter[int]:
    import aiohttp

    statuses: Counter[int] = Counter()
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(url) as s:

        async def one(p: str) -> None:
            async with sem, s.get(p) as r:
                await r.read()
                statuses[r.status] += 1

        await asyncio.gather(*(one(p) for p in paths))
    return statuses


def _pairs_file(sources: tuple[str, ...], count: int) -> str:
    path = Path(tempfile.mkdtemp()) / "pairs.json"
    path.write_text(json.dumps({s: [f"C{i:04d}/USDT" for i in range(count)] for s in sources}))
    return str(path)


def _wait_cached(url: str, sources: tuple[str, ...], count: int, timeout: float = 120) -> float:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        st = get_json(url + "/sources")["sources"]
        if all(st[s].get("cachedPairs", 0) >= count for s in sources):
            return time.monotonic() - t
        time.sleep(0.2)
    raise RuntimeError("cache did not warm up")


def phase_rss(targets: dict[str, Starter], count: int = 1000) -> dict[str, Any]:
    fakes, urls = start_fakes(("binance",), count, 20)
    res: dict[str, Any] = {"tracked_pairs": count}
    try:
        pairs = _pairs_file(("binance",), count)
        paths = [f"/quote/binance/C{i:04d}/USDT" for i in range(count)]
        for name, start in targets.items():
            proc, url = start(urls, pairs_file=pairs)
            try:
                t = time.monotonic()
                statuses = asyncio.run(_warm(url, paths))
                warm = time.monotonic() - t
                time.sleep(1)
                res[name] = {
                    "rss_mb": round(rss_mb(proc.pid), 1),
                    "warm_s": round(warm, 2),
                    "statuses": {str(k): v for k, v in statuses.items()},
                }
            finally:
                proc.stop()
    finally:
        fakes.stop()
    return res


_BURST_LUA = """
local paths = {%s}
local per = %d
local threads = {}
local k = 0
setup = function(thread)
  thread:set("start", k * per)
  k = k + 1
  table.insert(threads, thread)
end
init = function(args)
  idx = start
  seen = 0
  bad = 0
end
request = function()
  idx = idx %% #paths + 1
  return wrk.format("GET", paths[idx])
end
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + t:get("bad") end
  io.write(string.format(
    '{"tool":"wrk-burst","requests":%%d,"duration_s":%%.3f,"non200":%%d,' ..
    '"latency_ms":{"p50":%%.2f,"p99":%%.2f,"max":%%.2f}}\\n',
    summary.requests, summary.duration / 1e6, nbad,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def _burst(url: str, feeds: int, sources: tuple[str, ...], nodes: int) -> dict[str, Any]:
    """The OCR-round request mix (every node asks for every (feed, source)) through wrk at
    saturation: 2 threads x 100 connections (5 nodes x 20). wrk cannot stop after N
    requests, so the round's time is 9,100 / measured req/s (a Python client was the
    bottleneck when timing the round directly)."""
    paths = [f"/quote/{s}/C{i:04d}/USDT" for i in range(feeds) for s in sources] * nodes
    lua = _BURST_LUA % (",".join(f'"{p}"' for p in paths), len(paths) // 2)
    script = Path(tempfile.mkdtemp()) / "burst.lua"
    script.write_text(lua)
    out = subprocess.run(
        ["wrk", "-t2", "-c100", "-d5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith('{"tool":"wrk-burst"'))
    r = dict(json.loads(line))
    r["rps"] = round(r["requests"] / r["duration_s"], 1)
    r["round_requests"] = len(paths)
    r["round_s"] = round(len(paths) / r["rps"], 3)
    return r


def phase_burst(
    targets: dict[str, Starter], sources: tuple[str, ...], feeds: int, nodes: int = 5
) -> dict[str, Any]:
    fakes, urls = start_fakes(sources, feeds, 20)
    res: dict[str, Any] = {"sources": list(sources), "feeds": feeds, "nodes": nodes}
    try:
        pairs = _pairs_file(sources, feeds)
        paths = [f"/quote/{s}/C{i:04d}/USDT" for i in range(feeds) for s in sources]
        for name, start in targets.items():
            proc, url = start(urls, pairs_file=pairs)
            try:
                t = time.monotonic()
                statuses = asyncio.run(_warm(url, paths))
                warm = time.monotonic() - t
                r = _burst(url, feeds, sources, nodes)
                r["warm_s"] = round(warm, 2)
                r["warm_statuses"] = {str(k): v for k, v in statuses.items()}
                res[name] = r
            finally:
                proc.stop()
    finally:
        fakes.stop()
    return res


def phase_oracle(
    fake_url: str, name: str, start: Starter, duration: int, ttl_ms: int, stale_ms: int
) -> dict[str, Any]:
    pairs = Path(tempfile.mkdtemp()) / "pairs20.json"
    bases = ["BTC", *COLD_BASES[:19]]
    pairs.write_text(json.dumps({"binance": [f"{b}/USDT" for b in bases]}))
    proc, url = start({"binance": fake_url}, ttl_ms=ttl_ms, stale_ms=stale_ms)
    try:
        out = subprocess.run(
            [
                sys.executable,
                str(SHARED_BENCH / "load.py"),
                "--url",
                url,
                "--mode",
                "oracle",
                "--nodes",
                "5",
                "--interval",
                "5",
                "-d",
                str(duration),
                "--pairs-file",
                str(pairs),
                "--upstream-stats",
                fake_url + "/stats",
                "--validate",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        up = r.get("upstream", {})
        calls = up.get("requests_total", sum((up.get("requests") or {}).values()))
        return {
            "target": name,
            "ttl_ms": ttl_ms,
            "stale_trigger_ms": stale_ms,
            "duration_s": duration,
            "requests": r.get("requests"),
            "ok": r.get("ok"),
            "upstream_calls": calls,
            "upstream_calls_per_min": round(calls * 60 / duration, 1),
            "latency_ms": r.get("latency_ms"),
        }
    finally:
        proc.stop()


# ---------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd")
    s = sub.add_parser("_serve")
    s.add_argument("--server", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--upstreams", default="{}")
    s.add_argument("--bare", action="store_true")
    s.add_argument("--raw", action="store_true")
    s.add_argument("--pairs-file")
    s.add_argument("--ttl-ms", type=int, default=300_000)
    s.add_argument("--stale-ms", type=int, default=5_000)
    s.add_argument("--rps", type=float)
    f = sub.add_parser("_fakes")
    f.add_argument("--sources", required=True)
    f.add_argument("--count", type=int, default=1000)
    f.add_argument("--latency-ms", type=float, default=20)
    f.add_argument("--out", required=True)
    ap.add_argument("--phases", default="hot,cold,rss,burst,oracle,hostile")
    ap.add_argument(
        "--hostile",
        default="connections,junk,bodies",
        help="sections of the hostile phase (connections, junk, bodies)",
    )
    ap.add_argument("--no-nginx", action="store_true", help="skip the nginx ceiling")
    ap.add_argument("--servers", default=",".join(SERVERS))
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    ap.add_argument(
        "--rounds", type=int, default=1, help="hot phase: interleaved repetitions (median kept)"
    )
    ap.add_argument("--oracle-duration", type=int, default=60)
    ap.add_argument(
        "--reference",
        help="directory of the reference price-aggregator built by hand (node dist/main.js); "
        "never part of this repository",
    )
    args = ap.parse_args()
    if args.cmd == "_serve":
        _child_serve(args)
        return 0
    if args.cmd == "_fakes":
        _child_fakes(args)
        return 0
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk not installed (Debian package wrk)\n")
        return 3
    phases = set(args.phases.split(","))
    servers = args.servers.split(",")
    default = servers[0]
    fake_port = free_port()
    fake = Proc([sys.executable, str(SHARED_BENCH / "fake_binance.py"), str(fake_port), "20"])
    fake_url = f"http://127.0.0.1:{fake_port}"
    result: dict[str, Any] = {
        "bench": "aggregator",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
    }
    ref = {"reference": reference(args.reference)} if args.reference else {}
    main_targets: dict[str, Starter] = {**ref, default: ours(default)}
    try:
        wait_http(fake_url + "/stats")
        if "hot" in phases:
            hot: dict[str, Starter] = dict(ref)
            nginx = None if args.no_nginx else hostile.ensure_nginx()
            if nginx is not None:
                hot["nginx"] = nginx_target(nginx)
            for server in servers:
                hot[server] = ours(server)
                hot[f"{server}-bare"] = ours(server, bare=True)
                hot[f"{server}-const"] = ours(server, raw=True)
            result["hot"] = phase_hot(fake_url, hot, args.duration, args.rounds)
            result["hot_ratios"] = _ratios(result["hot"], default)
        if "cold" in phases:
            result["cold"] = phase_cold(fake_url, main_targets)
        if "rss" in phases:
            result["rss"] = phase_rss(main_targets)
        if "burst" in phases:
            # the OCR round on binance only (the reference's other adapters have fixed URLs)
            result["burst"] = phase_burst(main_targets, ("binance",), 1820)
            # the realistic mix: 260 feeds x 7 sources, every server
            result["burst7"] = phase_burst({s: ours(s) for s in servers}, BURST_SOURCES, 260)
        if "hostile" in phases:
            result["hostile"] = phase_hostile(fake_url, main_targets, set(args.hostile.split(",")))
        if "oracle" in phases:
            result["oracle"] = [
                phase_oracle(fake_url, name, start, args.oracle_duration, 10_000, stale)
                for name, start in main_targets.items()
                for stale in ((5_000,) if name == "reference" else (5_000, 1_000))
            ]
    finally:
        fake.stop()
    _human(result)
    print(json.dumps(result))
    return 0


def _ratios(hot: dict[str, Any], ours_name: str) -> dict[str, Any]:
    """ours / reference and ours / nginx (req/s), measured in the same run."""
    out: dict[str, Any] = {}
    mine = hot.get(ours_name, {}).get("rps")
    for other in ("reference", "nginx", f"{ours_name}-const"):
        theirs = hot.get(other, {}).get("rps")
        if mine and theirs:
            out[f"{ours_name}/{other}"] = round(mine / theirs, 2)
    return out


def _human(r: dict[str, Any]) -> None:
    w = sys.stderr.write
    for name, h in r.get("hot", {}).items():
        lat = h["latency_ms"]
        w(
            f"hot    {name:16} {h['rps']:>9.0f} req/s  p50 {lat['p50']:.2f} ms"
            f"  p99 {lat['p99']:.2f} ms  errors {sum(h['errors'].values())}  rss {h['rss_mb']} MB"
            f"  runs {h.get('rps_runs', [])}\n"
        )
    c = r.get("cold", {})
    for name, v in c.items():
        if name != "direct_upstream_ms":
            w(
                f"cold   {name:16} p50 {v['p50']} ms  p90 {v['p90']} ms  (direct upstream p50 "
                f"{c['direct_upstream_ms']['p50']} ms, overhead {v['overhead_p50_ms']} ms)\n"
            )
    for name, v in r.get("rss", {}).items():
        if isinstance(v, dict):
            w(f"rss    {name:16} {r['rss']['tracked_pairs']} pairs: {v['rss_mb']} MB\n")
    for key in ("burst", "burst7"):
        for name, b in r.get(key, {}).items():
            if isinstance(b, dict):
                w(
                    f"{key:6} {name:16} {b['round_requests']} requests in {b['round_s']} s"
                    f" ({b['rps']:.0f} req/s)  non-200 {b['non200']}"
                    f"  p99 {b['latency_ms']['p99']} ms\n"
                )
    for k, v in r.get("hot_ratios", {}).items():
        w(f"ratio  {k:16} {v}x\n")
    for line in hostile.human(r.get("hostile", {})):
        w(line + "\n")
    for o in r.get("oracle", []):
        w(
            f"oracle {o['target']:16} ttl {o['ttl_ms']} trigger {o['stale_trigger_ms']}: "
            f"{o['upstream_calls_per_min']} upstream calls/min ({o['ok']}/{o['requests']} ok)\n"
        )


if __name__ == "__main__":
    sys.exit(main())
