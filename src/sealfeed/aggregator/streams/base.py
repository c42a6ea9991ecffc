"""The pure half of streaming: what every exchange protocol module provides.

An :class:`Exchange` knows one exchange's public WebSocket dialect and nothing about
sockets: it maps a pair to the exchange's subscription identifier, builds the subscribe /
unsubscribe / ping frames, and parses an incoming text frame into :data:`Event` values. The
connection loop (:mod:`.connection`) does all IO. Parsers raise :class:`StreamProtocolError`
(never ``KeyError``/``IndexError``/``ValueError``) for frames they cannot understand.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sealfeed.errors import ExitCode, SealfeedError

__all__ = [
    "Ack",
    "Event",
    "Exchange",
    "ExchangeError",
    "Pong",
    "Reject",
    "StreamProtocolError",
    "StreamTick",
    "decimal_text",
    "loads",
    "parse_rfc3339_ms",
]


class StreamProtocolError(SealfeedError):
    """A frame from an exchange that does not match its documented format."""

    exit_code = ExitCode.EXTERNAL


@dataclass(frozen=True, slots=True)
class StreamTick:
    """A price for one subscription identifier; ``event_ms`` is the exchange's event time."""

    identifier: str
    price: str
    event_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The exchange confirmed a request (``req_id``) or these identifiers."""

    req_id: int | None = None
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reject:
    """A subscribe request failed: for ``req_id`` and/or the named identifiers."""

    reason: str
    req_id: int | None = None
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExchangeError:
    """An error the exchange reported that names no subscription (counted and logged)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Pong:
    """Answer to our application-level ping (liveness only)."""


Event = StreamTick | Ack | Reject | ExchangeError | Pong


class Exchange(ABC):
    """One exchange's public stream dialect (pure: data in, data out)."""

    #: source name as in the configuration (``sources.<name>``)
    name: str
    #: public endpoint used when ``stream.ws_url`` is not configured
    default_url: str
    #: subscriptions one connection may carry (exchange-documented limit)
    max_subscriptions: int
    #: connections the manager may open for this source (more pairs -> REST only)
    max_connections: int = 5
    #: identifiers per subscribe/unsubscribe frame the exchange accepts
    max_batch: int = 50
    #: floor for the gap between two control frames (exchange-documented message rate)
    min_send_interval_ms: int = 0
    #: the URL carries the API key (``?token=``/``?api_key=``): never log it
    needs_api_key: bool = False
    #: the exchange drops connections idle longer than this: ping before (ms), or None
    max_idle_ms: int | None = None

    def url(self, ws_url: str | None, api_key: str | None) -> str:
        """The endpoint to dial (API key added by exchanges that take it in the query)."""
        return ws_url or self.default_url

    @abstractmethod
    def identifier(self, base: str, quote: str) -> str:
        """The exchange's subscription identifier for an uppercase ``base``/``quote`` pair."""

    @abstractmethod
    def subscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        """Text frames subscribing ``identifiers`` (at most ``max_batch`` of them)."""

    @abstractmethod
    def unsubscribe(self, identifiers: Sequence[str], req_id: int) -> list[str]:
        """Text frames unsubscribing ``identifiers``."""

    def on_open(self) -> list[str]:
        """Frames to send right after connecting (e.g. a heartbeat channel)."""
        return []

    def ping(self, req_id: int) -> str | None:
        """An application-level ping frame, or ``None`` to use a WebSocket ping frame."""
        return None

    @abstractmethod
    def parse(self, text: str) -> list[Event]:
        """Events in one text frame; :class:`StreamProtocolError` if it is malformed."""


def loads(text: str) -> Any:
    """``json.loads`` that keeps JSON numbers with a fraction as their exact text.

    Several exchanges send prices as JSON numbers; parsing them into ``float`` and printing
    them again can change the digits, so the original text is kept (``parse_float=str``).
    """
    try:
        return json.loads(text, parse_float=str)
    except (ValueError, RecursionError) as exc:
        raise StreamProtocolError(f"not JSON: {exc}") from None


def decimal_text(value: object, *, what: str = "price") -> str:
    """``value`` as a positive finite decimal string with the exchange's digits.

    The text is kept as written; only exponent notation is rewritten to plain notation
    (exactly, through :class:`~decimal.Decimal`).
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StreamProtocolError(f"{what} is not a decimal: {value!r:.40}")
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise StreamProtocolError(f"{what} is not a decimal: {text!r:.40}") from None
    if not number.is_finite() or number <= 0:
        raise StreamProtocolError(f"{what} is not a positive finite decimal: {text!r:.40}")
    if "e" in text or "E" in text:
        # JSON serializers print small floats in exponent form (serde/ryu: ``1.83e-5``);
        # the cache wants plain notation, and Decimal converts exactly
        return format(number, "f")
    return text


def int_ms(value: object, *, what: str = "event time") -> int:
    """An integer millisecond timestamp given as JSON int or decimal string."""
    if isinstance(value, bool):
        raise StreamProtocolError(f"{what} is not an integer: {value!r:.40}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise StreamProtocolError(f"{what} is not an integer: {value!r:.40}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})\Z"
)


def parse_rfc3339_ms(value: object) -> int:
    """Milliseconds since the epoch of an RFC 3339 time (any number of fraction digits).

    Coinbase sends nanoseconds (``2023-02-09T20:30:37.167359596Z``), which
    ``datetime.fromisoformat`` does not take before Python 3.12's relaxed parser; the
    fraction is cut to microseconds first.
    """
    if not isinstance(value, str):
        raise StreamProtocolError(f"timestamp is not a string: {value!r:.40}")
    m = _RFC3339.match(value)
    if m is None:
        raise StreamProtocolError(f"timestamp is not RFC 3339: {value!r:.40}")
    date, clock, frac, tz = m.groups()
    tz = "+00:00" if tz in ("Z", "z") else tz
    micro = (frac or "0")[:6].ljust(6, "0")
    try:
        dt = datetime.fromisoformat(f"{date}T{clock}.{micro}{tz}")
    except ValueError:
        raise StreamProtocolError(f"timestamp is not RFC 3339: {value!r:.40}") from None
    # integer arithmetic: float seconds * 1000 can land one millisecond low
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StreamProtocolError(f"{what} is not an object")
    return value


def as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise StreamProtocolError(f"{what} is not an array")
    return value


def as_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise StreamProtocolError(f"{what} is not a string")
    return value


def dumps(doc: object) -> str:
    """Compact JSON for control frames."""
    return json.dumps(doc, separators=(",", ":"))
