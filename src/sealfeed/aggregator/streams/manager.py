"""StreamManager: the streaming API the aggregator codes against.

One :class:`SourceStream` per enabled streaming source; it maps the tracked pairs to the
exchange's identifiers and spreads them over as many :class:`~.connection.Connection` s as
the exchange's per-connection subscription limit requires (sticky: a pair stays on its
connection while tracked). Pairs beyond ``max_connections * max_subscriptions`` are not
streamed and stay on REST (reported as ``unassigned_pairs``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sealfeed.aggregator.cache import QuoteSink
from sealfeed.aggregator.sources import DEFAULTS, canonical_source
from sealfeed.config.model import SourceConfig, StreamConfig

from .base import Exchange
from .binance import Binance
from .coinbase import Coinbase
from .connection import Connection
from .cryptocompare import CryptoCompare
from .finnhub import Finnhub
from .kraken import Kraken
from .okx import Okx
from .policy import Settings, redact_url, settings_for

__all__ = ["EXCHANGES", "QuoteSink", "SourceStream", "StreamManager", "venue_mismatch"]

log = logging.getLogger("sealfeed.aggregator.streams")

#: the six streaming sources of design §3.3.2, by configuration name
EXCHANGES: dict[str, type[Exchange]] = {
    cls.name: cls for cls in (Binance, Okx, Kraken, Coinbase, CryptoCompare, Finnhub)
}

Pair = tuple[str, str]


def _reveal(value: object) -> str | None:
    if value is None or value is False:
        return None
    reveal = getattr(value, "reveal", None)
    return str(reveal()) if callable(reveal) else str(value)


class SourceStream:
    """All connections of one source."""

    def __init__(
        self,
        name: str,
        exchange: Exchange,
        cfg: SourceConfig,
        stream_cfg: StreamConfig,
        sink: QuoteSink,
        *,
        proxy: str | None,
        clock: Callable[[], float],
        metrics: _Metrics,
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.sink = sink
        self.clock = clock
        self.settings: Settings = settings_for(exchange, stream_cfg)
        # a pair is "live" (REST may skip it) only while the stream refreshed it within both
        # the unresponsive window and the source's TTL, so skipping REST never lets it expire
        self.live_window_s = min(self.settings.unresponsive_s, max(1, cfg.ttl_ms) / 1000)
        self.api_key = _reveal(cfg.api_key)
        self.url = exchange.url(stream_cfg.ws_url, self.api_key)
        self.url_redacted = redact_url(self.url)
        if cfg.use_proxy is True:
            self.proxy = proxy
        else:
            self.proxy = _reveal(cfg.use_proxy)
        self.pairs_by_id: dict[str, set[Pair]] = {}
        self.owner: dict[str, Connection] = {}
        self.unassigned: set[str] = set()
        self.connections: list[Connection] = [Connection(self, 0)]
        self.malformed_count = 0
        self.sink_errors = 0
        self.config_error: str | None = None
        if exchange.needs_api_key and not self.api_key:
            self.config_error = f"sources.{name}.api_key is required for streaming"
        self._session: aiohttp.ClientSession | None = None
        self._retiring: set[asyncio.Future[None]] = set()
        self._m_messages = metrics.messages.labels(name)
        self._m_quotes = metrics.quotes.labels(name)
        self._m_reconnects = metrics.reconnects.labels(name)
        self._metrics = metrics

    # metric hooks (bound children: this is the per-message hot path)
    def metrics_message(self) -> None:
        self._m_messages.inc()

    def metrics_quote(self) -> None:
        self._m_quotes.inc()

    def metrics_reconnect(self) -> None:
        self._m_reconnects.inc()

    def metrics_error(self, kind: str) -> None:
        self._metrics.errors.labels(self.name, kind).inc()

    def start(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        if self.config_error is not None:
            log.error(
                "stream not started",
                extra={
                    "event": "stream_config_error",
                    "source": self.name,
                    "error": self.config_error,
                },
            )
            return
        for conn in self.connections:
            conn.start(session)

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.connections), *self._retiring)
        self._session = None

    def set_pairs(self, pairs: Iterable[Pair]) -> None:
        wanted: dict[str, set[Pair]] = {}
        for base, quote in pairs:
            pair = (base.upper(), quote.upper())
            wanted.setdefault(self.exchange.identifier(*pair), set()).add(pair)
        self.pairs_by_id = wanted
        for ident in list(self.owner):
            if ident not in wanted:
                self.owner.pop(ident).desired.discard(ident)
        self.unassigned &= wanted.keys()
        limit = self.exchange.max_subscriptions
        for ident in sorted(wanted.keys() - self.owner.keys()):
            conn = next((c for c in self.connections if len(c.desired) < limit), None)
            if conn is None and len(self.connections) < self.exchange.max_connections:
                conn = Connection(self, len(self.connections))
                self.connections.append(conn)
                if self._session is not None and self.config_error is None:
                    conn.start(self._session)
            if conn is None:
                if ident not in self.unassigned:
                    log.warning(
                        "stream subscription limit reached; pair stays on REST",
                        extra={"event": "stream_limit", "source": self.name, "identifier": ident},
                    )
                self.unassigned.add(ident)
                continue
            self.unassigned.discard(ident)
            conn.desired.add(ident)
            self.owner[ident] = conn
        # extra connections left without pairs are closed; the first one always stays
        for conn in self.connections[1:]:
            if not conn.desired and conn.running:
                task = asyncio.ensure_future(conn.stop())
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)
        self.connections = [self.connections[0]] + [c for c in self.connections[1:] if c.desired]
        for conn in self.connections:
            conn.wake()

    def is_live(self, base: str, quote: str) -> bool:
        ident = self.exchange.identifier(base.upper(), quote.upper())
        conn = self.owner.get(ident)
        return conn is not None and conn.is_live(ident, time.monotonic())

    def status(self) -> dict[str, Any]:
        conns = self.connections
        now = self.clock()
        seen = [c.last_message_wall for c in conns if c.last_message_wall is not None]
        subscribed = sum(
            len(self.pairs_by_id.get(i, ())) for c in conns for i in c.subscribed & c.desired
        )
        rejected = {i: r for c in conns for i, (r, _) in c.rejected.items()}
        errors = [c.last_error for c in conns if c.last_error]
        return {
            "connected": all(c.connected for c in conns),
            # no pairs to stream: no socket is opened (connected is false, and that is fine)
            "idle": not self.pairs_by_id,
            "connections": len(conns),
            "reconnects": sum(c.reconnects for c in conns),
            "last_message_age_s": round(max(0.0, now - max(seen)), 3) if seen else None,
            "subscribed_pairs": subscribed,
            "desired_pairs": sum(len(p) for p in self.pairs_by_id.values()),
            "unassigned_pairs": len(self.unassigned),
            "rejected": rejected,
            "last_error": self.config_error or (errors[-1] if errors else None),
            "backoff_s": round(max(c.backoff_s for c in conns), 3),
            "url": self.url_redacted,
        }


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reconnects = Counter(
            "sealfeed_aggregator_stream_reconnects",
            "WebSocket reconnects (each attempt after a lost or failed connection)",
            ["source"],
            registry=registry,
        )
        self.messages = Counter(
            "sealfeed_aggregator_stream_messages",
            "WebSocket messages received (data, control and heartbeat frames)",
            ["source"],
            registry=registry,
        )
        self.quotes = Counter(
            "sealfeed_aggregator_stream_quotes",
            "Prices delivered from streams into the cache",
            ["source"],
            registry=registry,
        )
        self.errors = Counter(
            "sealfeed_aggregator_stream_errors",
            "Stream problems by kind (disconnect, malformed, subscribe_rejected, ...)",
            ["source", "kind"],
            registry=registry,
        )


class _StateCollector(Collector):
    """Gauges computed at scrape time from the live state (no per-message gauge writes)."""

    def __init__(self, manager: StreamManager) -> None:
        self._manager = manager

    def collect(self) -> Iterable[GaugeMetricFamily]:
        connected = GaugeMetricFamily(
            "sealfeed_aggregator_stream_connected",
            "1 when every connection of the source is up",
            labels=["source"],
        )
        age = GaugeMetricFamily(
            "sealfeed_aggregator_stream_last_message_age_seconds",
            "Seconds since the source's last WebSocket message",
            labels=["source"],
        )
        subscribed = GaugeMetricFamily(
            "sealfeed_aggregator_stream_subscribed_pairs",
            "Pairs currently subscribed on the source's streams",
            labels=["source"],
        )
        desired = GaugeMetricFamily(
            "sealfeed_aggregator_stream_desired_pairs",
            "Pairs the aggregator tracks for the source (0: idle, no socket)",
            labels=["source"],
        )
        backoff = GaugeMetricFamily(
            "sealfeed_aggregator_stream_backoff_seconds",
            "Current reconnect backoff (0 while connected)",
            labels=["source"],
        )
        for name, st in self._manager.status().items():
            connected.add_metric([name], 1.0 if st["connected"] else 0.0)
            if st["last_message_age_s"] is not None:
                age.add_metric([name], float(st["last_message_age_s"]))
            subscribed.add_metric([name], float(st["subscribed_pairs"]))
            desired.add_metric([name], float(st["desired_pairs"]))
            backoff.add_metric([name], float(st["backoff_s"]))
        return [connected, age, subscribed, desired, backoff]


def _domain(url: str) -> str | None:
    """The registrable domain of a URL's host (last two labels), None for IPs/localhost."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower().rstrip(".")
    if not host or host == "localhost" or host.replace(".", "").isdigit() or ":" in host:
        return None
    return ".".join(host.split(".")[-2:])


def venue_mismatch(rest_url: str | None, ws_url: str) -> str | None:
    """A one-line problem when a source's REST API and its stream are different venues
    (``api.binance.com`` vs ``stream.binance.us``), else None. Addresses that name no
    domain (an IP, localhost: tests, proxies) are not compared."""
    if not rest_url:
        return None
    rest, ws = _domain(rest_url), _domain(ws_url)
    if rest is None or ws is None or rest == ws:
        return None
    return f"REST {rest} and stream {ws} are different venues"


def _rest_url(name: str, cfg: SourceConfig) -> str | None:
    if cfg.base_url:
        return cfg.base_url
    canon = canonical_source(name)
    return DEFAULTS[canon].base_url if canon is not None else None


class StreamManager:
    """WebSocket quotes for the streaming sources, self-healing, one task per connection."""

    def __init__(
        self,
        sources: Mapping[str, SourceConfig],
        sink: QuoteSink,
        *,
        proxy: str | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        metrics = _Metrics(self.registry)
        self._streams: dict[str, SourceStream] = {}
        for key, cfg in sources.items():
            stream_cfg = cfg.stream
            if not cfg.enabled or stream_cfg is None or not stream_cfg.enabled:
                continue
            exchange_cls = EXCHANGES.get(key.lower())
            if exchange_cls is None:
                log.warning(
                    "no stream protocol for source; REST only",
                    extra={"event": "stream_unsupported", "source": key},
                )
                continue
            exchange = exchange_cls()
            mismatch = venue_mismatch(_rest_url(key, cfg), exchange.url(stream_cfg.ws_url, None))
            if mismatch is not None:
                log.warning(
                    f"{key}: {mismatch}; one source must be one venue (docs/streams.md)",
                    extra={"event": "stream_venue_mismatch", "source": key},
                )
            self._streams[key] = SourceStream(
                key,
                exchange,
                cfg,
                stream_cfg,
                sink,
                proxy=_reveal(proxy),
                clock=clock,
                metrics=metrics,
            )
        self.registry.register(_StateCollector(self))
        self._session: aiohttp.ClientSession | None = None

    @property
    def sources(self) -> list[str]:
        return list(self._streams)

    async def start(self) -> None:
        if self._session is not None:
            return
        # connect timeout only: a WebSocket has no total time, liveness is ours to judge
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10)
        self._session = aiohttp.ClientSession(timeout=timeout)
        for stream in self._streams.values():
            stream.start(self._session)

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._streams.values()))
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def set_pairs(self, source: str, pairs: set[tuple[str, str]]) -> None:
        stream = self._streams.get(source)
        if stream is not None:
            stream.set_pairs(pairs)

    def is_live(self, source: str, base: str, quote: str) -> bool:
        stream = self._streams.get(source)
        return stream is not None and stream.is_live(base, quote)

    def status(self) -> dict[str, dict[str, Any]]:
        return {name: s.status() for name, s in self._streams.items()}
