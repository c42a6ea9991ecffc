"""Finnhub real-time trades WebSocket (crypto symbols ``BINANCE:BASEQUOTE``).

Facts from the Finnhub "Trades - Last Price Updates" documentation:

* endpoint ``wss://ws.finnhub.io?token=KEY`` (the key is in the URL: never logged);
* one symbol per frame: ``{"type": "subscribe", "symbol": "BINANCE:BTCUSDT"}``, likewise
  ``unsubscribe``; there is no confirmation;
* trades: ``{"type": "trade", "data": [{"s": symbol, "p": 7296.89, "t": 1575526691134 (ms),
  "v": ...}]}`` (``p`` is a JSON number; its text is kept); a frame can hold several trades of
  one symbol -- the newest per symbol is reported;
* the server sends ``{"type": "ping"}`` to keep the socket open; errors are
  ``{"type": "error", "msg": "Subscribing to too many symbols"}`` (no symbol named);
* the free plan allows 50 symbols and one connection per key; symbols follow the
  reference's REST mapping (``BINANCE:`` + base + quote).
"""

from __future__ import annotations

from collections.abc import Sequence

from sealfeed.aggregator.sources import STREAM_URLS

from .base import (
    Event,
    Exchange,
    ExchangeError,
    Pong,
    StreamProtocolError,
    StreamTick,
    as_dict,
    as_list,
    as_str,
    decimal_text,
    dumps,
    int_ms,
    loads,
)

__all__ = ["Finnhub"]


class Finnhub(Exchange):
    name = "finnhub"
    default_url = STREAM_URLS[name]
    max_subscriptions = 50
    max_connections = 1
    max_batch = 1
    min_send_interval_ms = 50
    needs_api_key = True

    def url(self, ws_url: str | None, api_key: str | None) -> str:
        url = ws_url or self.default_url
        if api_key:
            url += ("&" if "?" in url else "?") + f"token={api_key}"
        return url

    def identifier(self, base: str, quote: str) -> str:
        return f"BINANCE:{base}{quote}"

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"type": "subscribe", "symbol": s}) for s in identifiers]

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"type": "unsubscribe", "symbol": s}) for s in identifiers]

    def parse(self, text: str) -> list[Event]:
        msg = as_dict(loads(text), "finnhub frame")
        kind = msg.get("type")
        if kind == "trade":
            newest: dict[str, StreamTick] = {}
            for row in as_list(msg.get("data"), "finnhub data"):
                row = as_dict(row, "finnhub trade")
                q = StreamTick(
                    as_str(row.get("s"), "finnhub s"),
                    decimal_text(row.get("p")),
                    int_ms(row["t"]) if "t" in row else None,
                )
                prev = newest.get(q.identifier)
                if prev is None or (q.event_ms or 0) >= (prev.event_ms or 0):
                    newest[q.identifier] = q
            return list(newest.values())
        if kind == "ping":
            return [Pong()]
        if kind == "error":
            return [ExchangeError(str(msg.get("msg", "error"))[:200])]
        if isinstance(kind, str):
            return []
        raise StreamProtocolError("finnhub frame without type")
