"""Quote cache: the last valid price per (source, base, quote), with its true receive time.

A stored entry carries the pre-rendered 200 body of ``GET /quote/...`` so a hot request is a
dict lookup and one ``send``. Nothing here does IO. REST results and streaming messages
(:class:`QuoteSink`) land through the same :meth:`QuoteCache.put`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

Key = tuple[str, str, str]  # (source, BASE, QUOTE)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as JavaScript's ``Date.toISOString()`` prints it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


#: what a quote's body is
JSON_CONTENT_TYPE = b"application/json; charset=utf-8"


@dataclass(slots=True)
class PriceQuote:
    source: str
    base: str
    quote: str
    price: str
    received_at_ms: int
    cached_at_ms: int
    expires_at_ms: int
    body: bytes

    @property
    def received_at(self) -> str:
        return iso_ms(self.received_at_ms)

    def doc(self) -> dict[str, object]:
        return {
            "source": self.source,
            "pair": [self.base, self.quote],
            "price": self.price,
            "receivedAt": self.received_at,
        }

    def age_ms(self, at_ms: int | None = None) -> int:
        return max(0, (now_ms() if at_ms is None else at_ms) - self.received_at_ms)


class QuoteSink(Protocol):
    """What the streaming clients (``sealfeed.aggregator.streams``) call per price message.

    ``price`` is the exchange's decimal string, ``received_at_ms`` the time the message was
    received (epoch ms). The value is cached exactly like a REST result.
    """

    def on_stream_quote(
        self, source: str, base: str, quote: str, price: str, received_at_ms: int
    ) -> None: ...


class QuoteCache:
    def __init__(self) -> None:
        self._entries: dict[Key, PriceQuote] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> PriceQuote | None:
        return self._entries.get(key)

    def fresh(self, key: Key, at_ms: int) -> PriceQuote | None:
        q = self._entries.get(key)
        if q is not None and at_ms < q.expires_at_ms:
            return q
        return None

    def put(
        self,
        source: str,
        base: str,
        quote: str,
        price: str,
        received_at_ms: int,
        ttl_ms: int,
    ) -> PriceQuote:
        """Store a value unless a newer one is already cached (late REST vs. stream)."""
        key = (source, base, quote)
        old = self._entries.get(key)
        if old is not None and old.received_at_ms > received_at_ms:
            return old
        entry = PriceQuote(
            source=source,
            base=base,
            quote=quote,
            price=price,
            received_at_ms=received_at_ms,
            cached_at_ms=now_ms(),
            expires_at_ms=received_at_ms + ttl_ms,
            body=b"",
        )
        entry.body = json.dumps(entry.doc(), separators=(",", ":")).encode()
        self._entries[key] = entry
        return entry

    def drop(self, key: Key) -> None:
        self._entries.pop(key, None)


__all__ = ["Key", "PriceQuote", "QuoteCache", "QuoteSink", "iso_ms", "now_ms"]
