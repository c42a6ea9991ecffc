"""Issue #16, requests side: junk symbols, poisoned batches, unreachable upstreams and hostile
bodies never take the tracked pairs away from the oracles."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from sealfeed.aggregator.app import create_app
from sealfeed.aggregator.body import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth, parse_json
from sealfeed.aggregator.pairs import MAX_SYMBOL_LEN, is_symbol
from sealfeed.aggregator.service import PROBE_IDLE_MS
from sealfeed.config.model import RefetchConfig
from tests.aggregator.helpers import agg_config, fakes, lifespan, run, service, source_config


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed: refused


# ---------------------------------------------------------------------- symbols
@pytest.mark.parametrize(
    "bad",
    ["..", "a..b", ".BTC", "BTC-", "BT C", "BTC\x00", "BTC\ufffd", "Ж", "x" * (MAX_SYMBOL_LEN + 1),
     "BTC/USD", "%00", "a--b", ""],
)  # fmt: skip
def test_symbol_grammar_rejects(bad: str) -> None:
    assert not is_symbol(bad)


@pytest.mark.parametrize("good", ["BTC", "usdt", "1INCH", "USDC.E", "BRK-B", "avalanche-2", "A_B"])
def test_symbol_grammar_accepts(good: str) -> None:
    assert is_symbol(good)


def test_invalid_symbols_are_400_and_never_registered() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, app):
            for path in (
                "/quote/binance/../USDT",
                "/quote/binance/BTC%00/USDT",
                "/quote/binance/BTC/US%EF%BF%BDDT",
                f"/quote/binance/{'A' * 100}/USDT",
                "/sources/binance/a..b/USDT",
                "/quote/median/BTC/%20",
            ):
                from urllib.parse import unquote

                r = await client.get(unquote(path))
                assert r.status == 400, (path, r)
                body = r.json()
                assert body["statusCode"] == 400 and "invalid" in body["message"]
            r = await client.post(
                "/quotes/batch", {"quotes": [{"source": "binance", "base": "..", "quote": "X"}]}
            )
            assert r.json()["results"][0]["error"]["statusCode"] == 400
            assert fx["binance"].total_calls == 0
            st = app.aggregator.sources["binance"]
            assert st.tracked == {} and st.probing == {}
            assert (
                app.state.registry.get_sample_value(
                    "sealfeed_aggregator_rejected_requests_total", {"reason": "invalid_symbol"}
                )
                == 6
            )  # the batch item is answered inside a 200

    run(scenario())


# ---------------------------------------------------------------------- poisoned batches
def test_junk_pairs_are_never_batched_with_tracked_pairs(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"binance": ["BTC/USDT", "ETH/USDT"]}))
    junk = [f"JUNK{i}" for i in range(40)]

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            fx["binance"].set_price("ETH", "USDT", "3000.5")
            async with service(fx, pairs_file=str(pairs), source_kw={"ttl_ms": 1_000}) as (
                client,
                app,
            ):
                agg = app.aggregator
                st = agg.sources["binance"]
                await asyncio.sleep(0.2)  # the pairs file is fetched at start
                # junk misses and a due refresh of the tracked pairs in the same loop pass
                tasks = [asyncio.create_task(client.get(f"/quote/binance/{j}/USDT")) for j in junk]
                for p in list(st.tracked):
                    agg._schedule(st, p)
                answers = await asyncio.gather(*tasks)
                assert {r.status for r in answers} == {404}
                tracked = {"BTCUSDT", "ETHUSDT"}
                for _path, query, _h in fx["binance"].calls:
                    symbols = set(json.loads(query["symbols"])) if "symbols" in query else set()
                    symbols |= {query["symbol"]} if "symbol" in query else set()
                    assert not (symbols & tracked and symbols - tracked), symbols
                # the unknown pairs are remembered, the tracked ones untouched
                assert set(st.not_found) == {(j, "USDT") for j in junk}
                assert set(st.tracked) == {("BTC", "USDT"), ("ETH", "USDT")}
                calls = fx["binance"].total_calls
                again = await client.get("/quote/binance/JUNK1/USDT")
                assert again.status == 404 and fx["binance"].total_calls == calls

    run(scenario())


def test_unreachable_upstream_junk_flood_real_pairs_stay_503_and_cleanup_removes_junk(
    tmp_path: Path,
) -> None:
    """The issue's scenario: no reachable upstream, 500 requests for made-up symbols. Real
    pairs answer 503 (never 408), their calls still go out, and POST /quote/cleanup removes
    the junk."""
    pairs = tmp_path / "pairs.json"
    real = ["BTC", "ETH", "SOL"]
    pairs.write_text(json.dumps({"binance": [f"{b}/USDT" for b in real]}))
    url = f"http://127.0.0.1:{_closed_port()}"

    async def scenario() -> None:
        cfg = agg_config(
            {"binance": source_config("binance", url, rps=50.0)},
            pairs_file=str(pairs),
            quotes_request_timeout_ms=3_000,
        )
        app2 = create_app(cfg, streams=False, backoff_base_s=0.01)
        async with lifespan(app2) as c:
            agg = app2.aggregator
            st = agg.sources["binance"]
            junk = [c.get(f"/quote/binance/FAKE{i}/USDT") for i in range(500)]
            reals = [c.get(f"/quote/binance/{b}/USDT") for b in real]
            answers = await asyncio.gather(*junk, *reals)
            junk_status = {r.status for r in answers[:500]}
            assert junk_status <= {503}, junk_status
            for r in answers[500:]:
                assert r.status == 503, r  # never 408
                assert "connection" in r.json()["message"]
            # every tracked pair is still tracked (and refreshed); the junk is a probe
            assert set(st.tracked) == {(b, "USDT") for b in real}
            assert len(st.probing) == 500
            regs = (await c.get("/quote/pairs/all")).json()["pairs"]
            assert sum(1 for r in regs if not r["tracked"]) == 500
            r = await c.post("/quote/cleanup")
            assert r.status == 201 and r.json()["removedCount"] == 500
            assert st.probing == {} and len(st.tracked) == 3
            regs = (await c.get("/quote/pairs/all")).json()["pairs"]
            assert [r["pair"][0] for r in regs] == sorted(real)

    run(scenario(), timeout=60)


def test_tracked_pairs_keep_their_budget_under_a_probe_flood(tmp_path: Path) -> None:
    """Coinbase has no batch call: 100 junk pairs are 100 calls on a 5 req/s budget. A
    tracked pair's refetch takes the very next token, ahead of every waiting probe; probes
    beyond what the budget serves within the request timeout are refused at once (503)."""
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"coinbase": ["BTC/USD"]}))
    junk = [f"NOPE{i}" for i in range(100)]

    async def scenario() -> None:
        async with fakes(["coinbase"]) as fx:
            fake = fx["coinbase"]
            async with service(
                fx,
                pairs_file=str(pairs),
                source_kw={"rps": 5.0, "ttl_ms": 1_000},
                quotes_request_timeout_ms=4_000,
            ) as (client, app):
                st = app.aggregator.sources["coinbase"]
                assert st.client.probe_limit == 20  # 5 req/s x 4 s
                await asyncio.sleep(1.1)  # preloaded at start; its value has expired now
                flood = [asyncio.create_task(client.get(f"/quote/coinbase/{j}/USD")) for j in junk]
                await asyncio.sleep(0.3)
                assert st.client.limiter.waiting(probe=True) > 5
                before = fake.total_calls
                real = await client.get("/quote/coinbase/BTC/USD")
                assert real.status == 200
                real_index = next(
                    i
                    for i, c in enumerate(fake.calls)
                    if c[0] == "/v2/prices/BTC-USD/spot" and i >= 1
                )
                assert real_index <= before + 1, (real_index, before)
                results = await asyncio.gather(*flood)
                statuses = [r.status for r in results]
                assert statuses.count(503) >= 100 - 20  # shed at once
                assert all(s in (404, 408, 503) for s in statuses)
                busy = [r for r in results if r.status == 503]
                assert "busy" in busy[0].json()["message"]
                # the budget was respected: no burst of junk calls
                assert fake.total_calls <= 2 + 20

    run(scenario(), timeout=60)


def test_probes_expire_quickly_and_become_tracked_with_their_first_value() -> None:
    refetch = RefetchConfig(enabled=True, batch_interval_ms=50)

    async def scenario() -> None:
        async with fakes(["okx"]) as fx:
            fx["okx"].mode = "503"
            async with service(fx, refetch=refetch) as (client, app):
                agg = app.aggregator
                st = agg.sources["okx"]
                assert (await client.get("/quote/okx/BTC/USDT")).status == 503
                assert ("BTC", "USDT") in st.probing and st.tracked == {}
                calls = fx["okx"].total_calls
                await asyncio.sleep(0.3)  # a probe is never refreshed in the background
                assert fx["okx"].total_calls == calls
                agg.refresh_once(now=st.probing[("BTC", "USDT")].last_request_ms + PROBE_IDLE_MS)
                assert st.probing == {}
                fx["okx"].mode = None
                assert (await client.get("/quote/okx/BTC/USDT")).status == 200
                assert ("BTC", "USDT") in st.tracked and st.probing == {}

    run(scenario())


# ---------------------------------------------------------------------- bodies
def test_json_depth_scan() -> None:
    assert json_depth(b'{"quotes":[{"source":"a","base":"[[[[","quote":"\\"]"}]}') == 3
    assert json_depth(b"[" * 10_000) == MAX_JSON_DEPTH + 1
    assert json_depth(b'"unterminated [[[') == 0
    with pytest.raises(Exception, match="nested deeper"):
        parse_json(b"[" * 10_000 + b"]" * 10_000)


def test_hostile_bodies_are_400_413_and_explained() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, app):
            deep = b"[" * 10_000 + b"]" * 10_000
            for path in ("/quotes/batch", "/sources/binance/batch"):
                r = await client.request("POST", path, deep)
                assert r.status == 400 and "nested deeper than" in r.json()["message"], r
                r = await client.request("POST", path, b"")
                assert r.status == 400 and "empty" in r.json()["message"], r
                r = await client.request("POST", path, b"{not json")
                assert r.status == 400 and "line 1 column 2" in r.json()["message"], r
            # declared too large: refused before reading
            r = await client.request(
                "POST", "/quotes/batch", b"[]", headers=[(b"content-length", b"52428800")]
            )
            assert r.status == 413 and str(MAX_BODY_BYTES) in r.json()["message"]
            # chunked (no length) and too large: reading stops at the limit
            big = b"[" + b'"x",' * (MAX_BODY_BYTES // 4) + b'"x"]'
            r = await client.request("POST", "/quotes/batch", big, headers=[])
            assert r.status == 413
            # an empty batch is explained
            r = await client.post("/quotes/batch", {"quotes": []})
            assert r.status == 400
            assert "the batch is empty" in r.json()["message"]
            assert '{"quotes": [{"source": "binance"' in r.json()["message"]
            r = await client.post("/quotes/batch", {"quotes": [{}] * 1001})
            assert r.status == 400 and "at most 1000" in r.json()["message"]
            reg = app.state.registry
            assert (
                reg.get_sample_value(
                    "sealfeed_aggregator_rejected_requests_total", {"reason": "body_too_large"}
                )
                == 2
            )
            assert (
                reg.get_sample_value(
                    "sealfeed_aggregator_rejected_requests_total", {"reason": "bad_body"}
                )
                == 6
            )

    run(scenario())


def test_a_batch_rejected_for_one_unknown_symbol_is_bisected() -> None:
    """Binance fails a whole symbols=[...] call on one bad symbol: 15 known pairs and one
    unknown cost 1 + 2*log2(16) = 9 calls, not 17, and every known pair gets its price."""
    bases = [f"K{i:02d}" for i in range(15)]

    async def scenario() -> None:
        async with fakes(["binance"]) as fx:
            for b in bases:
                fx["binance"].set_price(b, "USDT", "1.25")
            async with service(fx) as (client, _app):
                answers = await asyncio.gather(
                    *(client.get(f"/quote/binance/{b}/USDT") for b in [*bases, "NOPE"])
                )
                assert [r.status for r in answers] == [200] * 15 + [404]
                assert fx["binance"].total_calls == 9

    run(scenario())
