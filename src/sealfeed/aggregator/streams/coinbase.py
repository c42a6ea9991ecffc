"""Coinbase Advanced Trade market-data WebSocket, ``ticker`` channel.

Facts from the Coinbase "Advanced Trade WebSocket" documentation:

* endpoint ``wss://advanced-trade-ws.coinbase.com``; products are ``BASE-QUOTE``;
* ``{"type": "subscribe", "product_ids": [...], "channel": "ticker"}`` (one channel per
  message); a subscribe must arrive within 5 s of connecting or the server disconnects;
* "Most channels close within 60-90 seconds if no updates are sent. Subscribe to
  heartbeats to keep all subscriptions open": the ``heartbeats`` channel is subscribed on
  every connect and ticks once a second;
* the server confirms with a ``subscriptions`` message listing every active subscription,
  and reports failures as ``{"type": "error", "message": ...}`` without naming a product;
* unauthenticated connections may send 8 messages per second per IP: control frames are
  spaced 125 ms apart;
* ticker frames: ``{"channel": "ticker", "timestamp": "...Z" (nanoseconds), "events":
  [{"type": "snapshot"|"update", "tickers": [{"product_id": ..., "price": "21932.98"}]}]}``;
  the envelope timestamp is the event time.
* Coinbase documents no per-connection product cap; 500 per connection is our limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sealfeed.aggregator.sources import STREAM_URLS

from .base import (
    Ack,
    Event,
    Exchange,
    ExchangeError,
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

__all__ = ["Coinbase"]


class Coinbase(Exchange):
    name = "coinbase"
    default_url = STREAM_URLS[name]
    max_subscriptions = 500
    max_batch = 100
    min_send_interval_ms = 125

    def identifier(self, base: str, quote: str) -> str:
        return f"{base}-{quote}"

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        doc = {"type": "subscribe", "product_ids": list(identifiers), "channel": "ticker"}
        return [dumps(doc)]

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        doc = {"type": "unsubscribe", "product_ids": list(identifiers), "channel": "ticker"}
        return [dumps(doc)]

    def on_open(self) -> list[str]:
        return [dumps({"type": "subscribe", "channel": "heartbeats"})]

    def parse(self, text: str) -> list[Event]:
        msg = as_dict(loads(text), "coinbase frame")
        channel = msg.get("channel")
        if channel == "ticker":
            ts = msg.get("timestamp")
            event_ms = parse_rfc3339_ms(ts) if ts is not None else None
            out: list[Event] = []
            for event in as_list(msg.get("events"), "coinbase events"):
                event = as_dict(event, "coinbase event")
                for t in as_list(event.get("tickers", []), "coinbase tickers"):
                    t = as_dict(t, "coinbase ticker")
                    out.append(
                        StreamTick(
                            as_str(t.get("product_id"), "coinbase product_id"),
                            decimal_text(t.get("price")),
                            event_ms,
                        )
                    )
            return out
        if channel == "subscriptions":
            ids: list[str] = []
            for event in as_list(msg.get("events", []), "coinbase events"):
                subs = as_dict(event, "coinbase event").get("subscriptions")
                if isinstance(subs, dict) and isinstance(subs.get("ticker"), list):
                    ids.extend(str(p) for p in subs["ticker"])
            return [Ack(identifiers=tuple(ids))]
        if channel is not None:
            return []  # heartbeats and other channels
        kind = msg.get("type")
        if kind == "error":
            return [ExchangeError(str(msg.get("message", "error"))[:200])]
        if kind == "ticker":  # the older Exchange feed shape, accepted for compatibility
            ts = msg.get("time")
            return [
                StreamTick(
                    as_str(msg.get("product_id"), "coinbase product_id"),
                    decimal_text(msg.get("price")),
                    parse_rfc3339_ms(ts) if ts is not None else None,
                )
            ]
        if kind is not None:
            return []
        raise StreamProtocolError("coinbase frame of unknown shape")
