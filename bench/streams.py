#!/usr/bin/env python3
"""Streaming benchmark: sustained WebSocket quotes from all six sources into a sink.

A child process runs the six fake exchanges (tests/fakes/ws_exchanges.py, each speaking its
exchange's real frame format) and publishes ticker frames at ``--rate`` messages/s in total,
spread evenly over sources and pairs. This process runs the real :class:`StreamManager` and
a counting sink, and measures -- over the steady window only -- its own CPU use, the quotes
delivered per second, the delivery lag (sink time minus the exchange event time) and the
event-loop lag an HTTP server sharing the loop would add to its p99 (``sleep(5 ms)``
overshoot), with an idle baseline measured first in the same run.

  uv run python bench/streams.py --rate 5000 --duration 15

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
        self.count = 0
        self.lags: list[float] = []
        self.recording = False

    def on_stream_quote(
        self, source: str, base: str, quote: str, price: str, received_at_ms: int
    ) -> None:
        self.count += 1
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


async def client(args: argparse.Namespace) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from sealfeed.aggregator.streams import StreamManager
    from sealfeed.config.model import SourceConfig, StreamConfig
    from sealfeed.secret import Secret

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--rate", str(args.rate), "--pairs",
         str(args.pairs), "--duration", str(args.duration)],
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
    manager = StreamManager(sources, sink, registry=CollectorRegistry())
    await manager.start()
    for name in SOURCES:
        manager.set_pairs(name, {(b, QUOTE[name]) for b in BASES[: args.pairs]})
    while any(
        st["subscribed_pairs"] < args.pairs or not st["connected"]
        for st in manager.status().values()
    ):
        await asyncio.sleep(0.05)
    idle = await loop_lag(2.0)
    child.stdin.write("go\n")
    child.stdin.flush()
    await asyncio.sleep(2.0)  # ramp-up
    sink.recording = True
    c0, cpu0, w0 = sink.count, time.process_time(), time.monotonic()
    busy = await loop_lag(max(1.0, args.duration - 4.0))
    c1, cpu1, w1 = sink.count, time.process_time(), time.monotonic()
    sink.recording = False
    done = await asyncio.to_thread(child.stdout.readline)
    sent = json.loads(done)
    child.stdin.write("bye\n")
    child.stdin.flush()
    status = manager.status()
    await manager.stop()
    child.wait(timeout=20)
    wall = w1 - w0
    return {
        "bench": "streams",
        "sources": len(SOURCES),
        "pairs_per_source": args.pairs,
        "target_msgs_per_s": args.rate,
        "sent_msgs_per_s": round(sent["sent"] / sent["seconds"], 1),
        "delivered_quotes_per_s": round((c1 - c0) / wall, 1),
        "client_cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 1),
        "cpu_us_per_quote": round(1e6 * (cpu1 - cpu0) / max(1, c1 - c0), 1),
        "delivery_lag_ms_p50": round(_pct(sink.lags, 50), 2),
        "delivery_lag_ms_p99": round(_pct(sink.lags, 99), 2),
        "loop_lag_ms_p99_idle": round(_pct(idle, 99), 3),
        "loop_lag_ms_p99_streaming": round(_pct(busy, 99), 3),
        "reconnects": sum(s["reconnects"] for s in status.values()),
        "window_s": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000, help="messages/s over all sources")
    parser.add_argument("--pairs", type=int, default=20, help="pairs per source")
    parser.add_argument("--duration", type=float, default=15.0, help="publishing seconds")
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
