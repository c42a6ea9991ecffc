"""Kraken Spot WebSocket API v2, ``ticker`` channel.

Facts from the Kraken "Spot Websocket API v2" documentation:

* endpoint ``wss://ws.kraken.com/v2``; symbols are ``BASE/QUOTE`` with the ISO-style codes:
  v2 says ``BTC`` and ``DOGE`` where the REST API and v1 used ``XBT`` and ``XDG``, so those
  legacy codes are mapped;
* ``{"method": "subscribe", "params": {"channel": "ticker", "symbol": [...],
  "event_trigger": "trades"}, "req_id": N}`` is answered once per symbol with
  ``{"method": "subscribe", "req_id": N, "success": true, "result": {"symbol": ...}}`` or
  ``{"method": "subscribe", "req_id": N, "success": false, "error": "...", "symbol": ...}``
  ("Already subscribed" is not a failure);
* ``{"method": "ping", "req_id": N}`` -> ``{"method": "pong", "req_id": N}``; the server
  also sends ``{"channel": "heartbeat"}`` about once a second while subscribed;
* ticker frames ``{"channel": "ticker", "type": "snapshot"|"update", "data": [{"symbol":
  ..., "last": 64003.2, "timestamp": "...Z"}]}`` carry ``last`` as a JSON number (its text
  is kept, see :func:`.base.loads`); ``timestamp`` is used when present.
* Kraken documents no subscription cap per connection; 500 per connection is our limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sealfeed.aggregator.sources import STREAM_URLS

from .base import (
    Ack,
    Event,
    Exchange,
    ExchangeError,
    Pong,
    Reject,
    StreamProtocolError,
    StreamTick,
    as_dict,
    as_list,
    as_str,
    decimal_text,
    dumps,
    loads,
    parse_rfc3339_ms,
)

__all__ = ["Kraken", "kraken_asset"]

# Kraken's legacy asset codes (REST ``XBT``, ``XDG``) -> the codes WebSocket v2 uses.
_V2_ASSET = {"XBT": "BTC", "XDG": "DOGE"}


def kraken_asset(code: str) -> str:
    return _V2_ASSET.get(code, code)


class Kraken(Exchange):
    name = "kraken"
    default_url = STREAM_URLS[name]
    max_subscriptions = 500
    max_batch = 50
    min_send_interval_ms = 200

    def identifier(self, base: str, quote: str) -> str:
        return f"{kraken_asset(base)}/{kraken_asset(quote)}"

    def _req(self, method: str, identifiers: Sequence[str], req_id: int) -> list[str]:
        params = {"channel": "ticker", "symbol": list(identifiers), "event_trigger": "trades"}
        return [dumps({"method": method, "params": params, "req_id": req_id})]

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return self._req("subscribe", identifiers, req_id)

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return self._req("unsubscribe", identifiers, req_id)

    def ping(self, req_id: int) -> str | None:
        return dumps({"method": "ping", "req_id": req_id})

    def parse(self, text: str) -> list[Event]:
        msg = as_dict(loads(text), "kraken frame")
        channel = msg.get("channel")
        if channel == "ticker":
            out: list[Event] = []
            for row in as_list(msg.get("data"), "kraken data"):
                row = as_dict(row, "kraken ticker")
                ts = row.get("timestamp")
                out.append(
                    StreamTick(
                        as_str(row.get("symbol"), "kraken symbol"),
                        decimal_text(row.get("last")),
                        parse_rfc3339_ms(ts) if ts is not None else None,
                    )
                )
            return out
        if channel is not None:
            return []  # heartbeat, status, ...
        method = msg.get("method")
        req_id = msg.get("req_id") if isinstance(msg.get("req_id"), int) else None
        if method == "pong":
            return [Pong()]
        if method == "subscribe":
            result = msg.get("result")
            symbol = msg.get("symbol")
            if symbol is None and isinstance(result, dict):
                symbol = result.get("symbol")
            ids = (symbol,) if isinstance(symbol, str) else ()
            error = str(msg.get("error", ""))
            if msg.get("success") is True or "already subscribed" in error.lower():
                return [Ack(req_id=req_id, identifiers=ids)]
            return [Reject(error[:200] or "subscribe failed", req_id=req_id, identifiers=ids)]
        if method == "unsubscribe":
            return []
        if "error" in msg:
            return [ExchangeError(str(msg["error"])[:200])]
        raise StreamProtocolError("kraken frame of unknown shape")
