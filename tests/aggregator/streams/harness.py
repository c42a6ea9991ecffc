"""Shared helpers for the streaming tests: a recording sink, configs, a live rig."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from sealfeed.aggregator.streams import StreamManager
from sealfeed.config.model import SourceConfig, StreamConfig
from sealfeed.secret import Secret
from tests.fakes.ws_exchanges import FAKES, FakeExchange

#: one tracked pair per exchange, the exchange identifier and a second pair
PAIRS: dict[str, tuple[tuple[str, str], str]] = {
    "binance": (("BTC", "USDT"), "btcusdt@miniTicker"),
    "okx": (("BTC", "USDT"), "BTC-USDT"),
    "kraken": (("XBT", "USD"), "BTC/USD"),
    "coinbase": (("BTC", "USD"), "BTC-USD"),
    "cryptocompare": (("BTC", "USD"), "5~CCCAGG~BTC~USD"),
    "finnhub": (("BTC", "USDT"), "BINANCE:BTCUSDT"),
}
SECOND: dict[str, tuple[tuple[str, str], str]] = {
    "binance": (("ETH", "USDT"), "ethusdt@miniTicker"),
    "okx": (("ETH", "USDT"), "ETH-USDT"),
    "kraken": (("ETH", "USD"), "ETH/USD"),
    "coinbase": (("ETH", "USD"), "ETH-USD"),
    "cryptocompare": (("ETH", "USD"), "5~CCCAGG~ETH~USD"),
    "finnhub": (("ETH", "USDT"), "BINANCE:ETHUSDT"),
}
NAMES = sorted(FAKES)
API_KEY = "sekret-key-0123456789"


@dataclass
class RecordingSink:
    quotes: list[tuple[str, str, str, str, int]] = field(default_factory=list)

    def on_stream_quote(
        self, source: str, base: str, quote: str, price: str, received_at_ms: int
    ) -> None:
        self.quotes.append((source, base, quote, price, received_at_ms))


def stream_config(url: str, **kw: Any) -> StreamConfig:
    defaults: dict[str, Any] = {
        "ws_url": url,
        "heartbeat_interval_ms": 5_000,
        "batch_size": 50,
        "rate_limit_ms": 0,
        "unresponsive_timeout_ms": 10_000,
        "reconnect_interval_ms": 20,
        "max_backoff_ms": 100,
    }
    defaults.update(kw)
    return StreamConfig(**defaults)


async def wait_until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.01)


@dataclass
class Rig:
    name: str
    fake: FakeExchange
    manager: StreamManager
    sink: RecordingSink
    registry: CollectorRegistry

    @property
    def pair(self) -> tuple[str, str]:
        return PAIRS[self.name][0]

    @property
    def ident(self) -> str:
        return PAIRS[self.name][1]

    def status(self) -> dict[str, Any]:
        return self.manager.status()[self.name]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, {"source": self.name, **labels})

    async def subscribed(self, ident: str | None = None, timeout: float = 5.0) -> None:
        ident = ident or self.ident
        await wait_until(lambda: ident in self.fake.subscribed(), timeout, f"{ident} subscribed")

    async def quote_flows(self, price: str = "100.5", timeout: float = 5.0) -> None:
        """Publish until the sink has ``price`` (a fresh socket may still be subscribing)."""
        deadline = time.monotonic() + timeout
        while not any(q[3] == price for q in self.sink.quotes):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: price {price} never reached the sink")
            await self.fake.publish(self.ident, price)
            await asyncio.sleep(0.02)


class rig:  # used as ``async with rig(...) as r``
    def __init__(self, name: str, *, ttl_ms: int = 300_000, **stream_kw: Any) -> None:
        self.name = name
        self.ttl_ms = ttl_ms
        self.stream_kw = stream_kw

    async def __aenter__(self) -> Rig:
        fake = FAKES[self.name](api_key=API_KEY)
        url = await fake.start()
        cfg = SourceConfig(
            name=self.name,
            ttl_ms=self.ttl_ms,
            api_key=Secret(API_KEY),
            stream=stream_config(url, **self.stream_kw),
        )
        sink = RecordingSink()
        registry = CollectorRegistry()
        manager = StreamManager({self.name: cfg}, sink, registry=registry)
        self._rig = Rig(self.name, fake, manager, sink, registry)
        await manager.start()
        return self._rig

    async def __aexit__(self, *exc: object) -> None:
        await self._rig.manager.stop()
        await self._rig.fake.close()
