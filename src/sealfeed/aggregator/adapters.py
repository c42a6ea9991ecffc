"""Per-exchange request building and response parsing (pure: data in, data out).

Each adapter turns a set of pairs into the fewest upstream requests the public API allows
(batched per the source's ``max_batch_size``) and turns a response body back into
``{(base, quote): "<decimal string>"}``. Prices keep the exact digits the exchange sent:
JSON numbers are decoded as their source text (``parse_float``/``parse_int``), never through
a float. Anything unexpected raises :class:`UpstreamError` with a one-line reason; parsers
never leak KeyError/TypeError/ValueError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sealfeed.aggregator.sources import (
    COINGECKO_IDS,
    CRYPTO,
    DEFAULTS,
    FIAT,
    KRAKEN_ALIASES,
    KRAKEN_LEGACY,
)

Pair = tuple[str, str]
Prices = dict[Pair, str]

_DECIMAL = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class UpstreamRequest:
    """One HTTP GET: ``path`` + ``params`` (may hold an API key: never log them)."""

    path: str
    params: tuple[tuple[str, str], ...]
    pairs: tuple[Pair, ...]
    headers: tuple[tuple[str, str], ...] = ()


class UpstreamError(Exception):
    """A failed upstream call. ``kind`` is one of: http, malformed, html, api, timeout,
    connection, rate_limited, unauthorized, unknown_pair, and busy (refused before any call:
    too many new pairs already wait for the source)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "connection", "rate_limited"):
            return True
        if self.kind in ("unknown_pair", "unauthorized", "busy"):
            return False
        # 5xx (whatever the body says) is the upstream's transient trouble; 4xx is ours
        return (self.status or 500) >= 500


def _keep(text: str) -> str:
    return text


def decode_json(body: bytes, status: int) -> Any:
    """JSON with numbers kept as their source text; HTML/garbage -> UpstreamError."""
    head = body[:64].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<")):
        raise UpstreamError("html", f"HTML page instead of JSON (HTTP {status})", status=status)
    try:
        return json.loads(body, parse_float=_keep, parse_int=_keep)
    except (ValueError, RecursionError) as exc:
        snippet = body[:40].decode("utf-8", "replace").replace("\n", " ")
        msg = f"malformed JSON (HTTP {status}): {exc.__class__.__name__} near {snippet!r}"
        raise UpstreamError("malformed", msg, status=status) from None


def valid_price(value: Any) -> str | None:
    """The exchange's decimal text if it is a positive finite number, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _DECIMAL.match(text):
        return None
    try:
        if Decimal(text) <= 0:
            return None
    except InvalidOperation:
        return None
    return text


def _get(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(obj, list) or len(obj) <= key:
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[key] if isinstance(key, int) else obj.get(key)
    return obj


def _chunks(pairs: Sequence[Pair], size: int | None) -> Iterable[tuple[Pair, ...]]:
    size = max(1, size or len(pairs) or 1)
    for i in range(0, len(pairs), size):
        yield tuple(pairs[i : i + size])


@dataclass(frozen=True)
class Adapter:
    """How one source is called. ``build``/``parse`` are pure functions."""

    name: str
    #: (pairs, batch_size, api_key) -> requests
    build: Callable[[Sequence[Pair], int | None, str | None], list[UpstreamRequest]]
    #: (request, http status, decoded JSON) -> prices; raise UpstreamError
    parse: Callable[[UpstreamRequest, int, Any], Prices]
    batch: bool = True
    pro_base_url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def default_base_url(self) -> str:
        return DEFAULTS[self.name].base_url

    def base_url(self, configured: str | None, api_key: str | None) -> str:
        if configured:
            return configured.rstrip("/")
        if api_key and self.pro_base_url:
            return self.pro_base_url
        return self.default_base_url

    def requests(
        self, pairs: Iterable[Pair], batch_size: int | None, api_key: str | None
    ) -> list[UpstreamRequest]:
        ordered = sorted(set(pairs))
        if not ordered:
            return []
        return self.build(ordered, batch_size, api_key)

    def parse_response(self, req: UpstreamRequest, status: int, body: bytes) -> Prices:
        """Decode and parse; HTTP-level errors the adapter does not recognise become
        ``http`` errors carrying the status."""
        doc = decode_json(body, status)
        try:
            prices = self.parse(req, status, doc)
        except UpstreamError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            msg = f"unexpected response shape (HTTP {status}): {exc.__class__.__name__}"
            raise UpstreamError("malformed", msg, status=status) from None
        if status >= 400:
            raise UpstreamError("http", f"HTTP {status}", status=status)
        return prices


def _per_pair(
    one: Callable[[Pair, str | None], UpstreamRequest],
) -> Callable[[Sequence[Pair], int | None, str | None], list[UpstreamRequest]]:
    def build(pairs: Sequence[Pair], _size: int | None, key: str | None) -> list[UpstreamRequest]:
        return [one(p, key) for p in pairs]

    return build


def _unknown(req: UpstreamRequest, what: str, status: int | None = None) -> UpstreamError:
    return UpstreamError("unknown_pair", f"unknown symbol: {what}", status=status)


def _require_ok_status(status: int) -> None:
    if status >= 400:
        raise UpstreamError("http", f"HTTP {status}", status=status)


# --- Binance: GET /api/v3/ticker/price ?symbol=BTCUSDT | ?symbols=["BTCUSDT","ETHUSDT"]
# error body {"code": -1121, "msg": "Invalid symbol."} with HTTP 400.
def _binance_build(
    pairs: Sequence[Pair], size: int | None, _k: str | None
) -> list[UpstreamRequest]:
    if len(pairs) == 1:
        b, q = pairs[0]
        return [UpstreamRequest("/api/v3/ticker/price", (("symbol", b + q),), tuple(pairs))]
    out = []
    for chunk in _chunks(pairs, size):
        syms = json.dumps([b + q for b, q in chunk], separators=(",", ":"))
        out.append(UpstreamRequest("/api/v3/ticker/price", (("symbols", syms),), chunk))
    return out


def _binance_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    if isinstance(doc, dict) and "code" in doc and "price" not in doc:
        if str(doc.get("code")) == "-1121" or (status == 400 and "symbol" in str(doc.get("msg"))):
            raise _unknown(req, str(doc.get("msg")), status)
        raise UpstreamError("api", f"code {doc.get('code')}: {doc.get('msg')}", status=status)
    _require_ok_status(status)
    items = doc if isinstance(doc, list) else [doc]
    by_symbol = {_get(i, "symbol"): _get(i, "price") for i in items if isinstance(i, dict)}
    return _collect(req.pairs, lambda p: by_symbol.get(p[0] + p[1]))


def _collect(pairs: Iterable[Pair], lookup: Callable[[Pair], Any]) -> Prices:
    out: Prices = {}
    for pair in pairs:
        price = valid_price(lookup(pair))
        if price is not None:
            out[pair] = price
    return out


# --- OKX: GET /api/v5/market/ticker?instId=BTC-USDT, /api/v5/market/tickers?instType=SPOT
# {"code":"0","msg":"","data":[{"instId":"BTC-USDT","last":"67000.1",...}]}; 51001 = no such id
def _okx_build(pairs: Sequence[Pair], _s: int | None, _k: str | None) -> list[UpstreamRequest]:
    if len(pairs) == 1:
        b, q = pairs[0]
        return [UpstreamRequest("/api/v5/market/ticker", (("instId", f"{b}-{q}"),), tuple(pairs))]
    return [UpstreamRequest("/api/v5/market/tickers", (("instType", "SPOT"),), tuple(pairs))]


def _okx_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    code = str(_get(doc, "code"))
    if code == "51001":
        raise _unknown(req, str(_get(doc, "msg")), status)
    if code != "0":
        if code == "50011":  # "Too Many Requests" (OKX error code table)
            raise UpstreamError("rate_limited", f"code {code}", status=status)
        raise UpstreamError("api", f"code {code}: {_get(doc, 'msg')}", status=status)
    _require_ok_status(status)
    data = _get(doc, "data")
    if not isinstance(data, list):
        raise UpstreamError("malformed", "no data array", status=status)
    by_id = {_get(t, "instId"): _get(t, "last") for t in data}
    return _collect(req.pairs, lambda p: by_id.get(f"{p[0]}-{p[1]}"))


# --- CoinGecko: GET /api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd,eur
# {"bitcoin":{"usd":67187.33}}; errors {"status":{"error_code":429,"error_message":...}}
def coingecko_id(symbol: str) -> str:
    return COINGECKO_IDS.get(symbol.upper(), symbol.lower())


def _coingecko_build(
    pairs: Sequence[Pair], size: int | None, key: str | None
) -> list[UpstreamRequest]:
    headers = (("x-cg-pro-api-key", key),) if key else ()
    out = []
    for chunk in _chunks(pairs, size):
        ids = ",".join(sorted({coingecko_id(b) for b, _ in chunk}))
        vs = ",".join(sorted({q.lower() for _, q in chunk}))
        params = (("ids", ids), ("vs_currencies", vs))
        out.append(UpstreamRequest("/api/v3/simple/price", params, chunk, headers))
    return out


def _coingecko_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    err = _get(doc, "status", "error_message") or _get(doc, "error")
    if err:
        raise UpstreamError("api", str(err)[:120], status=status)
    _require_ok_status(status)
    if not isinstance(doc, dict):
        raise UpstreamError("malformed", "expected an object", status=status)
    return _collect(req.pairs, lambda p: _get(doc, coingecko_id(p[0]), p[1].lower()))


# --- Kraken: GET /0/public/Ticker?pair=XBTUSD,ETHUSD
# {"error":[],"result":{"XXBTZUSD":{"c":["67000.1","0.01"],...}}}; "EQuery:Unknown asset pair"
def _kraken_asset(sym: str) -> str:
    return KRAKEN_ALIASES.get(sym, sym)


def kraken_keys(pair: Pair) -> tuple[str, ...]:
    b, q = (_kraken_asset(s) for s in pair)
    keys = [b + q]
    if b in KRAKEN_LEGACY:
        keys += [f"X{b}Z{q}", f"X{b}X{q}", f"X{b}{q}"]
    if q in KRAKEN_LEGACY:
        keys += [f"{b}Z{q}"]
    return tuple(keys)


def _kraken_build(pairs: Sequence[Pair], size: int | None, _k: str | None) -> list[UpstreamRequest]:
    return [
        UpstreamRequest(
            "/0/public/Ticker",
            (("pair", ",".join(kraken_keys(p)[0] for p in chunk)),),
            chunk,
        )
        for chunk in _chunks(pairs, size)
    ]


def _kraken_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    errors = _get(doc, "error")
    if errors:
        text = ",".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
        if "Unknown asset pair" in text:
            raise _unknown(req, text, status)
        if "Too many requests" in text or "Rate limit" in text:
            raise UpstreamError("rate_limited", text, status=status)
        raise UpstreamError("api", text[:120], status=status)
    _require_ok_status(status)
    result = _get(doc, "result")
    if not isinstance(result, dict):
        raise UpstreamError("malformed", "no result object", status=status)

    def lookup(p: Pair) -> Any:
        for k in kraken_keys(p):
            if k in result:
                return _get(result, k, "c", 0)
        return None

    return _collect(req.pairs, lookup)


# --- Coinbase: GET /v2/prices/BTC-USD/spot -> {"data":{"amount":"67000.12","base":"BTC",
# "currency":"USD"}}; errors {"errors":[{"id":"not_found","message":"Invalid currency"}]}
def _coinbase_one(p: Pair, _k: str | None) -> UpstreamRequest:
    return UpstreamRequest(f"/v2/prices/{p[0]}-{p[1]}/spot", (), (p,))


def _coinbase_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    errs = _get(doc, "errors")
    if errs:
        ident = str(_get(errs, 0, "id"))
        msg = str(_get(errs, 0, "message"))
        if status in (400, 404) or ident in ("not_found", "invalid_request"):
            raise _unknown(req, msg, status)
        raise UpstreamError("api", f"{ident}: {msg}"[:120], status=status)
    _require_ok_status(status)
    return _collect(req.pairs, lambda p: _get(doc, "data", "amount"))


# --- CryptoCompare: GET /data/pricemulti?fsyms=BTC,ETH&tsyms=USD,EUR -> {"BTC":{"USD":67000.1}}
# errors come with HTTP 200: {"Response":"Error","Message":"...","Type":2}
def _cc_build(pairs: Sequence[Pair], size: int | None, key: str | None) -> list[UpstreamRequest]:
    headers = (("authorization", f"Apikey {key}"),) if key else ()
    out = []
    for chunk in _chunks(pairs, size):
        fsyms = ",".join(sorted({b for b, _ in chunk}))
        tsyms = ",".join(sorted({q for _, q in chunk}))
        out.append(
            UpstreamRequest(
                "/data/pricemulti", (("fsyms", fsyms), ("tsyms", tsyms)), chunk, headers
            )
        )
    return out


def _cc_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    if _get(doc, "Response") == "Error":
        msg = str(_get(doc, "Message"))
        low = msg.lower()
        if "rate limit" in low:
            raise UpstreamError("rate_limited", msg[:120], status=status)
        if "does not exist" in low or "no data" in low:
            raise _unknown(req, msg[:120], status)
        if "api key" in low:
            raise UpstreamError("unauthorized", msg[:120], status=status)
        raise UpstreamError("api", msg[:120], status=status)
    _require_ok_status(status)
    return _collect(req.pairs, lambda p: _get(doc, p[0], p[1]))


# --- Finnhub: GET /api/v1/quote?symbol=BINANCE:BTCUSDT (X-Finnhub-Token header)
# {"c":261.74,"d":..,"h":..,"l":..,"o":..,"pc":..,"t":1582641000}; unknown symbol -> c == 0
def finnhub_symbol(p: Pair) -> str:
    b, q = p
    if b in FIAT and q in FIAT:
        return f"OANDA:{b}_{q}"
    return f"BINANCE:{b}{q}"


def _finnhub_one(p: Pair, key: str | None) -> UpstreamRequest:
    headers = (("X-Finnhub-Token", key),) if key else ()
    return UpstreamRequest("/api/v1/quote", (("symbol", finnhub_symbol(p)),), (p,), headers)


def _finnhub_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    err = _get(doc, "error")
    if err:
        if status == 429 or "limit" in str(err).lower():
            raise UpstreamError("rate_limited", str(err)[:120], status=status)
        if status in (401, 403):
            raise UpstreamError("unauthorized", str(err)[:120], status=status)
        raise UpstreamError("api", str(err)[:120], status=status)
    _require_ok_status(status)
    if not isinstance(doc, dict):
        raise UpstreamError("malformed", "expected an object", status=status)
    prices = _collect(req.pairs, lambda p: _get(doc, "c"))
    if not prices:
        raise _unknown(req, finnhub_symbol(req.pairs[0]), status)
    return prices


# --- Alpha Vantage: GET /query?function=CURRENCY_EXCHANGE_RATE&from_currency=BTC&to_currency=USD
# &apikey=KEY -> {"Realtime Currency Exchange Rate":{"5. Exchange Rate":"67000.12", ...}};
# errors with HTTP 200: {"Error Message": ...}, throttling: {"Note": ...} / {"Information": ...}
def _av_one(p: Pair, key: str | None) -> UpstreamRequest:
    params = [
        ("function", "CURRENCY_EXCHANGE_RATE"),
        ("from_currency", p[0]),
        ("to_currency", p[1]),
    ]
    if key:
        params.append(("apikey", key))
    return UpstreamRequest("/query", tuple(params), (p,))


def _av_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    if _get(doc, "Error Message"):
        raise _unknown(req, str(_get(doc, "Error Message"))[:120], status)
    note = _get(doc, "Note") or _get(doc, "Information")
    if note:
        # AV's free tier answers over-quota calls with a 200 + Note; a minute is its window
        raise UpstreamError("rate_limited", str(note)[:120], status=status, retry_after=60.0)
    _require_ok_status(status)
    return _collect(
        req.pairs, lambda p: _get(doc, "Realtime Currency Exchange Rate", "5. Exchange Rate")
    )


def _by_base(pairs: Sequence[Pair], size: int | None) -> Iterable[tuple[str, tuple[Pair, ...]]]:
    bases: dict[str, list[Pair]] = {}
    for p in pairs:
        bases.setdefault(p[0], []).append(p)
    for base, group in sorted(bases.items()):
        for chunk in _chunks(group, size):
            yield base, chunk


# --- exchangerate.host: GET /live?access_key=KEY&source=USD&currencies=EUR,GBP
# {"success":true,"source":"USD","quotes":{"USDEUR":0.92}}; errors
# {"success":false,"error":{"code":101,"type":"missing_access_key","info":...}}
_ERH_UNAUTHORIZED = {"101", "102", "103", "105"}
_ERH_LIMIT = {"104"}
_ERH_UNKNOWN = {"106", "201", "202"}


def _erh_build(pairs: Sequence[Pair], size: int | None, key: str | None) -> list[UpstreamRequest]:
    out = []
    for base, chunk in _by_base(pairs, size):
        params = [("source", base), ("currencies", ",".join(q for _, q in chunk))]
        if key:
            params.append(("access_key", key))
        out.append(UpstreamRequest("/live", tuple(params), chunk))
    return out


def _erh_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    if _get(doc, "success") is False or str(_get(doc, "success")).lower() == "false":
        code = str(_get(doc, "error", "code"))
        info = str(_get(doc, "error", "info") or _get(doc, "error", "type"))[:120]
        if code in _ERH_UNAUTHORIZED:
            raise UpstreamError("unauthorized", f"{code}: {info}", status=status)
        if code in _ERH_LIMIT:
            raise UpstreamError("rate_limited", f"{code}: {info}", status=status)
        if code in _ERH_UNKNOWN:
            raise _unknown(req, f"{code}: {info}", status)
        raise UpstreamError("api", f"{code}: {info}", status=status)
    _require_ok_status(status)
    return _collect(req.pairs, lambda p: _get(doc, "quotes", p[0] + p[1]))


# --- Frankfurter: GET /latest?from=EUR&to=USD,GBP -> {"amount":1.0,"base":"EUR",
# "date":"2024-06-03","rates":{"USD":1.0842}}; unknown currency -> 404 {"message":"not found"}
def _fr_build(pairs: Sequence[Pair], size: int | None, _k: str | None) -> list[UpstreamRequest]:
    return [
        UpstreamRequest("/latest", (("from", base), ("to", ",".join(q for _, q in chunk))), chunk)
        for base, chunk in _by_base(pairs, size)
    ]


def _fr_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    if status in (404, 422) or (_get(doc, "message") and not _get(doc, "rates")):
        raise _unknown(req, str(_get(doc, "message")), status)
    _require_ok_status(status)
    return _collect(req.pairs, lambda p: _get(doc, "rates", p[1]))


# --- Yahoo Finance (unofficial chart API): GET /v8/finance/chart/BTC-USD?interval=1d
# {"chart":{"result":[{"meta":{"regularMarketPrice":67000.1,...}}],"error":null}}
# unknown: 404 {"chart":{"result":null,"error":{"code":"Not Found","description":...}}}
def yahoo_symbol(p: Pair) -> str:
    b, q = p
    if b in FIAT and q in FIAT:
        return f"{b}{q}=X"
    if b in CRYPTO or q not in ("USD", "EUR"):
        return f"{b}-{q}"
    return b  # a stock/ETF ticker quoted in its listing currency


def _yahoo_one(p: Pair, _k: str | None) -> UpstreamRequest:
    return UpstreamRequest(f"/v8/finance/chart/{yahoo_symbol(p)}", (("interval", "1d"),), (p,))


def _yahoo_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    err = _get(doc, "chart", "error")
    if err:
        desc = f"{_get(err, 'code')}: {_get(err, 'description')}"[:120]
        if status == 404 or _get(err, "code") == "Not Found":
            raise _unknown(req, desc, status)
        raise UpstreamError("api", desc, status=status)
    _require_ok_status(status)
    return _collect(
        req.pairs, lambda p: _get(doc, "chart", "result", 0, "meta", "regularMarketPrice")
    )


# --- KuCoin: GET /api/v1/market/orderbook/level1?symbol=BTC-USDT, /api/v1/market/allTickers
# {"code":"200000","data":{"price":"67000.1",...}} / {"code":"200000","data":{"ticker":[
# {"symbol":"BTC-USDT","last":"67000.1"}]}}; 400100 = bad parameter; 429000 = too many requests
def _kucoin_build(pairs: Sequence[Pair], _s: int | None, _k: str | None) -> list[UpstreamRequest]:
    if len(pairs) == 1:
        b, q = pairs[0]
        params = (("symbol", f"{b}-{q}"),)
        return [UpstreamRequest("/api/v1/market/orderbook/level1", params, tuple(pairs))]
    return [UpstreamRequest("/api/v1/market/allTickers", (), tuple(pairs))]


def _kucoin_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    code = str(_get(doc, "code"))
    if code == "429000":
        raise UpstreamError("rate_limited", "429000 Too Many Requests", status=status)
    if code == "400100":
        raise _unknown(req, str(_get(doc, "msg")), status)
    if code != "200000":
        raise UpstreamError("api", f"code {code}: {_get(doc, 'msg')}", status=status)
    _require_ok_status(status)
    data = _get(doc, "data")
    if req.path.endswith("allTickers"):
        tickers = _get(data, "ticker")
        if not isinstance(tickers, list):
            raise UpstreamError("malformed", "no ticker array", status=status)
        by_sym = {_get(t, "symbol"): _get(t, "last") for t in tickers}
        return _collect(req.pairs, lambda p: by_sym.get(f"{p[0]}-{p[1]}"))
    if data is None:  # KuCoin answers an unknown symbol with code 200000 and data null
        raise _unknown(req, f"{req.pairs[0][0]}-{req.pairs[0][1]}", status)
    return _collect(req.pairs, lambda p: _get(data, "price"))


# --- Bybit v5: GET /v5/market/tickers?category=spot[&symbol=BTCUSDT]
# {"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"symbol":"BTCUSDT",
# "lastPrice":"67000.1"}]}}; retCode 10001 = invalid symbol, 10006 = too many visits
def _bybit_build(pairs: Sequence[Pair], _s: int | None, _k: str | None) -> list[UpstreamRequest]:
    params: tuple[tuple[str, str], ...] = (("category", "spot"),)
    if len(pairs) == 1:
        params += (("symbol", pairs[0][0] + pairs[0][1]),)
    return [UpstreamRequest("/v5/market/tickers", params, tuple(pairs))]


def _bybit_parse(req: UpstreamRequest, status: int, doc: Any) -> Prices:
    code = str(_get(doc, "retCode"))
    if code == "10001":
        raise _unknown(req, str(_get(doc, "retMsg")), status)
    if code == "10006":
        raise UpstreamError("rate_limited", str(_get(doc, "retMsg")), status=status)
    if code != "0":
        raise UpstreamError("api", f"retCode {code}: {_get(doc, 'retMsg')}", status=status)
    _require_ok_status(status)
    items = _get(doc, "result", "list")
    if not isinstance(items, list):
        raise UpstreamError("malformed", "no result.list", status=status)
    by_sym = {_get(t, "symbol"): _get(t, "lastPrice") for t in items}
    return _collect(req.pairs, lambda p: by_sym.get(p[0] + p[1]))


ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        Adapter("alphavantage", _per_pair(_av_one), _av_parse, batch=False),
        Adapter("binance", _binance_build, _binance_parse),
        Adapter("bybit", _bybit_build, _bybit_parse),
        Adapter("coinbase", _per_pair(_coinbase_one), _coinbase_parse, batch=False),
        Adapter(
            "coingecko",
            _coingecko_build,
            _coingecko_parse,
            pro_base_url="https://pro-api.coingecko.com",
        ),
        Adapter("cryptocompare", _cc_build, _cc_parse),
        Adapter("exchangerate-host", _erh_build, _erh_parse),
        Adapter("finnhub", _per_pair(_finnhub_one), _finnhub_parse, batch=False),
        Adapter("frankfurter", _fr_build, _fr_parse),
        Adapter("kraken", _kraken_build, _kraken_parse),
        Adapter("kucoin", _kucoin_build, _kucoin_parse),
        Adapter("okx", _okx_build, _okx_parse),
        Adapter("yahoofinance", _per_pair(_yahoo_one), _yahoo_parse, batch=False),
    )
}

__all__ = [
    "ADAPTERS",
    "Adapter",
    "Pair",
    "Prices",
    "UpstreamError",
    "UpstreamRequest",
    "coingecko_id",
    "decode_json",
    "finnhub_symbol",
    "kraken_keys",
    "valid_price",
    "yahoo_symbol",
]
