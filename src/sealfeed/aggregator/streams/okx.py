"""OKX v5 public WebSocket, ``tickers`` channel.

Facts from the OKX API v5 documentation ("WebSocket", "Tickers channel"):

* endpoint ``wss://ws.okx.com:8443/ws/v5/public``; instrument ids are ``BASE-QUOTE``;
* ``{"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]}`` is
  confirmed per argument by ``{"event": "subscribe", "arg": {...}, "connId": ...}``;
  failures by ``{"event": "error", "code": "60018", "msg": "... instId:FOO-BAR doesn't
  exist ...", "connId": ...}`` (the instrument is only named inside ``msg``);
* "The total length of multiple channels cannot exceed 64 KB" per request and "480
  'subscribe/unsubscribe/login' requests per hour per connection": batches of up to 100
  arguments (~5 KB) keep both far away for the pair counts an appliance tracks;
* "The connection will break automatically if ... data has not been pushed for more than
  30 seconds": send the text ``ping`` after N < 30 s of silence and expect ``pong`` within
  N seconds, else reconnect -- so the idle ping interval is capped at 25 s;
* ticker push: ``{"arg": {...}, "data": [{"instId": ..., "last": "9999.99", "ts":
  "1597026383085"}]}`` (``last`` and ``ts`` are strings; ``ts`` in ms).
* OKX documents no per-connection subscription cap for public channels; 1000 is our own
  limit so a reconnect never has to replay an unbounded set.
"""

from __future__ import annotations

import re
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
    int_ms,
    loads,
)

__all__ = ["Okx"]

_CHANNEL = "tickers"
_INST_IN_MSG = re.compile(r"instId:([A-Za-z0-9_-]+)")


class Okx(Exchange):
    name = "okx"
    default_url = STREAM_URLS[name]
    max_subscriptions = 1000
    max_batch = 100
    min_send_interval_ms = 100
    max_idle_ms = 25_000

    def identifier(self, base: str, quote: str) -> str:
        return f"{base}-{quote}"

    def _op(self, op: str, identifiers: Sequence[str]) -> list[str]:
        args = [{"channel": _CHANNEL, "instId": i} for i in identifiers]
        return [dumps({"op": op, "args": args})]

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return self._op("subscribe", identifiers)

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return self._op("unsubscribe", identifiers)

    def ping(self, req_id: int) -> str | None:
        return "ping"

    def parse(self, text: str) -> list[Event]:
        if text == "pong":
            return [Pong()]
        msg = as_dict(loads(text), "okx frame")
        event = msg.get("event")
        if event is not None:
            arg = msg.get("arg")
            inst = arg.get("instId") if isinstance(arg, dict) else None
            if event == "subscribe":
                return [Ack(identifiers=(inst,) if isinstance(inst, str) else ())]
            if event == "error":
                reason = f"code {msg.get('code')}: {msg.get('msg')}"[:200]
                found = _INST_IN_MSG.search(str(msg.get("msg", "")))
                if found:
                    return [Reject(reason, identifiers=(found.group(1),))]
                return [ExchangeError(reason)]
            if event == "notice":
                return [ExchangeError(f"notice {msg.get('code')}: {msg.get('msg')}"[:200])]
            return []  # unsubscribe confirmations, channel-conn-count, ...
        arg = as_dict(msg.get("arg"), "okx arg")
        if arg.get("channel") != _CHANNEL:
            return []
        out: list[Event] = []
        for row in as_list(msg.get("data"), "okx data"):
            row = as_dict(row, "okx ticker")
            out.append(
                StreamTick(
                    as_str(row.get("instId"), "okx instId"),
                    decimal_text(row.get("last")),
                    int_ms(row["ts"]) if "ts" in row else None,
                )
            )
        if not out:
            raise StreamProtocolError("okx ticker push without data")
        return out
