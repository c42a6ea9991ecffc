"""Why a quote could not be answered: the core's failures, free of any HTTP status.

The HTTP edge (:mod:`sealfeed.aggregator.http`) maps each class to a status code and the
reference's error body; the core only says what went wrong. ``extra`` carries fields the
answer adds to the body (``lastReceivedAt``/``ageMs`` of the last value, ``skipped`` of a
median), keyed as they appear there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class QuoteFailure(Exception):
    """Base class: a one-line message for the client plus optional body fields."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: Mapping[str, Any] = extra

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.message!r})"


class UnknownSource(QuoteFailure):
    """The URL names no source sealfeed knows, or one not configured."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Adapter not found for source: {name}")


class SourceDisabled(QuoteFailure):
    def __init__(self, name: str) -> None:
        super().__init__(f"Adapter {name} is disabled")


class InvalidSymbol(QuoteFailure):
    """A base/quote symbol outside the grammar of :mod:`sealfeed.aggregator.pairs`."""


class PriceNotFound(QuoteFailure):
    """The source answered that it does not know the pair (or, for a median, no source
    holds a fresh value)."""


class QuoteTimeout(QuoteFailure):
    """No value within ``quotes_request_timeout_ms`` (the fetch goes on and fills the cache)."""


class SourceUnavailable(QuoteFailure):
    """The source failed and nothing valid is cached (``extra``: age of the last value)."""


class SourceBusy(QuoteFailure):
    """Too many pairs that never had a value are already waiting for this source; a new one
    is refused at once instead of queueing past the request timeout (load shedding)."""


class ShuttingDown(QuoteFailure):
    def __init__(self) -> None:
        super().__init__("Service is shutting down")


__all__ = [
    "InvalidSymbol",
    "PriceNotFound",
    "QuoteFailure",
    "QuoteTimeout",
    "ShuttingDown",
    "SourceBusy",
    "SourceDisabled",
    "SourceUnavailable",
    "UnknownSource",
]
