"""Median across sources (pure): decimal text in, decimal text out, never through a float."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Stats:
    median: str
    count: int
    min: str
    max: str
    spread: str
    #: spread relative to the median, in percent, 4 decimals ("0" when the median is 0)
    spread_pct: str


def plain(d: Decimal) -> str:
    """Decimal as plain text without exponent or trailing zeros (``67012.340`` -> ``67012.34``)."""
    return format(d.normalize(), "f")


def median_stats(prices: Sequence[str]) -> Stats:
    """Median, min, max and spread of decimal price strings (at least one)."""
    if not prices:
        raise ValueError("median of no prices")
    values = sorted(Decimal(p) for p in prices)
    n = len(values)
    mid = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    spread = values[-1] - values[0]
    pct = plain((spread / mid * 100).quantize(Decimal("0.0001"))) if mid else "0"
    return Stats(plain(mid), n, plain(values[0]), plain(values[-1]), plain(spread), pct)


__all__ = ["Stats", "median_stats", "plain"]
