"""Fake REST exchanges on 127.0.0.1 for the aggregator's 13 sources.

Each fake speaks the public API's wire format (paths, query parameters, JSON shapes, error
bodies) as documented by the exchange (URLs in ``sealfeed.aggregator.sources.DEFAULTS``).
Numbers that the real API sends as JSON numbers are emitted as raw number text so tests can
check that the aggregator keeps the exact digits.

Failure modes (``fake.mode``): ``malformed`` (truncated JSON), ``html`` (an HTML error page),
``500``/``502``/``503`` (5xx with the exchange's error body), ``timeout`` (no answer),
``429``/``418`` (rate limited, with ``Retry-After``), ``None`` = normal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Pair = tuple[str, str]


class Num(str):
    """A price to be written as a JSON number (raw text, no float round-trip)."""


def dumps(obj: Any) -> str:
    if isinstance(obj, Num):
        return str.__str__(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def jresp(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=dumps(obj), status=status, content_type="application/json", headers=headers
    )


HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)

# the "all tickers" endpoints also list symbols nobody tracks, as the real ones do
NOISE: dict[Pair, str] = {("ZZZ", "USDT"): "0.00012345", ("QQQ", "BTC"): "0.00000101"}

COINGECKO_IDS = {"bitcoin": "BTC", "ethereum": "ETH", "tether": "USDT", "solana": "SOL"}
KRAKEN_LEGACY = {"XBT", "ETH", "LTC", "XRP", "XDG", "USD", "EUR", "GBP", "JPY", "CAD"}
KRAKEN_ALIASES = {"BTC": "XBT", "DOGE": "XDG"}


@dataclass
class FakeExchange:
    name: str
    prices: dict[Pair, str] = field(default_factory=dict)
    mode: str | None = None
    retry_after: str = "1"
    latency_s: float = 0.0
    #: API key the fake demands (None = no key needed)
    api_key: str | None = None
    calls: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    #: requests being answered right now, and the most seen at once
    inflight: int = 0
    max_inflight: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    # -- lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def set_price(self, base: str, quote: str, price: str) -> None:
        self.prices[(base, quote)] = price

    @property
    def total_calls(self) -> int:
        return len(self.calls)

    # -- dispatch
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._answer(request)
        finally:
            self.inflight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.calls.append((request.path, dict(request.query), dict(request.headers)))
        self.counts[request.path] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        mode = self.mode
        if mode == "timeout":
            # hold the request until the test stops the fake (no 60 s aiohttp drain)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), 3600)
            return web.Response(status=504)
        if mode == "html":
            return web.Response(text=HTML_502, status=502, content_type="text/html")
        if mode == "malformed":
            return web.Response(
                text='{"symbol":"BTCUSDT","price":"6701', content_type="application/json"
            )
        if mode in ("429", "418"):
            return self.rate_limited(int(mode))
        if mode in ("500", "502", "503"):
            return jresp({"code": -1000, "msg": "An unknown error occurred"}, status=int(mode))
        handler = HANDLERS[self.name]
        return await handler(self, request)

    def rate_limited(self, status: int) -> web.Response:
        body = RATE_LIMIT_BODIES.get(self.name, {"error": "Too Many Requests"})
        if self.name == "yahoofinance":  # Yahoo's edge answers in plain text
            return web.Response(
                text="Too Many Requests\r\n",
                status=status,
                headers={"Retry-After": self.retry_after},
            )
        return jresp(body, status=status, headers={"Retry-After": self.retry_after})

    def lookup(self, key: Callable[[Pair], str]) -> dict[str, tuple[Pair, str]]:
        table = {key(p): (p, v) for p, v in NOISE.items()}
        table.update({key(p): (p, v) for p, v in self.prices.items()})
        return table


RATE_LIMIT_BODIES: dict[str, Any] = {
    "binance": {"code": -1003, "msg": "Too many requests; current limit is 6000 per minute."},
    "okx": {"code": "50011", "msg": "Too Many Requests", "data": []},
    "coingecko": {
        "status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}
    },
    "kraken": {"error": ["EGeneral:Too many requests"]},
    "coinbase": {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]},
    "cryptocompare": {
        "Response": "Error",
        "Message": "You are over your rate limit please upgrade your account!",
        "Type": 99,
    },
    "finnhub": {"error": "API limit reached. Please try again later. Remaining Limit: 0"},
    "kucoin": {"code": "429000", "msg": "Too Many Requests"},
    "bybit": {"retCode": 10006, "retMsg": "Too many visits!", "result": {}},
}

Handler = Callable[[FakeExchange, web.Request], Awaitable[web.StreamResponse]]


def _now_ms() -> int:
    return int(time.time() * 1000)


# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints
async def binance(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/api/v3/ticker/price":
        return jresp({"code": -1, "msg": "Not found"}, 404)
    table = fx.lookup(lambda p: p[0] + p[1])
    q = request.query
    invalid = jresp({"code": -1121, "msg": "Invalid symbol."}, 400)
    if "symbol" in q:
        hit = table.get(q["symbol"])
        return jresp({"symbol": q["symbol"], "price": hit[1]}) if hit else invalid
    if "symbols" in q:
        try:
            wanted = json.loads(q["symbols"])
        except ValueError:
            return jresp({"code": -1100, "msg": "Illegal characters found in 'symbols'."}, 400)
        if any(s not in table for s in wanted):
            return invalid
        return jresp([{"symbol": s, "price": table[s][1]} for s in wanted])
    return jresp([{"symbol": s, "price": v} for s, (_, v) in table.items()])


def _okx_ticker(inst: str, last: str) -> dict[str, Any]:
    return {
        "instType": "SPOT",
        "instId": inst,
        "last": last,
        "lastSz": "0.001",
        "askPx": last,
        "askSz": "1",
        "bidPx": last,
        "bidSz": "1",
        "open24h": last,
        "high24h": last,
        "low24h": last,
        "volCcy24h": "1000",
        "vol24h": "10",
        "ts": str(_now_ms()),
        "sodUtc0": last,
        "sodUtc8": last,
    }


# https://www.okx.com/docs-v5/en/#public-data-rest-api-get-ticker / get-tickers
async def okx(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    table = fx.lookup(lambda p: f"{p[0]}-{p[1]}")
    if request.path == "/api/v5/market/ticker":
        inst = request.query.get("instId", "")
        if inst not in table:
            return jresp({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
        return jresp({"code": "0", "msg": "", "data": [_okx_ticker(inst, table[inst][1])]})
    if request.path == "/api/v5/market/tickers":
        if request.query.get("instType") != "SPOT":
            return jresp({"code": "51000", "msg": "Parameter instType error", "data": []}, 400)
        data = [_okx_ticker(i, v) for i, (_, v) in table.items()]
        return jresp({"code": "0", "msg": "", "data": data})
    return jresp({"msg": "Not Found", "code": "404"}, 404)


# https://docs.coingecko.com/reference/simple-price
async def coingecko(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/api/v3/simple/price":
        return jresp({"error": "Incorrect path. Please check https://www.coingecko.com/api/"}, 404)
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    vs = [v for v in request.query.get("vs_currencies", "").split(",") if v]
    if not vs:
        return jresp({"error": "Missing parameter vs_currencies"}, 400)
    out: dict[str, Any] = {}
    for coin in ids:
        sym = COINGECKO_IDS.get(coin, coin.upper())
        row = {v: Num(fx.prices[(sym, v.upper())]) for v in vs if (sym, v.upper()) in fx.prices}
        if row:
            out[coin] = row
    return jresp(out)


def _kraken_key(p: Pair) -> str:
    b, q = (KRAKEN_ALIASES.get(s, s) for s in p)
    if b in KRAKEN_LEGACY and q in KRAKEN_LEGACY:
        return f"X{b}{'Z' if q in {'USD', 'EUR', 'GBP', 'JPY', 'CAD'} else 'X'}{q}"
    return b + q


def _kraken_alt(p: Pair) -> str:
    b, q = (KRAKEN_ALIASES.get(s, s) for s in p)
    return b + q


# https://docs.kraken.com/api/docs/rest-api/get-ticker-information
async def kraken(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/0/public/Ticker":
        return jresp({"error": ["EGeneral:Unknown method"]}, 404)
    by_alt = {_kraken_alt(p): p for p in fx.prices}
    result: dict[str, Any] = {}
    for alt in request.query.get("pair", "").split(","):
        pair = by_alt.get(alt)
        if pair is None:
            return jresp({"error": ["EQuery:Unknown asset pair"]})
        last = fx.prices[pair]
        result[_kraken_key(pair)] = {
            "a": [last, "1", "1.000"],
            "b": [last, "1", "1.000"],
            "c": [last, "0.00100000"],
            "v": ["10.0", "20.0"],
            "p": [last, last],
            "t": [100, 200],
            "l": [last, last],
            "h": [last, last],
            "o": last,
        }
    return jresp({"error": [], "result": result})


# https://docs.cdp.coinbase.com/coinbase-app/docs/api-prices  GET /v2/prices/{pair}/spot
async def coinbase(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    parts = request.path.split("/")
    if len(parts) != 5 or parts[1:3] != ["v2", "prices"] or parts[4] != "spot":
        return jresp({"errors": [{"id": "not_found", "message": "Not found"}]}, 404)
    base, _, quote = parts[3].partition("-")
    price = fx.prices.get((base, quote))
    if price is None:
        return jresp({"errors": [{"id": "not_found", "message": "Invalid currency"}]}, 404)
    return jresp({"data": {"amount": price, "base": base, "currency": quote}})


# https://developers.cryptocompare.com/documentation/legacy/Price/multipleSymbolsPriceEndpoint
async def cryptocompare(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/data/pricemulti":
        return jresp({"Response": "Error", "Message": "Path does not exist", "Type": 1})
    if fx.api_key and request.headers.get("authorization") != f"Apikey {fx.api_key}":
        return jresp({"Response": "Error", "Message": "You need a valid auth key or api key"})
    fsyms = request.query.get("fsyms", "").split(",")
    tsyms = request.query.get("tsyms", "").split(",")
    out: dict[str, Any] = {}
    for f in fsyms:
        row = {t: Num(fx.prices[(f, t)]) for t in tsyms if (f, t) in fx.prices}
        if row:
            out[f] = row
    if not out:
        return jresp(
            {
                "Response": "Error",
                "Message": f"cccagg_or_exchange market does not exist for this coin pair "
                f"({fsyms[0]}-{tsyms[0]})",
                "HasWarning": False,
                "Type": 2,
                "RateLimit": {},
                "Data": {},
                "ParamWithError": "fsyms",
            }
        )
    return jresp(out)


def _finnhub_pair(symbol: str, prices: dict[Pair, str]) -> Pair | None:
    for p in prices:
        if symbol in (f"BINANCE:{p[0]}{p[1]}", f"OANDA:{p[0]}_{p[1]}"):
            return p
    return None


# https://finnhub.io/docs/api/quote
async def finnhub(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/api/v1/quote":
        return jresp({"error": "Not found"}, 404)
    token = request.headers.get("X-Finnhub-Token") or request.query.get("token")
    if fx.api_key and token != fx.api_key:
        return jresp({"error": "Invalid API key"}, 401)
    pair = _finnhub_pair(request.query.get("symbol", ""), fx.prices)
    if pair is None:  # Finnhub answers unknown symbols with zeros, not an error
        return jresp({"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0})
    c = Num(fx.prices[pair])
    return jresp({"c": c, "d": Num("1.5"), "dp": Num("0.01"), "h": c, "l": c, "o": c, "pc": c,
                  "t": _now_ms() // 1000})  # fmt: skip


# https://www.alphavantage.co/documentation/#currency-exchange
async def alphavantage(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    q = request.query
    if request.path != "/query" or q.get("function") != "CURRENCY_EXCHANGE_RATE":
        return jresp({"Error Message": "This API function () does not exist."})
    if fx.api_key and q.get("apikey") != fx.api_key:
        return jresp(
            {
                "Error Message": "the parameter apikey is invalid or missing. Please claim your "
                "free API key on (https://www.alphavantage.co/support/#api-key)."
            }
        )
    pair = (q.get("from_currency", ""), q.get("to_currency", ""))
    price = fx.prices.get(pair)
    if price is None:
        return jresp(
            {
                "Error Message": "Invalid API call. Please retry or visit the documentation "
                "(https://www.alphavantage.co/documentation/) for CURRENCY_EXCHANGE_RATE."
            }
        )
    return jresp(
        {
            "Realtime Currency Exchange Rate": {
                "1. From_Currency Code": pair[0],
                "2. From_Currency Name": pair[0],
                "3. To_Currency Code": pair[1],
                "4. To_Currency Name": pair[1],
                "5. Exchange Rate": price,
                "6. Last Refreshed": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "7. Time Zone": "UTC",
                "8. Bid Price": price,
                "9. Ask Price": price,
            }
        }
    )


# https://exchangerate.host/documentation  (apilayer "live" endpoint)
async def exchangerate_host(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    q = request.query
    if request.path != "/live":
        return jresp({"success": False, "error": {"code": 103, "type": "invalid_api_function"}})
    if fx.api_key and q.get("access_key") != fx.api_key:
        return jresp(
            {
                "success": False,
                "error": {
                    "code": 101,
                    "type": "missing_access_key",
                    "info": "You have not supplied an API Access Key.",
                },
            }
        )
    source = q.get("source", "USD")
    currencies = [c for c in q.get("currencies", "").split(",") if c]
    quotes = {
        source + c: Num(fx.prices[(source, c)]) for c in currencies if (source, c) in fx.prices
    }
    if not quotes:
        return jresp(
            {
                "success": False,
                "error": {
                    "code": 202,
                    "type": "invalid_currency_codes",
                    "info": "You have provided one or more invalid Currency Codes.",
                },
            }
        )
    return jresp(
        {
            "success": True,
            "terms": "https://currencylayer.com/terms",
            "privacy": "https://currencylayer.com/privacy",
            "timestamp": _now_ms() // 1000,
            "source": source,
            "quotes": quotes,
        }
    )


# https://frankfurter.dev/  GET /latest?from=EUR&to=USD,GBP
async def frankfurter(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/latest":
        return jresp({"message": "not found"}, 404)
    base = request.query.get("from", "EUR")
    to = [c for c in request.query.get("to", "").split(",") if c]
    if not any(p[0] == base for p in fx.prices) or any((base, c) not in fx.prices for c in to):
        return jresp({"message": "not found"}, 404)
    rates = {c: Num(fx.prices[(base, c)]) for c in to}
    return jresp({"amount": Num("1.0"), "base": base, "date": "2024-06-03", "rates": rates})


def _yahoo_pair(symbol: str, prices: dict[Pair, str]) -> Pair | None:
    for p in prices:
        if symbol in (f"{p[0]}-{p[1]}", f"{p[0]}{p[1]}=X") or (symbol == p[0] and p[1] == "USD"):
            return p
    return None


# https://query1.finance.yahoo.com/v8/finance/chart/{symbol} (unofficial, widely documented)
async def yahoofinance(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    prefix = "/v8/finance/chart/"
    if not request.path.startswith(prefix):
        return jresp({"finance": {"result": None, "error": {"code": "Not Found"}}}, 404)
    symbol = request.path[len(prefix) :]
    pair = _yahoo_pair(symbol, fx.prices)
    if pair is None:
        return jresp(
            {
                "chart": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": "No data found, symbol may be delisted",
                    },
                }
            },
            404,
        )
    price = Num(fx.prices[pair])
    meta = {
        "currency": pair[1],
        "symbol": symbol,
        "exchangeName": "CCC",
        "instrumentType": "CRYPTOCURRENCY",
        "regularMarketTime": _now_ms() // 1000,
        "regularMarketPrice": price,
        "chartPreviousClose": price,
        "dataGranularity": request.query.get("interval", "1d"),
    }
    result = {"meta": meta, "timestamp": [_now_ms() // 1000],
              "indicators": {"quote": [{"close": [price]}]}}  # fmt: skip
    return jresp({"chart": {"result": [result], "error": None}})


# https://www.kucoin.com/docs/rest/spot-trading/market-data/get-ticker and get-all-tickers
async def kucoin(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    table = fx.lookup(lambda p: f"{p[0]}-{p[1]}")
    if request.path == "/api/v1/market/orderbook/level1":
        sym = request.query.get("symbol", "")
        if sym not in table:
            return jresp({"code": "200000", "data": None})
        price = table[sym][1]
        return jresp(
            {
                "code": "200000",
                "data": {
                    "time": _now_ms(),
                    "sequence": "1550467636704",
                    "price": price,
                    "size": "0.17",
                    "bestBid": price,
                    "bestBidSize": "0.035",
                    "bestAsk": price,
                    "bestAskSize": "0.089",
                },
            }
        )
    if request.path == "/api/v1/market/allTickers":
        ticker = [
            {"symbol": s, "symbolName": s, "buy": v, "sell": v, "last": v, "vol": "1"}
            for s, (_, v) in table.items()
        ]
        return jresp({"code": "200000", "data": {"time": _now_ms(), "ticker": ticker}})
    return jresp({"code": "404000", "msg": "Url Not Found"}, 404)


# https://bybit-exchange.github.io/docs/v5/market/tickers
async def bybit(fx: FakeExchange, request: web.Request) -> web.StreamResponse:
    if request.path != "/v5/market/tickers":
        return jresp({"retCode": 10404, "retMsg": "Not Found", "result": {}}, 404)
    if request.query.get("category") != "spot":
        return jresp({"retCode": 10001, "retMsg": "Illegal category", "result": {}})
    table = fx.lookup(lambda p: p[0] + p[1])
    sym = request.query.get("symbol")
    if sym is not None and sym not in table:
        return jresp({"retCode": 10001, "retMsg": "Not supported symbols", "result": {},
                      "retExtInfo": {}, "time": _now_ms()})  # fmt: skip
    items = [(sym, table[sym][1])] if sym else [(s, v) for s, (_, v) in table.items()]
    rows = [{"symbol": s, "bid1Price": v, "ask1Price": v, "lastPrice": v,
             "prevPrice24h": v, "volume24h": "1"} for s, v in items]  # fmt: skip
    return jresp(
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": "spot", "list": rows},
            "retExtInfo": {},
            "time": _now_ms(),
        }
    )


HANDLERS: dict[str, Handler] = {
    "alphavantage": alphavantage,
    "binance": binance,
    "bybit": bybit,
    "coinbase": coinbase,
    "coingecko": coingecko,
    "cryptocompare": cryptocompare,
    "exchangerate-host": exchangerate_host,
    "finnhub": finnhub,
    "frankfurter": frankfurter,
    "kraken": kraken,
    "kucoin": kucoin,
    "okx": okx,
    "yahoofinance": yahoofinance,
}

#: a pair each source is expected to know, with the price text the fake serves
SAMPLE: dict[str, tuple[Pair, str]] = {
    "alphavantage": (("BTC", "USD"), "67012.34000000"),
    "binance": (("BTC", "USDT"), "67012.34000000"),
    "bybit": (("ETH", "USDT"), "3201.55"),
    "coinbase": (("BTC", "USD"), "67010.125"),
    "coingecko": (("BTC", "USD"), "67011.42"),
    "cryptocompare": (("ETH", "EUR"), "2950.17"),
    "exchangerate-host": (("USD", "EUR"), "0.921504"),
    "finnhub": (("BTC", "USDT"), "67009.99"),
    "frankfurter": (("EUR", "USD"), "1.0842"),
    "kraken": (("BTC", "USD"), "67005.10000"),
    "kucoin": (("SOL", "USDT"), "151.234"),
    "okx": (("BTC", "USDT"), "67013.1"),
    "yahoofinance": (("BTC", "USD"), "67001.6171875"),
}

__all__ = ["HANDLERS", "SAMPLE", "FakeExchange", "Num", "dumps", "jresp"]
