"""Pure adapter tests: request building, symbol mapping, recorded response shapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from sealfeed.aggregator.adapters import (
    ADAPTERS,
    UpstreamError,
    coingecko_id,
    decode_json,
    finnhub_symbol,
    kraken_keys,
    valid_price,
    yahoo_symbol,
)
from sealfeed.aggregator.fetch import parse_retry_after
from sealfeed.aggregator.sources import SOURCE_NAMES, canonical_source

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "recorded.json").read_text())
CASES = [
    pytest.param(name, i, case, id=f"{name}-{i}")
    for name in SOURCE_NAMES
    for i, case in enumerate(RECORDED[name])
]


def test_thirteen_sources_have_adapters_and_fixtures() -> None:
    assert len(SOURCE_NAMES) == 13
    assert set(ADAPTERS) == set(SOURCE_NAMES)
    assert set(RECORDED) - {"_comment"} == set(SOURCE_NAMES)


@pytest.mark.parametrize(("name", "i", "case"), CASES)
def test_recorded_shapes(name: str, i: int, case: dict) -> None:
    adapter = ADAPTERS[name]
    pairs = [tuple(p) for p in case["pairs"]]
    reqs = adapter.requests(pairs, 100, "k")
    assert reqs, "at least one request"
    req = next(r for r in reqs if set(r.pairs) & set(pairs))
    req = type(req)(req.path, req.params, tuple(pairs), req.headers)
    body = case["body"].encode()
    if "error" in case:
        with pytest.raises(UpstreamError) as err:
            adapter.parse_response(req, case["status"], body)
        assert err.value.kind == case["error"]
        return
    prices = adapter.parse_response(req, case["status"], body)
    assert {f"{b}/{q}": v for (b, q), v in prices.items()} == case["expect"]


def test_prices_keep_exact_digits() -> None:
    # a JSON number never goes through float: 0.1 + trailing zeros survive as sent
    assert decode_json(b'{"p": 0.10000000000000000001}', 200) == {"p": "0.10000000000000000001"}
    assert valid_price("67012.34000000") == "67012.34000000"
    assert valid_price("1.5e-7") == "1.5e-7"
    for bad in ("0", "-1", "abc", "", "NaN", "Infinity", None, 12, "1,5"):
        assert valid_price(bad) is None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "html"),
        (b"<!DOCTYPE html><html></html>", "html"),
        (b'{"symbol":"BTCUSDT","price":"6701', "malformed"),
        (b"", "malformed"),
        (b"\xff\xfe garbage", "malformed"),
    ],
)
def test_decode_errors_are_upstream_errors(body: bytes, kind: str) -> None:
    with pytest.raises(UpstreamError) as err:
        decode_json(body, 502)
    assert err.value.kind == kind
    assert "\n" not in err.value.message


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_wrong_shapes_never_leak_python_errors(name: str) -> None:
    adapter = ADAPTERS[name]
    req = adapter.requests([("BTC", "USD")], 10, "k")[0]
    for body in (b"[]", b"{}", b"null", b"42", b'"x"', b'{"data": 5, "result": [1]}'):
        with contextlib.suppress(UpstreamError):  # anything else fails the test
            adapter.parse_response(req, 200, body)


def test_batching_respects_batch_size() -> None:
    pairs = [(f"C{i}", "USDT") for i in range(1200)]
    reqs = ADAPTERS["binance"].requests(pairs, 500, None)
    assert [len(r.pairs) for r in reqs] == [500, 500, 200]
    assert reqs[0].params[0][0] == "symbols"
    assert json.loads(reqs[0].params[0][1])[0] == "C0USDT"
    single = ADAPTERS["binance"].requests([("btc", "usdt")], 500, None)
    assert single[0].params == (("symbol", "btcusdt"),)
    assert len(ADAPTERS["kraken"].requests(pairs[:120], 50, None)) == 3
    assert len(ADAPTERS["okx"].requests(pairs, 200, None)) == 1  # one call returns all tickers
    assert len(ADAPTERS["coinbase"].requests(pairs[:5], None, None)) == 5  # no batch API


def test_fx_sources_batch_per_base() -> None:
    pairs = [("USD", "EUR"), ("USD", "GBP"), ("EUR", "USD")]
    reqs = ADAPTERS["exchangerate-host"].requests(pairs, 100, "secret")
    assert [(dict(r.params)["source"], dict(r.params)["currencies"]) for r in reqs] == [
        ("EUR", "USD"),
        ("USD", "EUR,GBP"),
    ]
    assert all(dict(r.params)["access_key"] == "secret" for r in reqs)
    fr = ADAPTERS["frankfurter"].requests(pairs, 100, None)
    assert [dict(r.params) for r in fr] == [
        {"from": "EUR", "to": "USD"},
        {"from": "USD", "to": "EUR,GBP"},
    ]


def test_symbol_mapping() -> None:
    assert kraken_keys(("BTC", "USD"))[:2] == ("XBTUSD", "XXBTZUSD")
    assert kraken_keys(("DOGE", "USD"))[0] == "XDGUSD"
    assert kraken_keys(("SOL", "USD"))[0] == "SOLUSD"
    assert coingecko_id("BTC") == "bitcoin"
    assert coingecko_id("some-coin-id") == "some-coin-id"
    assert yahoo_symbol(("EUR", "USD")) == "EURUSD=X"
    assert yahoo_symbol(("BTC", "USD")) == "BTC-USD"
    assert yahoo_symbol(("AAPL", "USD")) == "AAPL"
    assert finnhub_symbol(("BTC", "USDT")) == "BINANCE:BTCUSDT"
    assert finnhub_symbol(("EUR", "USD")) == "OANDA:EUR_USD"


def test_api_keys_go_where_each_api_wants_them() -> None:
    cg = ADAPTERS["coingecko"].requests([("BTC", "USD")], 100, "cg")[0]
    assert dict(cg.headers) == {"x-cg-pro-api-key": "cg"}
    assert ADAPTERS["coingecko"].base_url(None, "cg") == "https://pro-api.coingecko.com"
    assert ADAPTERS["coingecko"].base_url(None, None) == "https://api.coingecko.com"
    cc = ADAPTERS["cryptocompare"].requests([("BTC", "USD")], 50, "cc")[0]
    assert dict(cc.headers) == {"authorization": "Apikey cc"}
    fh = ADAPTERS["finnhub"].requests([("BTC", "USDT")], None, "fh")[0]
    assert dict(fh.headers) == {"X-Finnhub-Token": "fh"}
    av = ADAPTERS["alphavantage"].requests([("BTC", "USD")], None, "av")[0]
    assert dict(av.params)["apikey"] == "av"


def test_canonical_source_names() -> None:
    assert canonical_source("exchangeratehost") == "exchangerate-host"
    assert canonical_source("Exchange_Rate-Host") == "exchangerate-host"
    assert canonical_source("yahoofinance") == "yahoofinance"
    assert canonical_source("BINANCE") == "binance"
    assert canonical_source("nope") is None


def test_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
