"""Fake exchange WebSocket servers on 127.0.0.1 (aiohttp web), one per streaming source.

Each fake speaks its exchange's public stream format as documented (see the facts listed in
``sealfeed.aggregator.streams.<exchange>``): subscribe/unsubscribe requests and their
confirmations or errors, application-level ping/pong where the exchange has one, and
ticker/trade frames. Test controls on every fake:

* ``publish(identifier, price, event_ms)`` -- push a ticker frame to subscribed connections;
* ``send_raw(text)`` -- push any frame (malformed ones included);
* ``disconnect_all()`` -- server-initiated close of every connection;
* ``stalled = True`` -- stop sending and answering anything (a silent, hung exchange);
* ``ignore_pings = True`` -- keep working but never answer pings (WS or application);
* ``refuse = N`` -- answer the next N handshakes with HTTP 503;
* ``reject`` -- identifiers whose subscription the exchange refuses;
* ``received`` -- every text frame clients sent; ``subscribed()`` -- the live union.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

__all__ = [
    "FAKES",
    "FakeBinance",
    "FakeCoinbase",
    "FakeCryptoCompare",
    "FakeExchange",
    "FakeFinnhub",
    "FakeKraken",
    "FakeOkx",
]


def _rfc3339(ms: int, nanos: bool = False) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ms % 1000:03d}" + ("359596" if nanos else "000")
    return f"{base}.{frac}Z"


@dataclass(eq=False)
class FakeConn:
    ws: web.WebSocketResponse
    subs: set[str] = field(default_factory=set)
    query: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class FakeExchange:
    name = ""
    path = "/ws"
    #: query parameter that must carry the API key (None: no key needed)
    key_param: str | None = None

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.conns: list[FakeConn] = []
        self.received: list[str] = []
        self.received_at: list[float] = []
        self.reject: set[str] = set()
        self.stalled = False
        self.ignore_pings = False
        self.refuse = 0
        self.attempts = 0
        self.connects = 0
        self.pings_seen = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get(self.path, self._handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    async def close(self) -> None:
        await self.disconnect_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- controls -----------------------------------------------------------------------

    def subscribed(self) -> set[str]:
        out: set[str] = set()
        for c in self.conns:
            out |= c.subs
        return out

    async def publish(self, identifier: str, price: str, event_ms: int | None = None) -> int:
        if event_ms is None:
            event_ms = int(time.time() * 1000)
        n = 0
        for c in list(self.conns):
            if identifier in c.subs and not c.ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await c.ws.send_str(self.ticker(identifier, price, event_ms))
                    n += 1
        return n

    async def send_raw(self, text: str) -> None:
        for c in list(self.conns):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await c.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        for c in list(self.conns):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await c.ws.send_bytes(data)

    async def disconnect_all(self) -> None:
        for c in list(self.conns):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.ws.close(), 1.0)

    def frames(self, pred: Callable[[Any], bool] | None = None) -> list[Any]:
        """Client frames decoded as JSON (non-JSON frames as strings), optionally filtered."""
        out = []
        for text in self.received:
            try:
                doc: Any = json.loads(text)
            except ValueError:
                doc = text
            if pred is None or pred(doc):
                out.append(doc)
        return out

    # -- protocol (per exchange) ----------------------------------------------------------

    def on_open(self, conn: FakeConn) -> list[str]:
        return []

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        raise NotImplementedError

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        raise NotImplementedError

    # -- server -------------------------------------------------------------------------

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=503, text="unavailable")
        if self.key_param is not None and request.query.get(self.key_param) != self.api_key:
            return web.Response(status=401, text="invalid api key")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connects += 1
        conn = FakeConn(ws, query=dict(request.query))
        self.conns.append(conn)
        try:
            for frame in self.on_open(conn):
                await ws.send_str(frame)
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    self.pings_seen += 1
                    if not (self.stalled or self.ignore_pings):
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.TEXT:
                    self.received.append(msg.data)
                    self.received_at.append(time.monotonic())
                    if self.stalled:
                        continue
                    for reply in self.handle(conn, msg.data):
                        await ws.send_str(reply)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.conns.remove(conn)
        return ws


class FakeBinance(FakeExchange):
    name = "binance"
    path = "/ws"

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        try:
            doc = json.loads(text)
            method, params, req_id = doc["method"], doc["params"], doc["id"]
        except (ValueError, KeyError, TypeError):
            return [json.dumps({"code": 3, "msg": "Invalid JSON"})]
        if method == "SUBSCRIBE":
            if any(p in self.reject for p in params):
                return [
                    json.dumps({"code": 2, "msg": "Invalid request: unknown stream", "id": req_id})
                ]
            conn.subs.update(params)
        elif method == "UNSUBSCRIBE":
            conn.subs.difference_update(params)
        return [json.dumps({"result": None, "id": req_id})]

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        symbol = identifier.split("@", 1)[0].upper()
        return json.dumps(
            {
                "e": "24hrMiniTicker",
                "E": event_ms,
                "s": symbol,
                "c": price,
                "o": "0.0010",
                "h": "0.0025",
                "l": "0.0010",
                "v": "10000",
                "q": "18",
            }
        )


class FakeOkx(FakeExchange):
    name = "okx"
    path = "/ws/v5/public"

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        if text == "ping":
            return [] if self.ignore_pings else ["pong"]
        try:
            doc = json.loads(text)
            op, args = doc["op"], doc["args"]
        except (ValueError, KeyError, TypeError):
            return [
                json.dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {text}"})
            ]
        out = []
        for arg in args:
            inst = arg["instId"]
            if op == "subscribe":
                if inst in self.reject:
                    msg = (
                        f"Wrong URL or channel:tickers,instId:{inst} doesn't exist. Please use "
                        "the correct URL, channel and parameters referring to API document."
                    )
                    out.append(
                        json.dumps(
                            {"event": "error", "code": "60018", "msg": msg, "connId": "a4d3ae55"}
                        )
                    )
                    continue
                conn.subs.add(inst)
            else:
                conn.subs.discard(inst)
            out.append(json.dumps({"event": op, "arg": arg, "connId": "a4d3ae55"}))
        return out

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        row = {
            "instType": "SPOT",
            "instId": identifier,
            "last": price,
            "lastSz": "0.1",
            "askPx": price,
            "bidPx": price,
            "open24h": "9000",
            "ts": str(event_ms),
        }
        return json.dumps({"arg": {"channel": "tickers", "instId": identifier}, "data": [row]})


class FakeKraken(FakeExchange):
    name = "kraken"
    path = "/v2"

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        now = _rfc3339(int(time.time() * 1000))
        try:
            doc = json.loads(text)
            method, req_id = doc["method"], doc.get("req_id")
        except (ValueError, KeyError, TypeError):
            return [json.dumps({"error": "Malformed request", "success": False})]
        if method == "ping":
            if self.ignore_pings:
                return []
            return [
                json.dumps({"method": "pong", "req_id": req_id, "time_in": now, "time_out": now})
            ]
        out = []
        for symbol in doc["params"]["symbol"]:
            if method == "subscribe" and symbol in self.reject:
                out.append(
                    json.dumps(
                        {
                            "error": f"Currency pair not supported {symbol}",
                            "method": "subscribe",
                            "req_id": req_id,
                            "success": False,
                            "symbol": symbol,
                            "time_in": now,
                            "time_out": now,
                        }
                    )
                )
                continue
            if method == "subscribe":
                conn.subs.add(symbol)
            else:
                conn.subs.discard(symbol)
            result = {"channel": "ticker", "symbol": symbol, "event_trigger": "trades"}
            if method == "subscribe":
                result["snapshot"] = True
            out.append(
                json.dumps(
                    {
                        "method": method,
                        "req_id": req_id,
                        "result": result,
                        "success": True,
                        "time_in": now,
                        "time_out": now,
                    }
                )
            )
        return out

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        # ``last`` is a JSON number on Kraken v2: write the digits unquoted
        sym, ts, p = json.dumps(identifier), json.dumps(_rfc3339(event_ms)), price
        return (
            f'{{"channel":"ticker","type":"update","data":[{{"symbol":{sym},"bid":{p},'
            f'"bid_qty":0.5,"ask":{p},"ask_qty":1.25,"last":{p},"volume":1234.5,"vwap":{p},'
            f'"low":{p},"high":{p},"change":1.5,"change_pct":0.01,"timestamp":{ts}}}]}}'
        )


class FakeCoinbase(FakeExchange):
    name = "coinbase"
    path = "/"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seq = 0

    def _envelope(self, channel: str, events: list[Any], ms: int | None = None) -> str:
        self.seq += 1
        ts = _rfc3339(ms if ms is not None else int(time.time() * 1000), nanos=True)
        return json.dumps(
            {
                "channel": channel,
                "client_id": "",
                "timestamp": ts,
                "sequence_num": self.seq,
                "events": events,
            }
        )

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        try:
            doc = json.loads(text)
            kind, channel = doc["type"], doc["channel"]
        except (ValueError, KeyError, TypeError):
            return [json.dumps({"type": "error", "message": "Malformed request"})]
        products = doc.get("product_ids", [])
        if channel == "heartbeats":
            conn.extra["heartbeats"] = kind == "subscribe"
        elif kind == "subscribe":
            if any(p in self.reject for p in products):
                return [json.dumps({"type": "error", "message": "Failed to subscribe"})]
            conn.subs.update(products)
        else:
            conn.subs.difference_update(products)
        subs: dict[str, list[str]] = {"ticker": sorted(conn.subs)}
        if conn.extra.get("heartbeats"):
            subs["heartbeats"] = ["heartbeats"]
        return [self._envelope("subscriptions", [{"subscriptions": subs}])]

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        t = {
            "type": "ticker",
            "product_id": identifier,
            "price": price,
            "volume_24_h": "18011.95",
            "low_24_h": "21200.01",
            "high_24_h": "22100.99",
            "price_percent_chg_24_h": "0.5",
        }
        return self._envelope("ticker", [{"type": "update", "tickers": [t]}], event_ms)


class FakeCryptoCompare(FakeExchange):
    name = "cryptocompare"
    path = "/v2"
    key_param = "api_key"

    def on_open(self, conn: FakeConn) -> list[str]:
        return ["20~STREAMERWELCOME~streamer-1~fake~2~0~0~0~0~0~0"]

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        try:
            doc = json.loads(text)
            action, subs = doc["action"], doc["subs"]
        except (ValueError, KeyError, TypeError):
            return ["500~INVALID_JSON~"]
        out = []
        for sub in subs:
            if action == "SubAdd":
                if sub in self.reject:
                    out.append(f"500~INVALID_SUB~{sub}")
                    continue
                conn.subs.add(sub)
                out.append(f"16~SUBSCRIBECOMPLETE~{sub}")
            else:
                conn.subs.discard(sub)
                out.append(f"17~UNSUBSCRIBECOMPLETE~{sub}")
        out.append("3~LOADCOMPLETE~")
        return out

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        # FLAGS 1 (up), then PRICE, LASTUPDATE (s), LASTVOLUME per mask 0x1|0x8|0x20 = 0x29
        return f"{identifier}~1~{price}~{event_ms // 1000}~0.015~29"


class FakeFinnhub(FakeExchange):
    name = "finnhub"
    path = "/"
    key_param = "token"

    def handle(self, conn: FakeConn, text: str) -> list[str]:
        try:
            doc = json.loads(text)
            kind, symbol = doc["type"], doc.get("symbol")
        except (ValueError, KeyError, TypeError):
            return [json.dumps({"type": "error", "msg": "Malformed request"})]
        if kind == "subscribe":
            if symbol in self.reject:
                return [json.dumps({"type": "error", "msg": f"Invalid symbol {symbol}"})]
            conn.subs.add(symbol)
        elif kind == "unsubscribe":
            conn.subs.discard(symbol)
        return []

    def ticker(self, identifier: str, price: str, event_ms: int) -> str:
        # ``p`` is a JSON number: digits unquoted; an older trade first, newest last
        sym = json.dumps(identifier)
        return (
            f'{{"data":[{{"c":null,"p":1.5,"s":{sym},"t":{event_ms - 5},"v":0.5}},'
            f'{{"c":null,"p":{price},"s":{sym},"t":{event_ms},"v":0.011467}}],"type":"trade"}}'
        )

    async def server_ping(self) -> None:
        await self.send_raw(json.dumps({"type": "ping"}))


FAKES: dict[str, type[FakeExchange]] = {
    cls.name: cls
    for cls in (FakeBinance, FakeOkx, FakeKraken, FakeCoinbase, FakeCryptoCompare, FakeFinnhub)
}
