"""Every source end to end against its fake: exact prices, missing symbols, and each failure
mode (malformed JSON, HTML page, 5xx, timeout, 429/418) -> one concise log line, the last
valid value served with its true age while within TTL, 503 after, never a crash."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from sealfeed.aggregator.sources import SOURCE_NAMES
from sealfeed.aggregator.status import source_status
from tests.aggregator.helpers import fakes, run, service
from tests.fakes.exchanges import SAMPLE


def _path(name: str) -> str:
    (b, q), _ = SAMPLE[name]
    return f"/quote/{name}/{b}/{q}"


def test_every_source_serves_exact_price_text() -> None:
    async def scenario() -> None:
        async with fakes(SOURCE_NAMES) as fx, service(fx) as (client, _app):
            resps = await asyncio.gather(*(client.get(_path(n)) for n in SOURCE_NAMES))
            for name, r in zip(SOURCE_NAMES, resps, strict=True):
                (b, q), price = SAMPLE[name]
                assert r.status == 200, (name, r)
                doc = r.json()
                assert doc["price"] == price, name
                assert doc["source"] == name and doc["pair"] == [b, q]
                assert doc["receivedAt"].endswith("Z") and len(doc["receivedAt"]) == 24
                # lower-case symbols hit the same entry
                again = await client.get(f"/quote/{name}/{b.lower()}/{q.lower()}")
                assert again.json() == doc
                assert fx[name].total_calls == 1, name

    run(scenario())


def test_missing_symbol_is_404_with_reference_message() -> None:
    async def scenario() -> None:
        async with fakes(SOURCE_NAMES) as fx, service(fx) as (client, app):
            resps = await asyncio.gather(
                *(client.get(f"/quote/{n}/NOPE/{SAMPLE[n][0][1]}") for n in SOURCE_NAMES)
            )
            for name, r in zip(SOURCE_NAMES, resps, strict=True):
                assert r.status == 404, (name, r)
                body = r.json()
                assert set(body) == {"statusCode", "timestamp", "message"}
                assert (
                    body["message"] == f"No price found for NOPE/{SAMPLE[name][0][1]} from {name}"
                )
            # the registration is dropped, as the reference does
            pairs = (await client.get("/quote/pairs/all")).json()["pairs"]
            assert pairs == []
            status = source_status(app.aggregator)
            assert all(status[n]["healthy"] for n in SOURCE_NAMES)  # not a source outage

    run(scenario())


MODES = ["malformed", "html", "500", "503", "timeout", "429", "418"]


@pytest.mark.parametrize("mode", MODES)
def test_failure_serves_last_valid_value_then_503(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    ttl_ms = 1_500

    async def scenario() -> None:
        kw: dict[str, Any] = {"ttl_ms": ttl_ms, "timeout_ms": 300}
        async with fakes(SOURCE_NAMES) as fx, service(fx, source_kw=kw) as (client, app):
            agg = app.aggregator
            first = await asyncio.gather(*(client.get(_path(n)) for n in SOURCE_NAMES))
            assert all(r.status == 200 for r in first)
            for f in fx.values():
                f.mode = mode
                f.retry_after = "0"
            caplog.clear()
            # a refresh fails: the still-valid value stays and is served with its true age
            futs = []
            for name in SOURCE_NAMES:
                st = agg.sources[name]
                futs.append(agg._schedule(st, SAMPLE[name][0]))
            settled = await asyncio.gather(*futs, return_exceptions=True)
            for name, res, r in zip(SOURCE_NAMES, settled, first, strict=True):
                assert not isinstance(res, BaseException), (name, res)
                assert res.price == SAMPLE[name][1]
                again = await client.get(_path(name))
                assert again.status == 200
                assert again.json()["receivedAt"] == r.json()["receivedAt"], name
            lines = [rec for rec in caplog.records if rec.name.startswith("sealfeed.aggregator")]
            for name in SOURCE_NAMES:
                mine = [rec for rec in lines if rec.getMessage().startswith(f"{name}: upstream")]
                assert len(mine) == 1, (name, [m.getMessage() for m in mine])
                msg = mine[0].getMessage()
                assert "\n" not in msg and mine[0].exc_info is None
                assert "key-" not in msg  # API keys never reach a log line
            status = source_status(agg)
            assert not status["binance"]["healthy"]
            assert status["binance"]["lastError"]
            # once the value expires and the source is still down: 503 with the age
            await asyncio.sleep(ttl_ms / 1000 + 0.05)
            down = await asyncio.gather(*(client.get(_path(n)) for n in SOURCE_NAMES))
            for name, r in zip(SOURCE_NAMES, down, strict=True):
                assert r.status == 503, (name, r)
                body = r.json()
                assert body["statusCode"] == 503 and "timestamp" in body
                assert body["ageMs"] >= ttl_ms
                assert (
                    body["lastReceivedAt"] == first[SOURCE_NAMES.index(name)].json()["receivedAt"]
                )
                assert f"Source {name} unavailable" in body["message"]

    run(scenario(), timeout=30)


def test_rate_limit_retry_after_pauses_the_source() -> None:
    async def scenario() -> None:
        async with fakes(["binance"]) as fx, service(fx) as (client, app):
            fx["binance"].mode = "429"
            fx["binance"].retry_after = "30"
            r = await client.get("/quote/binance/BTC/USDT")
            assert r.status == 503
            assert "rate_limited" in r.json()["message"]
            assert fx["binance"].total_calls == 1  # a long Retry-After is not retried
            budget = (await client.get("/sources")).json()["sources"]["binance"]["rateLimit"]
            assert budget["blockedForMs"] > 25_000
            # while paused, a miss fails fast (no upstream call, no 10 s wait)
            fx["binance"].mode = None
            r = await client.get("/quote/binance/ETH/USDT")
            assert r.status == 503 and "Retry-After" in r.json()["message"]
            assert fx["binance"].total_calls == 1
            st = app.aggregator.sources["binance"]
            # a new pair whose attempt just failed answers 503 from memory for a moment
            assert st.probing[("BTC", "USDT")].failed_at_ms
            st.client.limiter.blocked_until = 0  # (test) lift the pause: the next call goes out
            st.probing.clear()  # (test) and forget the recent failures
            assert (await client.get("/quote/binance/BTC/USDT")).status == 200

    run(scenario())


def test_transient_5xx_is_retried_with_backoff() -> None:
    async def scenario() -> None:
        async with fakes(["okx"]) as fx, service(fx) as (client, _app):
            fake = fx["okx"]
            fake.mode = "502"

            async def heal() -> None:
                while fake.total_calls < 2:
                    await asyncio.sleep(0.005)
                fake.mode = None

            healer = asyncio.create_task(heal())
            r = await client.get("/quote/okx/BTC/USDT")
            await healer
            assert r.status == 200
            assert 2 <= fake.total_calls <= 4  # max 3 retries

    run(scenario())


def test_missing_api_key_is_unauthorized_not_a_crash() -> None:
    async def scenario() -> None:
        async with fakes(["finnhub", "exchangerate-host"]) as fx:
            for f in fx.values():
                f.api_key = "the-right-key"
            async with service(fx) as (client, _app):
                r1 = await client.get("/quote/finnhub/BTC/USDT")
                r2 = await client.get("/quote/exchangerate-host/USD/EUR")
                assert r1.status == 503 and "unauthorized" in r1.json()["message"]
                assert r2.status == 503 and "unauthorized" in r2.json()["message"]
                assert fx["finnhub"].total_calls == 1  # 401 is not retried

    run(scenario())


def test_logs_never_contain_query_keys(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with fakes(["alphavantage"]) as fx, service(fx) as (client, _app):
            fx["alphavantage"].mode = "html"
            caplog.set_level(logging.DEBUG)
            await client.get("/quote/alphavantage/BTC/USD")
            text = "\n".join(r.getMessage() for r in caplog.records)
            assert "key-alphavantage" not in text

    run(scenario())
