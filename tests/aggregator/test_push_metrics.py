"""Aggregator metrics pushed (design §3.3.4) to a real Pushgateway and a real VictoriaMetrics,
and read back from them; a dead receiver never blocks a request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sealfeed.aggregator.app import create_app
from sealfeed.config.model import MetricsPushConfig, MonitoringLabels, SourceConfig
from tests.aggregator.helpers import agg_config, fakes, lifespan, run
from tests.fixtures.metrics_backends import Pushgateway, VictoriaMetrics

LABELS = MonitoringLabels(instance="agg-test", environment="test")


def _push(url: str, **kw: object) -> MetricsPushConfig:
    return MetricsPushConfig(enabled=True, url=url, interval_ms=1000, job_name="price-aggregator",
                             grouping_labels={"service": "price-aggregator"}, **kw)  # type: ignore[arg-type]  # fmt: skip


def _serve_some(push: MetricsPushConfig, seconds: float) -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            sources = {"binance": SourceConfig(name="binance", base_url=fx["binance"].base_url)}
            app = create_app(agg_config(sources, metrics_push=push), LABELS, streams=False)
            async with lifespan(app) as client:
                r = await client.get("/quote/binance/BTC/USDT")
                assert r.status == 200
                await asyncio.sleep(seconds)

    run(scenario(), timeout=30)


def test_pushes_to_a_real_pushgateway(metrics_pushgateway: Pushgateway) -> None:
    metrics_pushgateway.wipe()
    _serve_some(_push(metrics_pushgateway.url), 2.5)
    series = metrics_pushgateway.series("sealfeed_aggregator_requests_total")
    assert series, metrics_pushgateway.metrics_text()[:2000]
    labels = series[0][0]
    assert labels["job"] == "price-aggregator" and labels["instance"] == "agg-test"
    assert any(v >= 1 for _, v in series)


def test_pushes_to_a_real_victoriametrics(metrics_victoria: VictoriaMetrics) -> None:
    _serve_some(
        _push(metrics_victoria.url + "/api/v1/import/prometheus", kind="victoriametrics"), 2.5
    )
    metrics_victoria.flush()
    series = metrics_victoria.series("sealfeed_aggregator_requests_total", instance="agg-test")
    assert series and series[0][0]["job"] == "price-aggregator"


def test_dead_receiver_does_not_block_requests(free_port: Callable[[], int]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"  # nothing listens: every push is refused

    def failures(text: str) -> float:
        for line in text.splitlines():
            if line.startswith("sealfeed_push_consecutive_failures"):
                return float(line.split()[-1])
        return 0.0

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            sources = {"binance": SourceConfig(name="binance", base_url=fx["binance"].base_url)}
            push = _push(dead, timeout_ms=200)
            app = create_app(agg_config(sources, metrics_push=push), LABELS, streams=False)
            async with lifespan(app) as client:
                assert (await client.get("/quote/binance/BTC/USDT")).status == 200
                while failures((await client.get("/metrics")).body.decode()) < 2:
                    await asyncio.sleep(0.05)  # bounded by run()'s timeout
                # pushes keep failing (counted, retried) and requests are still answered,
                # a new pair's upstream fetch included
                fx["binance"].set_price("ETH", "USDT", "3000.5")
                r = await client.get("/quote/binance/ETH/USDT")
                assert r.status == 200 and r.json()["price"] == "3000.5"
        # leaving the lifespan stopped the pusher: shutdown does not hang on a dead receiver

    run(scenario(), timeout=60)
