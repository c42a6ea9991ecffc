"""Cache semantics (design §3.3.1 and better): single-flight, coalescing, refresh before
expiry, errors never overwrite valid values, cleanup, pairs preload, streaming sink."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sealfeed.aggregator.cache import QuoteCache, QuoteSink
from sealfeed.config.model import PairCleanupConfig, PairTtl, RefetchConfig
from tests.aggregator.helpers import fakes, run, service

BASES = ["BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "DOT", "LINK", "AVAX", "LTC"]


def test_single_flight_many_concurrent_misses_one_upstream_call() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, _app):
            fx["binance"].latency_s = 0.05
            resps = await asyncio.gather(
                *(client.get("/quote/binance/BTC/USDT") for _ in range(50))
            )
            assert {r.status for r in resps} == {200}
            assert len({r.body for r in resps}) == 1
            assert fx["binance"].total_calls == 1

    run(scenario())


def test_coalescing_concurrent_misses_of_a_source_become_one_batched_call() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            for i, b in enumerate(BASES):
                fx["binance"].set_price(b, "USDT", f"{i + 1}.5")
            async with service(fx) as (client, _app):
                resps = await asyncio.gather(
                    *(client.get(f"/quote/binance/{b}/USDT") for b in BASES)
                )
                assert [r.json()["price"] for r in resps] == [f"{i + 1}.5" for i in range(10)]
                calls = fx["binance"].calls
                assert len(calls) == 1
                assert json.loads(calls[0][1]["symbols"]) == sorted(f"{b}USDT" for b in BASES)

    run(scenario())


def test_one_unknown_symbol_does_not_fail_the_batch() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, _app):
            ok, bad = await asyncio.gather(
                client.get("/quote/binance/BTC/USDT"), client.get("/quote/binance/NOPE/USDT")
            )
            assert ok.status == 200 and bad.status == 404
            # batch rejected with -1121, then bisected: here into single-symbol calls
            assert [c[1].get("symbols") is not None for c in fx["binance"].calls] == [
                True,
                False,
                False,
            ]

    run(scenario())


def test_refresher_refetches_before_expiry_so_hot_pairs_never_miss() -> None:
    refetch = RefetchConfig(
        enabled=True,
        stale_trigger_before_expiry_ms=600,
        batch_interval_ms=50,
        min_time_between_refreshes_ms=100,
    )

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            for b in BASES[:5]:
                fx["binance"].set_price(b, "USDT", "10.0")
            async with service(fx, source_kw={"ttl_ms": 1_000}, refetch=refetch) as (c, app):
                await asyncio.gather(*(c.get(f"/quote/binance/{b}/USDT") for b in BASES[:5]))
                first_calls = fx["binance"].total_calls
                assert first_calls == 1
                misses_before = _metric(app, "sealfeed_aggregator_cache_lookups_total", "miss")
                fx["binance"].set_price("BTC", "USDT", "11.0")
                # for 2.5 TTLs every GET is a hit and values move on
                for _ in range(25):
                    r = await c.get("/quote/binance/BTC/USDT")
                    assert r.status == 200
                    await asyncio.sleep(0.1)
                assert r.json()["price"] == "11.0"
                misses = _metric(app, "sealfeed_aggregator_cache_lookups_total", "miss")
                assert misses == misses_before
                # all five pairs refresh together: one batched call per cycle (~every 0.4 s)
                refresh_calls = fx["binance"].calls[first_calls:]
                assert 3 <= len(refresh_calls) <= 8, len(refresh_calls)
                assert all(len(json.loads(q["symbols"])) == 5 for _, q, _ in refresh_calls)

    run(scenario())


def _metric(app: Any, name: str, result: str) -> float:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    text = generate_latest(app.state.registry).decode()
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels.get("result") == result:
                total += s.value
    return total


def test_upstream_error_never_overwrites_a_valid_value() -> None:
    async def scenario() -> None:
        async with fakes(["kraken"]) as fx, service(fx) as (client, app):
            r1 = await client.get("/quote/kraken/BTC/USD")
            fx["kraken"].mode = "malformed"
            agg = app.aggregator
            q = await agg._schedule(agg.sources["kraken"], ("BTC", "USD"))
            assert q.body == r1.body
            assert agg.cache.get(("kraken", "BTC", "USD")).body == r1.body
            # recovery stores the new value with a new receivedAt
            fx["kraken"].mode = None
            fx["kraken"].set_price("BTC", "USD", "70000.0")
            await asyncio.sleep(0.002)
            q2 = await agg._schedule(agg.sources["kraken"], ("BTC", "USD"))
            assert q2.price == "70000.0" and q2.received_at_ms > q.received_at_ms

    run(scenario())


def test_cleanup_drops_inactive_pairs_and_endpoint_reports_count() -> None:
    cleanup = PairCleanupConfig(enabled=True, inactive_timeout_ms=300, cleanup_interval_ms=100)

    async def scenario() -> None:
        async with fakes(["okx"]) as fx, service(fx, pair_cleanup=cleanup) as (client, app):
            assert (await client.get("/quote/okx/BTC/USDT")).status == 200
            assert len((await client.get("/quote/pairs/okx")).json()["pairs"]) == 1
            await asyncio.sleep(0.6)
            assert (await client.get("/quote/pairs/okx")).json() == {"source": "okx", "pairs": []}
            assert app.aggregator.cache.get(("okx", "BTC", "USDT")) is None
            # manual cleanup (reference POST /quote/cleanup answers 201)
            assert (await client.get("/quote/okx/BTC/USDT")).status == 200
            app.aggregator.sources["okx"].tracked[("BTC", "USDT")].last_request_ms -= 10_000
            r = await client.post("/quote/cleanup")
            assert r.status == 201 and r.json() == {"removedCount": 1}

    run(scenario())


def test_pairs_file_preload_and_per_pair_ttl(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"binance": ["BTC/USDT", "eth/usdt"], "unknown": ["A/B"]}))
    ttl = (PairTtl(base="BTC", quote="USDT", ttl_ms=15_000, source="binance"),)

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            fx["binance"].set_price("ETH", "USDT", "3000.1")
            async with service(fx, pairs_file=str(pairs), pairs_ttl=ttl) as (client, app):
                regs = (await client.get("/quote/pairs/all")).json()["pairs"]
                assert [(r["source"], r["pair"]) for r in regs] == [
                    ("binance", ["BTC", "USDT"]),
                    ("binance", ["ETH", "USDT"]),
                ]
                tracked = app.aggregator.sources["binance"].tracked
                assert tracked[("BTC", "USDT")].ttl_ms == 15_000
                assert tracked[("ETH", "USDT")].ttl_ms == 300_000
                # the preloaded pairs are fetched at start (one batched call)
                await asyncio.sleep(0.1)
                assert fx["binance"].total_calls == 1
                assert (await client.get("/quote/binance/ETH/USDT")).json()["price"] == "3000.1"
                assert fx["binance"].total_calls == 1

    run(scenario())


class FakeStreams:
    """The streaming helper's StreamManager contract, for the integration test."""

    def __init__(self, sink: QuoteSink) -> None:
        self.sink = sink
        self.pairs: dict[str, set[tuple[str, str]]] = {}
        self.live: set[tuple[str, str, str]] = set()
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def set_pairs(self, source: str, pairs: set[tuple[str, str]]) -> None:
        self.pairs[source] = set(pairs)

    def is_live(self, source: str, base: str, quote: str) -> bool:
        return (source, base, quote) in self.live

    def status(self) -> dict[str, dict[str, Any]]:
        return {"binance": {"connected": True, "subscriptions": len(self.pairs.get("binance", ()))}}


def test_stream_sink_updates_cache_like_rest_and_replaces_rest_refresh() -> None:
    refetch = RefetchConfig(enabled=True, stale_trigger_before_expiry_ms=299_000,
                            batch_interval_ms=60_000, min_time_between_refreshes_ms=0)  # fmt: skip
    holder: dict[str, FakeStreams] = {}

    def factory(agg: Any) -> FakeStreams:
        holder["s"] = FakeStreams(agg)
        return holder["s"]

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            async with service(fx, streams=factory, refetch=refetch) as (client, app):
                streams = holder["s"]
                assert streams.started
                assert (await client.get("/quote/binance/BTC/USDT")).status == 200
                assert streams.pairs["binance"] == {("BTC", "USDT")}
                # a stream message lands in the cache exactly like a REST result
                streams.sink.on_stream_quote(
                    "binance", "BTC", "USDT", "68000.01", 1_900_000_000_000
                )
                doc = (await client.get("/quote/binance/BTC/USDT")).json()
                assert doc["price"] == "68000.01"
                assert doc["receivedAt"] == "2030-03-17T17:46:40.000Z"
                # an older REST/stream value never replaces a newer one
                streams.sink.on_stream_quote("binance", "BTC", "USDT", "1.0", 1_800_000_000_000)
                assert (await client.get("/quote/binance/BTC/USDT")).json()["price"] == "68000.01"
                streams.sink.on_stream_quote("binance", "BTC", "USDT", "garbage", 1_950_000_000_000)
                assert (await client.get("/quote/binance/BTC/USDT")).json()["price"] == "68000.01"
                # live stream -> no REST refresh; stream down -> REST fallback
                agg = app.aggregator
                streams.live.add(("binance", "BTC", "USDT"))
                assert agg.due_pairs(agg.sources["binance"], 1_950_000_000_000) == []
                streams.live.clear()
                due = agg.due_pairs(agg.sources["binance"], 2_000_000_000_000)
                assert due == [("BTC", "USDT")]
                status = (await client.get("/sources")).json()["sources"]["binance"]
                assert status["stream"] == {"connected": True, "subscriptions": 1}
                agg.cleanup(now=10**13)
                assert streams.pairs["binance"] == set()
            assert streams.stopped

    run(scenario())


def test_cache_put_keeps_newest() -> None:
    cache = QuoteCache()
    a = cache.put("binance", "BTC", "USDT", "1.0", 2_000, 1_000)
    b = cache.put("binance", "BTC", "USDT", "2.0", 1_000, 1_000)
    assert a is b and cache.fresh(("binance", "BTC", "USDT"), 2_999) is a
    assert cache.fresh(("binance", "BTC", "USDT"), 3_000) is None


def test_unknown_pair_is_remembered_for_a_while() -> None:
    async def scenario() -> None:
        async with fakes(["coinbase"]) as fx, service(fx) as (client, app):
            for _ in range(5):
                r = await client.get("/quote/coinbase/NOPE/USD")
                assert r.status == 404
            assert fx["coinbase"].total_calls == 1
            st = app.aggregator.sources["coinbase"]
            st.not_found[("NOPE", "USD")] = 0  # (test) expire the negative entry
            fx["coinbase"].set_price("NOPE", "USD", "2.5")  # listed meanwhile
            assert (await client.get("/quote/coinbase/NOPE/USD")).json()["price"] == "2.5"

    run(scenario())


def test_bad_pairs_files_are_precise_input_errors(tmp_path: Path) -> None:
    import pytest

    from sealfeed.aggregator.pairs import load_pairs_file
    from sealfeed.errors import InputError

    cases = {
        "nope.json": "cannot read pairs file",
        "notjson.json": "not JSON",
        "list.json": "must be an object",
        "entry.json": '"BASE/QUOTE"',
    }
    (tmp_path / "notjson.json").write_text("{")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "entry.json").write_text(json.dumps({"binance": ["BTC/USDT", "BTCUSDT"]}))
    for name, needle in cases.items():
        with pytest.raises(InputError) as err:
            load_pairs_file(str(tmp_path / name))
        assert needle in err.value.message
    assert "entry.json: binance[1]" in str(err.value)
