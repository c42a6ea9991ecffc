#!/usr/bin/env python3
"""Streaming benchmark: sustained WebSocket quotes from all six sources into a sink.

A child process runs the six fake exchanges (tests/fakes/ws_exchanges.py, each speaking its
exchange's real frame format) and publishes ticker frames at ``--rate`` messages/s in total,
spread evenly over sources and pairs. This process runs the real :class:`StreamManager` and
a counting sink, and measures -- over the steady window only -- its own CPU use, the quotes
delivered per second, the delivery lag (sink time minus the exchange event time) and the
event-loop lag an HTTP server sharing the loop would add to its p99 (``sleep(5 ms)``
overshoot), with an idle baseline (streams connected, nothing published) measured first in
the same run. With ``--http`` a minimal hot-cache endpoint (Starlette + uvicorn, fed by the
sink) runs on the same event loop and ``wrk -t2 -c50`` loads it in both phases: the p99
difference is what 5,000 stream messages/s add to serving.

  uv run python bench/streams.py --rate 5000 --window 10 [--http]

Prints one JSON line, then a human table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = ["binance", "okx", "kraken", "coinbase", "cryptocompare", "finnhub"]
BASES = [f"B{i:03d}" for i in range(200)]
QUOTE = {"binance": "USDT", "okx": "USDT", "kraken": "USD", "coinbase": "USD",
         "cryptocompare": "USD", "finnhub": "USDT"}  # fmt: skip
API_KEY = "bench-key"


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# -- child: the exchanges ---------------------------------------------------------------


async def serve(rate: int, pairs: int, duration: float) -> None:
    from tests.fakes.ws_exchanges import FAKES

    from sealfeed.aggregator.streams import EXCHANGES

    fakes = {name: FAKES[name](api_key=API_KEY) for name in SOURCES}
    urls = {name: await f.start() for name, f in fakes.items()}
    print(json.dumps(urls), flush=True)
    idents = {
        name: [EXCHANGES[name]().identifier(b, QUOTE[name]) for b in BASES[:pairs]]
        for name in SOURCES
    }
    # wait for the client to subscribe everything
    deadline = time.monotonic() + 60
    while any(len(f.subscribed()) < pairs for f in fakes.values()):
        if time.monotonic() > deadline:
            raise SystemExit("client never subscribed all pairs")
        await asyncio.sleep(0.05)
    sys.stdin.readline()  # "go" from the parent after its idle baseline
    tick = 0.01
    per_tick = rate * tick
    sent = 0
    carry = 0.0
    start = time.monotonic()
    order = [(name, i) for i in range(pairs) for name in SOURCES]
    pos = 0
    while (now := time.monotonic()) - start < duration:
        carry += per_tick
        n, carry = int(carry), carry - int(carry)
        ms = int(time.time() * 1000)
        for _ in range(n):
            name, i = order[pos % len(order)]
            pos += 1
            price = f"{100 + (pos % 997) / 1000:.8f}"
            sent += await fakes[name].publish(idents[name][i], price, ms)
        next_tick = start + (round((now - start) / tick) + 1) * tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    print(json.dumps({"sent": sent, "seconds": time.monotonic() - start}), flush=True)
    sys.stdin.readline()
    for f in fakes.values():
        await f.close()


# -- parent: the client -----------------------------------------------------------------


class CountingSink:
    def __init__(self) -> None:
        self.cache: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.count = 0
        self.lags: list[float] = []
        self.recording = False

    def on_stream_quote(
        self, source: str, base: str, quote: str, price: str, received_at_ms: int
    ) -> None:
        self.count += 1
        self.cache[(source, base, quote)] = (price, received_at_ms)
        # cryptocompare's event time has whole-second resolution: no lag sample from it
        if self.recording and source != "cryptocompare" and self.count % 10 == 0:
            self.lags.append(time.time() * 1000 - received_at_ms)


async def loop_lag(seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append((time.perf_counter() - t0 - 0.005) * 1000)
    return out


async def hot_cache_server(cache: dict[tuple[str, str, str], tuple[str, int]]) -> Any:
    """A minimal in-process hot-cache endpoint (Starlette + uvicorn) on the same event loop."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def quote(request: Any) -> JSONResponse:
        p = request.path_params
        hit = cache.get((p["source"], p["base"], p["quote"]))
        if hit is None:
            return JSONResponse({"error": "not cached"}, status_code=404)
        return JSONResponse(
            {"source": p["source"], "pair": [p["base"], p["quote"]], "price": hit[0],
             "receivedAt": hit[1]}
        )  # fmt: skip

    app = Starlette(routes=[Route("/quote/{source}/{base}/{quote}", quote)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def wrk(url: str, seconds: float) -> dict[str, Any]:
    lua = ROOT.parent / "shared" / "bench" / "wrk_json.lua"
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t2", "-c50", f"-d{int(seconds)}s", "-s", str(lua), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    line = [x for x in out.decode().splitlines() if x.startswith("{")][-1]
    return dict(json.loads(line))


async def measure(sink: CountingSink, seconds: float, url: str | None) -> dict[str, Any]:
    c0, cpu0, w0 = sink.count, time.process_time(), time.monotonic()
    lag_task = asyncio.create_task(loop_lag(seconds))
    http = await wrk(url, seconds) if url else None
    lags = await lag_task
    wall = time.monotonic() - w0
    return {
        "quotes": sink.count - c0,
        "cpu": time.process_time() - cpu0,
        "wall": wall,
        "loop_lag": lags,
        "http": http,
    }


async def client(args: argparse.Namespace) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from sealfeed.aggregator.streams import StreamManager
    from sealfeed.config.model import SourceConfig, StreamConfig
    from sealfeed.secret import Secret

    window = args.window
    duration = window + 4.0  # ramp-up + window + slack
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--rate", str(args.rate), "--pairs",
         str(args.pairs), "--duration", str(duration)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    urls = json.loads(child.stdout.readline())
    sources = {
        name: SourceConfig(
            name=name,
            api_key=Secret(API_KEY),
            stream=StreamConfig(ws_url=urls[name], rate_limit_ms=0, batch_size=50),
        )
        for name in SOURCES
    }
    sink = CountingSink()
    url = None
    server = None
    if args.http:
        server, server_task, port = await hot_cache_server(sink.cache)
        sink.cache[("binance", "BTC", "USDT")] = ("65000.00000000", int(time.time() * 1000))
        url = f"http://127.0.0.1:{port}/quote/binance/BTC/USDT"
    manager = StreamManager(sources, sink, registry=CollectorRegistry())
    await manager.start()
    for name in SOURCES:
        manager.set_pairs(name, {(b, QUOTE[name]) for b in BASES[: args.pairs]})
    while any(
        st["subscribed_pairs"] < args.pairs or not st["connected"]
        for st in manager.status().values()
    ):
        await asyncio.sleep(0.05)
    idle = await measure(sink, window, url)
    child.stdin.write("go\n")
    child.stdin.flush()
    await asyncio.sleep(2.0)  # ramp-up
    sink.recording = True
    busy = await measure(sink, window, url)
    sink.recording = False
    done = await asyncio.to_thread(child.stdout.readline)
    sent = json.loads(done)
    child.stdin.write("bye\n")
    child.stdin.flush()
    status = manager.status()
    await manager.stop()
    if server is not None:
        server.should_exit = True
        await server_task
    child.wait(timeout=20)
    wall = busy["wall"]
    result: dict[str, Any] = {
        "bench": "streams",
        "sources": len(SOURCES),
        "pairs_per_source": args.pairs,
        "target_msgs_per_s": args.rate,
        "sent_msgs_per_s": round(sent["sent"] / sent["seconds"], 1),
        "delivered_quotes_per_s": round(busy["quotes"] / wall, 1),
        "client_cpu_percent_idle": round(100 * idle["cpu"] / idle["wall"], 1),
        "client_cpu_percent_streaming": round(100 * busy["cpu"] / wall, 1),
        "cpu_us_per_quote": round(1e6 * (busy["cpu"] - idle["cpu"] * wall / idle["wall"])
                                  / max(1, busy["quotes"]), 1),
        "delivery_lag_ms_p50": round(_pct(sink.lags, 50), 2),
        "delivery_lag_ms_p99": round(_pct(sink.lags, 99), 2),
        "loop_lag_ms_p99_idle": round(_pct(idle["loop_lag"], 99), 3),
        "loop_lag_ms_p99_streaming": round(_pct(busy["loop_lag"], 99), 3),
        "reconnects": sum(s["reconnects"] for s in status.values()),
        "window_s": round(wall, 2),
    }  # fmt: skip
    if args.http:
        hi, hb = idle["http"], busy["http"]
        result.update(
            {
                "http_rps_idle": hi["rps"],
                "http_rps_streaming": hb["rps"],
                "http_p99_ms_idle": hi["latency_ms"]["p99"],
                "http_p99_ms_streaming": hb["latency_ms"]["p99"],
                "http_added_p99_ms": round(hb["latency_ms"]["p99"] - hi["latency_ms"]["p99"], 3),
                "http_errors_streaming": sum(hb["errors"].values()),
            }
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000, help="messages/s over all sources")
    parser.add_argument("--pairs", type=int, default=20, help="pairs per source")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--duration", type=float, default=15.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--http",
        action="store_true",
        help="also serve a hot-cache endpoint on the same loop and load it with wrk",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.rate, args.pairs, args.duration))
        return 0
    result = asyncio.run(client(args))
    print(json.dumps(result))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
