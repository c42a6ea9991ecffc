"""HTTP API shapes: reference-compatible errors, batch and median endpoints, status, metrics."""

from __future__ import annotations

import asyncio
import re

from prometheus_client.parser import text_string_to_metric_families

from sealfeed.aggregator.app import create_app
from sealfeed.config.model import SourceConfig
from tests.aggregator.helpers import agg_config, fakes, lifespan, run, service

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_error_shapes_match_the_reference() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            sources = {
                "binance": SourceConfig(name="binance", base_url=fx["binance"].base_url),
                "okx": SourceConfig(name="okx", enabled=False),
            }
            app = create_app(agg_config(sources), streams=False)
            async with lifespan(app) as client:
                r = await client.get("/quote/nosuch/BTC/USDT")
                assert r.status == 404
                body = r.json()
                assert list(body) == ["statusCode", "timestamp", "message"]
                assert body["statusCode"] == 404 and ISO_MS.match(body["timestamp"])
                assert body["message"] == "Adapter not found for source: nosuch"
                r = await client.get("/quote/okx/BTC/USDT")
                assert (r.status, r.json()["message"]) == (404, "Adapter okx is disabled")
                r = await client.get("/quote/coinbase/BTC/USDT")  # known, not configured
                assert r.json()["message"] == "Adapter not found for source: coinbase"
                r = await client.get("/quote/pairs/nosuch")
                assert r.status == 404
                r = await client.get("/no/such/route")
                assert r.status == 404 and r.json()["message"] == "Cannot GET /no/such/route"
                r = await client.get("/quote/cleanup")
                assert r.status == 405 and r.json()["statusCode"] == 405
                r = await client.get("/quote/BINANCE/btc/usdt")  # case-insensitive source
                assert r.status == 200 and r.json()["pair"] == ["BTC", "USDT"]
                assert r.headers["content-type"].startswith("application/json")

    run(scenario())


def test_request_timeout_is_408_and_the_fetch_still_fills_the_cache() -> None:
    async def scenario() -> None:
        async with fakes(["coinbase"]) as fx:
            fx["coinbase"].latency_s = 0.4
            async with service(fx, quotes_request_timeout_ms=100) as (client, _app):
                r = await client.get("/quote/coinbase/BTC/USD")
                assert r.status == 408
                assert r.json()["message"] == (
                    "Quote request timeout after 100ms for coinbase BTC/USD"
                )
                await asyncio.sleep(0.4)
                assert (await client.get("/quote/coinbase/BTC/USD")).status == 200
                assert fx["coinbase"].total_calls == 1

    run(scenario())


def test_batch_endpoint_per_item_results() -> None:
    async def scenario() -> None:
        async with fakes(["binance", "kraken"]) as fx, service(fx) as (client, _app):
            r = await client.post(
                "/quotes/batch",
                {
                    "quotes": [
                        {"source": "binance", "base": "BTC", "quote": "USDT"},
                        {"source": "kraken", "base": "btc", "quote": "usd"},
                        {"source": "binance", "base": "NOPE", "quote": "USDT"},
                        {"source": "nosuch", "base": "BTC", "quote": "USD"},
                        {"source": "binance", "base": 5},
                    ]
                },
            )
            assert r.status == 200
            doc = r.json()
            assert (doc["ok"], doc["failed"]) == (2, 3)
            res = doc["results"]
            assert res[0]["price"] == "67012.34000000" and res[0]["pair"] == ["BTC", "USDT"]
            assert res[1]["price"] == "67005.10000" and res[1]["source"] == "kraken"
            assert res[2]["error"]["statusCode"] == 404
            assert res[3]["error"]["message"] == "Adapter not found for source: nosuch"
            assert res[4]["error"]["statusCode"] == 400
            # a bare list works too; bad bodies are a 400 in the reference error shape
            r = await client.post("/quotes/batch", [{"source": "binance", "base": "BTC",
                                                     "quote": "USDT"}])  # fmt: skip
            assert r.json()["ok"] == 1
            for bad in ({}, [], {"quotes": "x"}):
                r = await client.post("/quotes/batch", bad)
                assert r.status == 400 and r.json()["statusCode"] == 400
            r = await client.request("POST", "/quotes/batch", b"{not json")
            assert r.status == 400

    run(scenario())


def test_median_across_fresh_sources() -> None:
    async def scenario() -> None:
        async with fakes(["binance", "okx", "bybit", "kucoin"]) as fx:
            fx["bybit"].set_price("BTC", "USDT", "67020.0")
            fx["kucoin"].set_price("BTC", "USDT", "67000")
            async with service(fx) as (client, _app):
                for s in ("binance", "okx", "bybit", "kucoin"):
                    assert (await client.get(f"/quote/{s}/BTC/USDT")).status == 200
                r = await client.get("/quote/median/btc/usdt?sources=binance,okx,bybit")
                doc = r.json()
                assert r.status == 200
                assert doc["median"] == "67013.1"  # okx between binance and bybit
                assert [s["source"] for s in doc["sources"]] == ["binance", "okx", "bybit"]
                assert doc["min"] == "67012.34" and doc["max"] == "67020"
                assert doc["spread"] == "7.66" and doc["count"] == 3
                r = await client.get("/quote/median/BTC/USDT")
                assert r.json()["count"] == 4
                assert r.json()["median"] == "67012.72"  # mean of the middle two
                r = await client.get("/quote/median/BTC/USDT?max_age_ms=0&sources=okx")
                await asyncio.sleep(0.01)
                r = await client.get("/quote/median/BTC/USDT?max_age_ms=1&sources=okx,nosuch")
                assert r.status == 404 and r.json()["skipped"]["nosuch"]
                r = await client.get("/quote/median/BTC/USDT?max_age_ms=abc")
                assert r.status == 400

    run(scenario())


def test_sources_health_metrics_docs() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, _app):
            await client.get("/quote/binance/BTC/USDT")
            await client.get("/quote/binance/BTC/USDT")
            srcs = (await client.get("/sources")).json()["sources"]
            assert len(srcs) == 13
            b = srcs["binance"]
            assert b["enabled"] and b["healthy"] and b["trackedPairs"] == 1
            assert ISO_MS.match(b["lastSuccessAt"]) and b["lastError"] is None
            assert b["rateLimit"]["rps"] == 10_000.0 and b["maxBatchSize"] == 500
            assert srcs["okx"] == {"enabled": False, "configured": False}
            root = (await client.get("/")).json()
            assert root["message"] == "Price Proxy Service is running"
            health = (await client.get("/health")).json()
            assert health["status"] == "ok" and health["trackedPairs"] == 1
            spec = (await client.get("/docs-json")).json()
            assert "/quotes/batch" in spec["paths"] and spec["openapi"].startswith("3.")
            assert b"/quote/median" in (await client.get("/docs")).body
            r = await client.get("/metrics")
            assert r.headers["content-type"].startswith("text/plain")
            fams = {f.name: f for f in text_string_to_metric_families(r.body.decode())}
            reqs = {
                (s.labels["route"], s.labels["status"]): s.value
                for s in fams["sealfeed_aggregator_requests"].samples
                if s.name.endswith("_total")
            }
            assert reqs[("/quote/{source}/{base}/{quote}", "200")] == 2
            assert reqs[("/sources", "200")] == 1
            cache = {
                s.labels["result"]: s.value
                for s in fams["sealfeed_aggregator_cache_lookups"].samples
                if s.name.endswith("_total")
            }
            assert cache == {"miss": 1.0, "hit": 1.0}
            for name in (
                "sealfeed_aggregator_upstream_calls",
                "sealfeed_aggregator_upstream_latency_seconds",
                "sealfeed_aggregator_tracked_pairs",
                "sealfeed_aggregator_refresh_lag_seconds",
            ):
                assert name in fams, name

    run(scenario())


def test_each_app_has_its_own_registry() -> None:
    a = create_app(agg_config({}), streams=False)
    b = create_app(agg_config({}), streams=False)
    assert a.state.registry is not b.state.registry


def test_reference_legacy_sources_routes() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            fx["binance"].set_price("ETH", "USDT", "3000.5")
            async with service(fx) as (client, _app):
                r = await client.get("/sources/binance/BTC/USDT")
                assert r.status == 200 and r.json()["price"] == "67012.34000000"
                r = await client.post(
                    "/sources/binance/batch", {"pairs": [["BTC", "USDT"], ["ETH", "USDT"]]}
                )
                assert r.status == 200
                assert [q["price"] for q in r.json()] == ["67012.34000000", "3000.5"]
                r = await client.post("/sources/binance/batch", {"pairs": []})
                assert r.status == 400
                assert r.json()["message"] == "At least one pair must be provided"
                r = await client.get("/sources/binance/pairs")
                assert r.status == 400
                r = await client.get("/sources/nosuch/pairs")
                assert r.status == 404

    run(scenario())


def test_stream_manager_from_package_is_wired(monkeypatch: object) -> None:
    import sys
    import types

    from prometheus_client import Counter

    from sealfeed.aggregator import app as app_mod

    made: dict[str, object] = {}

    class StreamManager:
        def __init__(self, sources: object, sink: object, *, proxy: object = None) -> None:
            made.update(sources=sources, sink=sink, proxy=proxy)
            self.counter = Counter("sealfeed_aggregator_stream_test", "test")

        def collectors(self) -> list[object]:
            return [self.counter]

    mod = types.ModuleType(app_mod.STREAMS_MODULE)
    mod.StreamManager = StreamManager  # type: ignore[attr-defined]
    mp = monkeypatch  # pytest.MonkeyPatch
    mp.setitem(sys.modules, app_mod.STREAMS_MODULE, mod)  # type: ignore[attr-defined]
    mp.setattr(app_mod.importlib.util, "find_spec", lambda name: object())  # type: ignore[attr-defined]
    app = create_app(agg_config({"binance": SourceConfig(name="binance")}), streams=False)
    manager = app_mod.load_streams(app.aggregator, "http://proxy:1")
    assert isinstance(manager, StreamManager)
    assert made["sink"] is app.aggregator and made["proxy"] == "http://proxy:1"
    assert set(made["sources"]) == {"binance"}  # type: ignore[arg-type]
    assert app.state.registry.get_sample_value("sealfeed_aggregator_stream_test_total") == 0.0
