"""Prometheus metrics of one aggregator app: one CollectorRegistry per app, never the global.

Names follow conventions.md (``sealfeed_aggregator_*``). Label children are resolved once
and memoised. A cached GET answered on the hot path (:meth:`AggregatorMetrics.hot_hit`) costs
one dict lookup and one integer add: its two counts (a cache hit, a 200 on the quote route)
are folded into the Prometheus counters whenever the registry is collected -- ``/metrics``,
the pusher -- by a collector registered before them (ADR 0150).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sealfeed.config.model import MonitoringLabels

#: the route template of a single quote (its ``requests`` label)
QUOTE_ROUTE = "/quote/{source}/{base}/{quote}"

#: UpstreamError.kind of "the source answered: it does not know this pair" (adapters.py)
UNKNOWN_PAIR = "unknown_pair"

# upstream latency buckets (s): exchanges answer in 20 ms..10 s (timeout_ms default 10 s)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

#: a labelled metric (Counter, Gauge, Histogram...); ``labels()`` returns the same type
_M = TypeVar("_M", bound=MetricWrapperBase)


class _FoldHotHits(Collector):
    """Collected first (registered before every counter): folds the hot path's plain counts
    into the counters, so the same collection exposes them. Yields no metric itself."""

    def __init__(self, metrics: AggregatorMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        self._metrics.fold_hot_hits()
        return ()


class AggregatorMetrics:
    def __init__(self, labels: MonitoringLabels | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        #: per source [served on the hot path, already folded into the counters]; only the
        #: event loop's thread adds (the one thread granian runs the app on), folding takes
        #: the difference under a lock, so a collection in another thread loses nothing
        self._hot: dict[str, list[int]] = {}
        self._fold_lock = threading.Lock()
        r.register(_FoldHotHits(self))
        self.requests = Counter(
            "sealfeed_aggregator_requests",
            "HTTP requests served, by route template and status",
            ["route", "status"],
            registry=r,
        )
        self.cache = Counter(
            "sealfeed_aggregator_cache_lookups",
            "quote lookups by result: hit (fresh), miss (nothing valid), stale (served while a "
            "refresh failed or was pending)",
            ["source", "result"],
            registry=r,
        )
        self.upstream_calls = Counter(
            "sealfeed_aggregator_upstream_calls",
            "upstream HTTP calls by outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "sealfeed_aggregator_upstream_errors",
            "failed upstream calls by error kind",
            ["source", "kind"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "sealfeed_aggregator_upstream_latency_seconds",
            "upstream call latency",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tracked_pairs = Gauge(
            "sealfeed_aggregator_tracked_pairs", "pairs tracked per source", ["source"], registry=r
        )
        self.probing_pairs = Gauge(
            "sealfeed_aggregator_probing_pairs",
            "pairs asked for that never had a value (fetched on demand only; expire soon)",
            ["source"],
            registry=r,
        )
        self.rejected = Counter(
            "sealfeed_aggregator_rejected_requests",
            "requests refused before any work: invalid_symbol, body_too_large, bad_body, "
            "body_timeout, busy (too many new pairs waiting)",
            ["reason"],
            registry=r,
        )
        self.evicted = Counter(
            "sealfeed_aggregator_evicted_connections",
            "client connections closed by the connection guard: silent (no request within the "
            "timeout) or over_cap (idlest first when connections exceed the cap)",
            ["reason"],
            registry=r,
        )
        self.refresh_lag = Histogram(
            "sealfeed_aggregator_refresh_lag_seconds",
            "how late a background refresh started after its pair became due",
            ["source"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        # design §7.5 "data source unavailable > 5 minutes". Written only when the state
        # flips (see _set_up), so neither cached GETs nor stream quotes pay for it.
        # (Stream quotes themselves are counted by the streams package as
        # sealfeed_aggregator_stream_quotes_total, registered into this same registry.)
        self.source_up = Gauge(
            "sealfeed_aggregator_source_up",
            "1 while the source answers (last upstream call ok, or its stream delivers quotes), "
            "0 after a failed upstream call; 1 from start until a call fails",
            ["source"],
            registry=r,
        )
        self._up: dict[str, bool] = {}
        info = Gauge(
            "sealfeed_aggregator_info",
            "constant 1, labelled with the deployment's monitoring labels",
            ["instance", "environment"],
            registry=r,
        )
        labels = labels or MonitoringLabels()
        info.labels(labels.instance, labels.environment).set(1)
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def child(self, metric: _M, *values: str) -> _M:
        """``metric.labels(*values)``, memoised: a Counter's child is a Counter, and so on."""
        key = (id(metric), values)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = metric.labels(*values)
        # the key starts with id(metric), so the memo holds metric.labels(...): type _M
        return cast(_M, c)

    def hot_hit(self, source: str) -> None:
        """A cached quote of ``source`` answered on the hot path: one cache hit and one 200
        on :data:`QUOTE_ROUTE`, counted when the registry is next collected."""
        counts = self._hot.get(source)
        if counts is None:
            counts = self._hot[source] = [0, 0]
        counts[0] += 1

    def fold_hot_hits(self) -> None:
        with self._fold_lock:
            for source, counts in list(self._hot.items()):
                served = counts[0]
                new = served - counts[1]
                if new:
                    self.child(self.cache, source, "hit").inc(new)
                    self.child(self.requests, QUOTE_ROUTE, "200").inc(new)
                    counts[1] = served

    def request(self, route: str, status: int) -> None:
        self.child(self.requests, route, str(status)).inc()

    def set_tracked(self, source: str, count: int) -> None:
        self.child(self.tracked_pairs, source).set(count)

    def set_probing(self, source: str, count: int) -> None:
        self.child(self.probing_pairs, source).set(count)

    def observe_refresh_lag(self, source: str, seconds: float) -> None:
        self.child(self.refresh_lag, source).observe(seconds)

    def reject(self, reason: str) -> None:
        self.child(self.rejected, reason).inc()

    def evict(self, reason: str, count: int = 1) -> None:
        self.child(self.evicted, reason).inc(count)

    def cache_result(self, source: str, result: str) -> None:
        self.child(self.cache, source, result).inc()

    def observe_upstream(self, source: str, outcome: str, kind: str, seconds: float) -> None:
        self.child(self.upstream_calls, source, outcome).inc()
        self.child(self.upstream_latency, source).observe(seconds)
        if outcome != "ok":
            self.child(self.upstream_errors, source, kind).inc()
        # "unknown_pair" is an answer about one symbol, not an outage (source_status() also
        # keeps such a source healthy)
        self._set_up(source, outcome == "ok" or kind == UNKNOWN_PAIR)

    def init_sources(self, sources: Iterable[str]) -> None:
        """Give every enabled source its ``source_up`` series at start (1: nothing failed yet)."""
        for source in sources:
            self._up.pop(source, None)
            self._set_up(source, True)

    def stream_alive(self, source: str) -> None:
        """A stream delivered a quote: the source is up (one dict lookup when unchanged)."""
        if self._up.get(source) is not True:
            self._set_up(source, True)

    def _set_up(self, source: str, up: bool) -> None:
        if self._up.get(source) is not up:
            self._up[source] = up
            self.child(self.source_up, source).set(1.0 if up else 0.0)


__all__ = ["AggregatorMetrics"]
