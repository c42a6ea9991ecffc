"""Hot-path counts (ADR 0150): plain integers on the request path, folded into the
Prometheus counters by the registry's own collection -- once, whoever collects."""

from __future__ import annotations

import threading

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sealfeed.aggregator.metrics import QUOTE_ROUTE, AggregatorMetrics


def _counts(m: AggregatorMetrics) -> tuple[dict[str, float], float]:
    fams = {f.name: f for f in text_string_to_metric_families(generate_latest(m.registry).decode())}
    hits = {
        s.labels["source"]: s.value
        for s in fams["sealfeed_aggregator_cache_lookups"].samples
        if s.name.endswith("_total") and s.labels["result"] == "hit"
    }
    ok = sum(
        s.value
        for s in fams["sealfeed_aggregator_requests"].samples
        if s.name.endswith("_total") and s.labels == {"route": QUOTE_ROUTE, "status": "200"}
    )
    return hits, ok


def test_hot_hits_appear_in_the_next_collection_and_are_never_counted_twice() -> None:
    m = AggregatorMetrics()
    for _ in range(3):
        m.hot_hit("binance")
    m.hot_hit("kraken")
    m.request(QUOTE_ROUTE, 200)  # a quote answered by the routed path
    assert _counts(m) == ({"binance": 3.0, "kraken": 1.0}, 5.0)
    assert _counts(m) == ({"binance": 3.0, "kraken": 1.0}, 5.0)  # collected again: same
    m.hot_hit("binance")
    assert _counts(m) == ({"binance": 4.0, "kraken": 1.0}, 6.0)


def test_collections_in_other_threads_lose_and_double_nothing() -> None:
    m = AggregatorMetrics()
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            generate_latest(m.registry)

    scrapers = [threading.Thread(target=scrape) for _ in range(2)]
    for t in scrapers:
        t.start()
    try:
        for _ in range(50_000):
            m.hot_hit("binance")
    finally:
        stop.set()
        for t in scrapers:
            t.join()
    assert _counts(m) == ({"binance": 50_000.0}, 50_000.0)
