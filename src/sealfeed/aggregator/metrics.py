"""Prometheus metrics of one aggregator app: one CollectorRegistry per app, never the global.

Names follow conventions.md (``sealfeed_aggregator_*``). Label children used on the hot path
are resolved once and memoised, so a cached GET costs one dict lookup + one ``inc``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from sealfeed.config.model import MonitoringLabels

# upstream latency buckets (s): exchanges answer in 20 ms..10 s (timeout_ms default 10 s)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class AggregatorMetrics:
    def __init__(self, labels: MonitoringLabels | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
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
        self.refresh_lag = Histogram(
            "sealfeed_aggregator_refresh_lag_seconds",
            "how late a background refresh started after its pair became due",
            ["source"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.stream_quotes = Counter(
            "sealfeed_aggregator_stream_quotes",
            "prices received from streaming clients",
            ["source"],
            registry=r,
        )
        info = Gauge(
            "sealfeed_aggregator_info",
            "constant 1, labelled with the deployment's monitoring labels",
            ["instance", "environment"],
            registry=r,
        )
        labels = labels or MonitoringLabels()
        info.labels(labels.instance, labels.environment).set(1)
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def child(self, metric: MetricWrapperBase, *values: str) -> MetricWrapperBase:
        key = (id(metric), values)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = metric.labels(*values)
        return c

    def request(self, route: str, status: int) -> None:
        self.child(self.requests, route, str(status)).inc()  # type: ignore[attr-defined]

    def cache_result(self, source: str, result: str) -> None:
        self.child(self.cache, source, result).inc()  # type: ignore[attr-defined]

    def observe_upstream(self, source: str, outcome: str, kind: str, seconds: float) -> None:
        self.child(self.upstream_calls, source, outcome).inc()  # type: ignore[attr-defined]
        self.child(self.upstream_latency, source).observe(seconds)  # type: ignore[attr-defined]
        if outcome != "ok":
            self.child(self.upstream_errors, source, kind).inc()  # type: ignore[attr-defined]


__all__ = ["AggregatorMetrics"]
