"""Binance spot market streams (``<symbol>@miniTicker``).

Facts from the Binance "WebSocket Streams" documentation:

* raw endpoint ``wss://stream.binance.com:9443/ws`` by default (the venue of the REST default;
  ``.us`` is the other venue: sealfeed.config.catalogue, ADR 0095); ``/stream`` wraps payloads as
  ``{"stream": ..., "data": ...}``, both shapes are accepted;
* ``{"method": "SUBSCRIBE", "params": [...], "id": N}`` is answered by
  ``{"result": null, "id": N}``; errors come as ``{"code": C, "msg": M, "id": N}`` (older
  docs) or ``{"error": {"code": C, "msg": M}, "id": N}``;
* "A single connection can listen to a maximum of 1024 streams";
* "WebSocket connections have a limit of 5 incoming messages per second" (PING/PONG frames
  and JSON control messages count; more closes the connection): control frames are spaced
  250 ms apart, leaving room for our PONG replies;
* the server sends a PING frame every 20 s and disconnects without a PONG within a minute
  (answered by the connection loop); a connection lives at most 24 h (we reconnect);
* ``24hrMiniTicker`` payload: ``E`` event time (ms), ``s`` symbol, ``c`` close price (a
  decimal string).
"""

from __future__ import annotations

from collections.abc import Sequence

from sealfeed.aggregator.sources import STREAM_URLS

from .base import (
    Ack,
    Event,
    Exchange,
    ExchangeError,
    Reject,
    StreamProtocolError,
    StreamTick,
    as_dict,
    as_str,
    decimal_text,
    dumps,
    int_ms,
    loads,
)

__all__ = ["Binance"]

_SUFFIX = "@miniTicker"


class Binance(Exchange):
    name = "binance"
    default_url = STREAM_URLS[name]
    max_subscriptions = 1024
    max_batch = 200
    min_send_interval_ms = 250

    def identifier(self, base: str, quote: str) -> str:
        return f"{base}{quote}".lower() + _SUFFIX

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"method": "SUBSCRIBE", "params": list(identifiers), "id": req_id})]

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"method": "UNSUBSCRIBE", "params": list(identifiers), "id": req_id})]

    def parse(self, text: str) -> list[Event]:
        msg = as_dict(loads(text), "binance frame")
        if "stream" in msg and "data" in msg:
            msg = as_dict(msg["data"], "binance data")
        if msg.get("e") == "24hrMiniTicker":
            symbol = as_str(msg.get("s"), "binance s")
            return [
                StreamTick(
                    symbol.lower() + _SUFFIX,
                    decimal_text(msg.get("c")),
                    int_ms(msg["E"]) if "E" in msg else None,
                )
            ]
        if "id" in msg and ("result" in msg or "error" in msg or "code" in msg):
            req_id = msg["id"]
            if not isinstance(req_id, int):
                req_id = None
            err = msg.get("error")
            if err is None and "code" in msg:
                err = msg
            if err is not None:
                if isinstance(err, dict):
                    reason = f"code {err.get('code')}: {err.get('msg')}"
                else:
                    reason = str(err)
                return [Reject(reason[:200], req_id=req_id)]
            return [Ack(req_id=req_id)]
        if "code" in msg and "msg" in msg:
            return [ExchangeError(f"code {msg['code']}: {msg['msg']}"[:200])]
        if "e" in msg:
            return []  # another event type on the same connection: not ours to price
        raise StreamProtocolError("binance frame of unknown shape")
