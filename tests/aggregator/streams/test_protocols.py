"""The pure exchange dialects: builders and parsers on documented example frames."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealfeed.aggregator.streams import EXCHANGES, StreamProtocolError, backoff_delay
from sealfeed.aggregator.streams.base import (
    Ack,
    ExchangeError,
    Pong,
    Reject,
    StreamTick,
    decimal_text,
    parse_rfc3339_ms,
)
from sealfeed.aggregator.streams.binance import Binance
from sealfeed.aggregator.streams.coinbase import Coinbase
from sealfeed.aggregator.streams.cryptocompare import CryptoCompare
from sealfeed.aggregator.streams.finnhub import Finnhub
from sealfeed.aggregator.streams.kraken import Kraken
from sealfeed.aggregator.streams.okx import Okx
from sealfeed.aggregator.streams.policy import redact_url, scrub, settings_for
from sealfeed.config.model import StreamConfig


def test_six_sources() -> None:
    assert sorted(EXCHANGES) == ["binance", "coinbase", "cryptocompare", "finnhub", "kraken", "okx"]


# -- Binance ------------------------------------------------------------------------------


def test_binance() -> None:
    b = Binance()
    assert b.identifier("BTC", "USDT") == "btcusdt@miniTicker"
    assert json.loads(b.subscribe(["btcusdt@miniTicker"], 7)[0]) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@miniTicker"],
        "id": 7,
    }
    assert json.loads(b.unsubscribe(["x"], 8)[0])["method"] == "UNSUBSCRIBE"
    # documented 24hrMiniTicker payload
    frame = (
        '{"e":"24hrMiniTicker","E":1672515782136,"s":"BNBBTC","c":"0.0025","o":"0.0010",'
        '"h":"0.0025","l":"0.0010","v":"10000","q":"18"}'
    )
    assert b.parse(frame) == [StreamTick("bnbbtc@miniTicker", "0.0025", 1672515782136)]
    combined = '{"stream":"bnbbtc@miniTicker","data":' + frame + "}"
    assert b.parse(combined) == b.parse(frame)
    assert b.parse('{"result":null,"id":1}') == [Ack(req_id=1)]
    assert b.parse('{"code":2,"msg":"Invalid request: too many parameters","id":3}') == [
        Reject("code 2: Invalid request: too many parameters", req_id=3)
    ]
    rej = b.parse('{"error":{"code":2,"msg":"Invalid request"},"id":4}')
    assert rej == [Reject("code 2: Invalid request", req_id=4)]
    assert b.parse('{"code":3,"msg":"Invalid JSON"}') == [ExchangeError("code 3: Invalid JSON")]
    assert b.parse('{"e":"trade","E":1,"s":"BNBBTC"}') == []


# -- OKX ----------------------------------------------------------------------------------


def test_okx() -> None:
    o = Okx()
    assert o.identifier("BTC", "USDT") == "BTC-USDT"
    assert json.loads(o.subscribe(["BTC-USDT"], 1)[0]) == {
        "op": "subscribe",
        "args": [{"channel": "tickers", "instId": "BTC-USDT"}],
    }
    assert o.ping(1) == "ping"
    assert o.parse("pong") == [Pong()]
    push = (
        '{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",'
        '"instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99",'
        '"ts":"1597026383085"}]}'
    )
    assert o.parse(push) == [StreamTick("BTC-USDT", "9999.99", 1597026383085)]
    ack = '{"event":"subscribe","arg":{"channel":"tickers","instId":"LTC-USD"},"connId":"a4d3ae55"}'
    assert o.parse(ack) == [Ack(identifiers=("LTC-USD",))]
    err = (
        '{"event":"error","code":"60018","msg":"Wrong URL or channel:tickers,instId:FOO-BAR '
        'doesn\'t exist.","connId":"a4d3ae55"}'
    )
    [ev] = o.parse(err)
    assert isinstance(ev, Reject) and ev.identifiers == ("FOO-BAR",)
    [ev] = o.parse('{"event":"error","code":"60012","msg":"Invalid request","connId":"x"}')
    assert isinstance(ev, ExchangeError)
    with pytest.raises(StreamProtocolError):
        o.parse('{"arg":{"channel":"tickers"},"data":[]}')


# -- Kraken -------------------------------------------------------------------------------


def test_kraken() -> None:
    k = Kraken()
    assert k.identifier("XBT", "USD") == "BTC/USD"
    assert k.identifier("XDG", "EUR") == "DOGE/EUR"
    assert k.identifier("ETH", "USDT") == "ETH/USDT"
    assert json.loads(k.subscribe(["BTC/USD"], 5)[0]) == {
        "method": "subscribe",
        "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "trades"},
        "req_id": 5,
    }
    assert json.loads(k.ping(9) or "") == {"method": "ping", "req_id": 9}
    ticker = (
        '{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,'
        '"bid_qty":740.0,"ask":0.10035,"ask_qty":740.0,"last":0.10035,"volume":997038.98383185,'
        '"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17}]}'
    )
    assert k.parse(ticker) == [StreamTick("ALGO/USD", "0.10035", None)]
    with_ts = ticker.replace('"change_pct":-0.17', '"timestamp":"2024-05-01T12:00:00.123456Z"')
    assert k.parse(with_ts)[0] == StreamTick("ALGO/USD", "0.10035", 1714564800123)
    ok = (
        '{"method":"subscribe","req_id":5,"result":{"channel":"ticker","snapshot":true,'
        '"symbol":"ALGO/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z",'
        '"time_out":"2023-09-25T09:04:31.742648Z"}'
    )
    assert k.parse(ok) == [Ack(req_id=5, identifiers=("ALGO/USD",))]
    bad = (
        '{"error":"Currency pair not supported FOO/BAR","method":"subscribe","req_id":6,'
        '"success":false,"symbol":"FOO/BAR"}'
    )
    assert k.parse(bad) == [
        Reject("Currency pair not supported FOO/BAR", req_id=6, identifiers=("FOO/BAR",))
    ]
    again = (
        '{"error":"Already subscribed","method":"subscribe","req_id":7,"success":false,'
        '"symbol":"A/B"}'
    )
    assert k.parse(again) == [Ack(req_id=7, identifiers=("A/B",))]
    assert k.parse('{"method":"pong","req_id":9}') == [Pong()]
    assert k.parse('{"channel":"heartbeat"}') == []


# -- Coinbase -----------------------------------------------------------------------------


def test_coinbase() -> None:
    c = Coinbase()
    assert c.identifier("BTC", "USD") == "BTC-USD"
    assert json.loads(c.on_open()[0]) == {"type": "subscribe", "channel": "heartbeats"}
    assert json.loads(c.subscribe(["ETH-USD"], 1)[0]) == {
        "type": "subscribe",
        "product_ids": ["ETH-USD"],
        "channel": "ticker",
    }
    # documented Advanced Trade ticker message
    frame = (
        '{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z",'
        '"sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker",'
        '"product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938",'
        '"low_24_h":"21835.29","high_24_h":"23011.18"}]}]}'
    )
    assert c.parse(frame) == [StreamTick("BTC-USD", "21932.98", 1675974637167)]
    subs = (
        '{"channel":"subscriptions","timestamp":"2023-02-09T20:30:37Z","sequence_num":1,'
        '"events":[{"subscriptions":{"ticker":["BTC-USD"],"heartbeats":["heartbeats"]}}]}'
    )
    assert c.parse(subs) == [Ack(identifiers=("BTC-USD",))]
    assert c.parse('{"type":"error","message":"Failed to subscribe"}') == [
        ExchangeError("Failed to subscribe")
    ]
    assert c.parse('{"channel":"heartbeats","events":[]}') == []


# -- CryptoCompare ------------------------------------------------------------------------


def test_cryptocompare() -> None:
    c = CryptoCompare()
    assert c.identifier("BTC", "USD") == "5~CCCAGG~BTC~USD"
    assert c.url(None, "k") == "wss://streamer.cryptocompare.com/v2?format=streamer&api_key=k"
    assert c.url("ws://h/v2", None) == "ws://h/v2?format=streamer"
    assert json.loads(c.subscribe(["5~CCCAGG~BTC~USD"], 1)[0]) == {
        "action": "SubAdd",
        "subs": ["5~CCCAGG~BTC~USD"],
    }
    # mask 0x29: PRICE, LASTUPDATE, LASTVOLUME
    assert c.parse("5~CCCAGG~BTC~USD~1~48201.23~1611234567~0.015~29") == [
        StreamTick("5~CCCAGG~BTC~USD", "48201.23", 1611234567000)
    ]
    # PRICE|BID|OFFER|LASTUPDATE (0xf): LASTUPDATE is the fourth optional field
    assert c.parse("5~CCCAGG~BTC~USD~2~100.5~100.4~100.6~1611234567~f") == [
        StreamTick("5~CCCAGG~BTC~USD", "100.5", 1611234567000)
    ]
    assert c.parse("5~CCCAGG~BTC~USD~4~0.3~20") == []  # volume only: no price
    assert c.parse("5~CCCAGG~BTC~USD~4~100.5~1") == [StreamTick("5~CCCAGG~BTC~USD", "100.5", None)]
    assert c.parse("16~SUBSCRIBECOMPLETE~5~CCCAGG~BTC~USD") == [
        Ack(identifiers=("5~CCCAGG~BTC~USD",))
    ]
    [rej] = c.parse("500~INVALID_SUB~5~CCCAGG~FOO~BAR")
    assert isinstance(rej, Reject) and rej.identifiers == ("5~CCCAGG~FOO~BAR",)
    assert c.parse("999~HEARTBEAT~") == []
    [err] = c.parse("429~TOO_MANY_SOCKETS_MAX_1_PER_CLIENT~")
    assert isinstance(err, ExchangeError)
    js = (
        '{"TYPE":"5","MARKET":"CCCAGG","FROMSYMBOL":"BTC","TOSYMBOL":"USD","FLAGS":1,'
        '"PRICE":48201.23,"LASTUPDATE":1611234567}'
    )
    assert c.parse(js) == [StreamTick("5~CCCAGG~BTC~USD", "48201.23", 1611234567000)]
    jerr = '{"TYPE":"500","MESSAGE":"INVALID_SUB","PARAMETER":"5~CCCAGG~FOO~BAR","INFO":"no data"}'
    [rej] = c.parse(jerr)
    assert isinstance(rej, Reject) and rej.identifiers == ("5~CCCAGG~FOO~BAR",)
    for bad in ("5~CCCAGG~BTC~USD~1~48201.23~zz", "5~CCCAGG~BTC~USD~1~abc~1", "x", "hello~world"):
        with pytest.raises(StreamProtocolError):
            c.parse(bad)


# -- Finnhub ------------------------------------------------------------------------------


def test_finnhub() -> None:
    f = Finnhub()
    assert f.identifier("BTC", "USDT") == "BINANCE:BTCUSDT"
    assert f.url(None, "tok") == "wss://ws.finnhub.io?token=tok"
    assert [json.loads(x) for x in f.subscribe(["A", "B"], 1)] == [
        {"type": "subscribe", "symbol": "A"},
        {"type": "subscribe", "symbol": "B"},
    ]
    frame = (
        '{"data":[{"p":7296.89,"s":"BINANCE:BTCUSDT","t":1575526691134,"v":0.011467},'
        '{"p":7296.9,"s":"BINANCE:BTCUSDT","t":1575526691100,"v":0.5}],"type":"trade"}'
    )
    assert f.parse(frame) == [StreamTick("BINANCE:BTCUSDT", "7296.89", 1575526691134)]
    assert f.parse('{"type":"ping"}') == [Pong()]
    assert f.parse('{"type":"error","msg":"Subscribing to too many symbols"}') == [
        ExchangeError("Subscribing to too many symbols")
    ]


# -- shared -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0.10000000000000000555", "64003.2", "100", "0.00000001"])
def test_decimal_text_keeps_digits(text: str) -> None:
    assert decimal_text(text) == text


@pytest.mark.parametrize(
    ("text", "plain"), [("1e-8", "0.00000001"), ("1.83e-5", "0.0000183"), ("6.4003E4", "64003")]
)
def test_decimal_text_plain_notation(text: str, plain: str) -> None:
    assert decimal_text(text) == plain


def test_kraken_exponent_price_is_plain() -> None:
    frame = '{"channel":"ticker","type":"update","data":[{"symbol":"SHIB/USD","last":1.83e-5}]}'
    assert Kraken().parse(frame) == [StreamTick("SHIB/USD", "0.0000183", None)]


@pytest.mark.parametrize("bad", ["0", "-1", "NaN", "Infinity", "", "1,5", None, True, 1.5, []])
def test_decimal_text_rejects(bad: object) -> None:
    with pytest.raises(StreamProtocolError):
        decimal_text(bad)


def test_rfc3339() -> None:
    assert parse_rfc3339_ms("2023-02-09T20:30:37.167359596Z") == 1675974637167
    assert parse_rfc3339_ms("2023-02-09T21:30:37+01:00") == 1675974637000
    assert parse_rfc3339_ms("1970-01-01T00:00:00.001Z") == 1
    for bad in ("2023-02-30T00:00:00Z", "yesterday", 5, "2023-02-09T20:30:37"):
        with pytest.raises(StreamProtocolError):
            parse_rfc3339_ms(bad)


@pytest.mark.parametrize("cls", list(EXCHANGES.values()))
@settings(max_examples=150, deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.from_regex(r"\A[0-9]{1,3}~[A-Z~0-9.]{0,40}\Z")))
def test_parsers_only_raise_protocol_errors(cls: type, text: str) -> None:
    with contextlib.suppress(StreamProtocolError):
        cls().parse(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "e",
        "E",
        "s",
        "c",
        "id",
        "result",
        "error",
        "code",
        "msg",
        "event",
        "arg",
        "data",
        "channel",
        "method",
        "req_id",
        "success",
        "symbol",
        "events",
        "tickers",
        "type",
        "TYPE",
        "PRICE",
        "stream",
        "timestamp",
        "product_id",
        "price",
        "last",
        "instId",
        "ts",
    ]
)


@pytest.mark.parametrize("cls", list(EXCHANGES.values()))
@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(keys, json_values, max_size=6))
def test_parsers_on_shaped_json(cls: type, doc: dict[str, object]) -> None:
    with contextlib.suppress(StreamProtocolError):
        cls().parse(json.dumps(doc))


def test_backoff_doubles_to_cap_with_jitter_and_never_ends() -> None:
    assert backoff_delay(0, 1.0, 60.0, 0.0) == 0.5
    assert backoff_delay(0, 1.0, 60.0, 0.999) < 1.0
    assert backoff_delay(3, 1.0, 60.0, 1.0) == 8.0
    assert backoff_delay(6, 1.0, 60.0, 1.0) == 60.0
    assert backoff_delay(10_000, 1.0, 60.0, 0.0) == 30.0
    assert all(30.0 <= backoff_delay(n, 1.0, 60.0, 0.5) <= 60.0 for n in range(6, 200))


def test_settings_clamp_to_exchange_facts() -> None:
    cfg = StreamConfig(heartbeat_interval_ms=30_000, batch_size=500, rate_limit_ms=10)
    s = settings_for(Okx(), cfg)
    assert s.heartbeat_s == 25.0  # OKX drops connections idle for 30 s
    assert s.batch == 100
    assert s.send_gap_s == 0.1
    assert settings_for(Finnhub(), cfg).batch == 1
    assert settings_for(Binance(), cfg).send_gap_s == 0.25  # 5 messages/s


def test_redaction() -> None:
    assert redact_url("wss://ws.finnhub.io?token=abc") == "wss://ws.finnhub.io"
    assert redact_url("wss://u:p@h:1/v2?api_key=k") == "wss://***@h:1/v2"
    assert "abc" not in scrub("url='wss://ws.finnhub.io?token=abc'", None)
    assert scrub("key sekret here", "sekret") == "key *** here"
