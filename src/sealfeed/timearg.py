"""The one parser for ``--at TIME`` (ISO-8601 or Unix seconds; default now, read only here)."""

from __future__ import annotations

from datetime import UTC, datetime

from sealfeed.errors import InputError


def parse_at(value: str | None, *, accepted: str = "ISO-8601 or Unix seconds") -> datetime:
    if value is None:
        return datetime.now(UTC)  # the clock is read at the CLI edge only
    v = value.strip()
    try:
        return datetime.fromtimestamp(float(v), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not {accepted}: {value!r}", location="--at") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


__all__ = ["parse_at"]
