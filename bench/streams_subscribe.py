#!/usr/bin/env python3
"""How soon a new pair is subscribed on each exchange stream (docs/streams.md: "within 1 s").

For each of the six streaming sources, the real :class:`StreamManager` (production
``StreamConfig`` defaults, only ``ws_url`` pointed at the fake) connects to the fake exchange
of ``tests/fakes/ws_exchanges.py`` (each speaking its exchange's real frame format) with one
pair subscribed. Then, ``--runs`` times, a second pair is added with ``set_pairs`` and the time
until the fake exchange has the subscription request is measured; the pair is removed again
(and its unsubscription awaited) before the next run. The documented ceiling, 1 s, is
reported beside the worst case as a ratio. (This claim used to be a wall-clock assert in
tests/aggregator/streams/test_live.py.)

  uv run python bench/streams_subscribe.py [--runs 20]

Prints one JSON line, then a human table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: docs/streams.md, StreamManager.set_pairs: "New pairs are subscribed within 1 s"
CEILING_S = 1.0


async def _until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def measure(name: str, runs: int) -> list[float]:
    from prometheus_client import CollectorRegistry
    from tests.aggregator.streams.harness import API_KEY, PAIRS, SECOND, RecordingSink
    from tests.fakes.ws_exchanges import FAKES

    from sealfeed.aggregator.streams import StreamManager
    from sealfeed.config.model import SourceConfig, StreamConfig
    from sealfeed.secret import Secret

    fake = FAKES[name](api_key=API_KEY)
    url = await fake.start()
    cfg = SourceConfig(name=name, api_key=Secret(API_KEY), stream=StreamConfig(ws_url=url))
    manager = StreamManager({name: cfg}, RecordingSink(), registry=CollectorRegistry())
    await manager.start()
    (first, first_id), (second, second_id) = PAIRS[name], SECOND[name]
    try:
        manager.set_pairs(name, {first})
        await _until(lambda: first_id in fake.subscribed(), 30, f"{name} first pair")
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            manager.set_pairs(name, {first, second})
            await _until(lambda: second_id in fake.subscribed(), 30, f"{name} second pair")
            out.append(time.perf_counter() - t0)
            manager.set_pairs(name, {first})
            await _until(lambda: second_id not in fake.subscribed(), 30, f"{name} unsubscribe")
        return out
    finally:
        await manager.stop()
        await fake.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="subscriptions per exchange")
    args = parser.parse_args()
    from tests.fakes.ws_exchanges import FAKES

    per: dict[str, dict[str, float]] = {}
    for name in sorted(FAKES):
        samples = asyncio.run(measure(name, args.runs))
        per[name] = {
            "p50_ms": round(1000 * statistics.median(samples), 1),
            "max_ms": round(1000 * max(samples), 1),
        }
    worst = max(v["max_ms"] for v in per.values()) / 1000
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    result = {
        "bench": "streams_subscribe",
        "commit": commit,
        "runs_per_exchange": args.runs,
        "ceiling_s": CEILING_S,
        "worst_s": round(worst, 3),
        "worst_over_ceiling": round(worst / CEILING_S, 3),
        "exchanges": per,
    }
    print(json.dumps(result))
    print(f"{'exchange':<14} {'p50 ms':>8} {'max ms':>8}")
    for name, v in per.items():
        print(f"{name:<14} {v['p50_ms']:>8} {v['max_ms']:>8}")
    print(f"worst {worst:.3f} s = {worst / CEILING_S:.2f} x the documented 1 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
