"""CryptoCompare (CCData) streamer v2, ``CCCAGG`` aggregate index (``5~CCCAGG~BASE~QUOTE``).

Facts from the CryptoCompare "WebSockets v2" documentation and its ``ccc-streamer-utilities``:

* endpoint ``wss://streamer.cryptocompare.com/v2?api_key=KEY``; ``&format=streamer`` selects
  the compact ``~``-separated encoding (the reference's choice, kept); JSON frames (the
  default encoding) are parsed too;
* ``{"action": "SubAdd", "subs": ["5~CCCAGG~BTC~USD"]}`` / ``SubRemove``; confirmation
  ``16~SUBSCRIBECOMPLETE~...``; errors ``500~INVALID_SUB~...`` /
  ``500~SUBSCRIPTION_UNRECOGNIZED~...`` naming the subscription, ``401``/``429`` for key and
  socket limits; heartbeat ``999~HEARTBEAT~...``; welcome ``20~STREAMERWELCOME~...``;
* a streamer-format ``CURRENTAGG`` (type 5) frame is ``5~CCCAGG~FROM~TO~FLAGS~<fields>~MASK``
  where MASK (hex, last) says which optional fields follow FLAGS, in this order:
  PRICE 0x1, BID 0x2, OFFER 0x4, LASTUPDATE 0x8 (unix seconds), ... -- so the price is
  present only when ``MASK & 0x1`` (updates that only move volume carry no price);
* one socket per API key ("TOO_MANY_SOCKETS"): a single connection; CryptoCompare states
  no subscription cap we rely on, 300 per connection is our limit.
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
    decimal_text,
    dumps,
    loads,
)

__all__ = ["CryptoCompare"]

_PRICE = 0x1
_BEFORE_LASTUPDATE = 0x7  # PRICE | BID | OFFER precede LASTUPDATE
_LASTUPDATE = 0x8


def _sub(base: str, quote: str) -> str:
    return f"5~CCCAGG~{base}~{quote}"


def _named_sub(parts: Sequence[str]) -> tuple[str, ...]:
    """The ``5~CCCAGG~FROM~TO`` subscription named anywhere inside an error frame."""
    for i in range(len(parts) - 3):
        if parts[i] == "5" and parts[i + 1] == "CCCAGG":
            return (_sub(parts[i + 2], parts[i + 3]),)
    return ()


class CryptoCompare(Exchange):
    name = "cryptocompare"
    default_url = STREAM_URLS[name]
    max_subscriptions = 300
    max_connections = 1
    max_batch = 25
    min_send_interval_ms = 200
    needs_api_key = True

    def url(self, ws_url: str | None, api_key: str | None) -> str:
        url = ws_url or self.default_url
        sep = "&" if "?" in url else "?"
        if "format=" not in url:
            url += f"{sep}format=streamer"
            sep = "&"
        if api_key:
            url += f"{sep}api_key={api_key}"
        return url

    def identifier(self, base: str, quote: str) -> str:
        return _sub(base, quote)

    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"action": "SubAdd", "subs": list(identifiers)})]

    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        return [dumps({"action": "SubRemove", "subs": list(identifiers)})]

    def parse(self, text: str) -> list[Event]:
        if text.startswith("{"):
            return self._parse_json(text)
        parts = text.split("~")
        if len(parts) < 2:
            raise StreamProtocolError("cryptocompare frame without fields")
        kind = parts[0]
        if kind == "5":
            return self._parse_agg(parts)
        if kind == "16":
            return [Ack(identifiers=_named_sub(parts))]
        if kind == "500":
            named = _named_sub(parts)
            reason = "~".join(parts[1:3])[:200]
            return [Reject(reason, identifiers=named)] if named else [ExchangeError(reason)]
        if kind in ("401", "429"):
            return [ExchangeError("~".join(parts[:3])[:200])]
        if kind.isdigit():
            return []  # welcome, heartbeat, load complete, ...
        raise StreamProtocolError("cryptocompare frame of unknown type")

    def _parse_agg(self, parts: list[str]) -> list[Event]:
        if len(parts) < 6:
            raise StreamProtocolError("cryptocompare CURRENTAGG frame too short")
        try:
            mask = int(parts[-1], 16)
        except ValueError:
            raise StreamProtocolError("cryptocompare mask is not hex") from None
        if not mask & _PRICE:
            return []
        fields = parts[5:-1]
        needed = bin(mask & _BEFORE_LASTUPDATE).count("1")
        if not fields:
            raise StreamProtocolError("cryptocompare CURRENTAGG without the masked price")
        event_ms = None
        if mask & _LASTUPDATE:
            if len(fields) <= needed:
                raise StreamProtocolError("cryptocompare CURRENTAGG without LASTUPDATE")
            seconds = fields[needed]
            if not seconds.isdigit():
                raise StreamProtocolError("cryptocompare LASTUPDATE is not an integer")
            event_ms = int(seconds) * 1000
        return [StreamTick(_sub(parts[2], parts[3]), decimal_text(fields[0]), event_ms)]

    def _parse_json(self, text: str) -> list[Event]:
        msg = as_dict(loads(text), "cryptocompare frame")
        kind = str(msg.get("TYPE", ""))
        if kind == "5":
            if "PRICE" not in msg:
                return []
            last = msg.get("LASTUPDATE")
            return [
                StreamTick(
                    _sub(str(msg.get("FROMSYMBOL")), str(msg.get("TOSYMBOL"))),
                    decimal_text(msg["PRICE"]),
                    last * 1000 if isinstance(last, int) and not isinstance(last, bool) else None,
                )
            ]
        param = str(msg.get("PARAMETER", msg.get("SUB", "")))
        named = _named_sub(param.split("~"))
        if kind == "16":
            return [Ack(identifiers=named)]
        if kind == "500":
            reason = f"{msg.get('MESSAGE')}: {msg.get('INFO', '')}"[:200]
            return [Reject(reason, identifiers=named)] if named else [ExchangeError(reason)]
        if kind in ("401", "429"):
            return [ExchangeError(f"{kind} {msg.get('MESSAGE')}"[:200])]
        if kind:
            return []
        raise StreamProtocolError("cryptocompare frame without TYPE")
