"""Pure policy pieces of the connection loop: backoff, effective settings, redaction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sealfeed.config.model import StreamConfig

from .base import Exchange

__all__ = ["Settings", "backoff_delay", "redact_url", "scrub", "settings_for"]


def backoff_delay(attempt: int, base_s: float, cap_s: float, jitter: float) -> float:
    """Delay before reconnect number ``attempt`` (0-based), "equal jitter" exponential.

    The ceiling doubles from ``base_s`` up to ``cap_s``; the delay is drawn from
    ``[ceiling/2, ceiling]`` (``jitter`` in ``[0, 1)``) so a fleet of appliances that lost an
    exchange at the same moment does not reconnect in lockstep, yet never retries at once.
    There is no attempt limit: the caller keeps going forever.
    """
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt, 62))
    return ceiling / 2.0 + ceiling / 2.0 * jitter


@dataclass(frozen=True)
class Settings:
    """Effective settings of one source's connections (config clamped by exchange facts)."""

    heartbeat_s: float
    pong_timeout_s: float
    unresponsive_s: float
    batch: int
    send_gap_s: float
    backoff_base_s: float
    backoff_cap_s: float
    #: a subscription the exchange rejected is retried after this long
    reject_retry_s: float


def settings_for(exchange: Exchange, cfg: StreamConfig) -> Settings:
    heartbeat_ms = max(1, cfg.heartbeat_interval_ms)
    if exchange.max_idle_ms is not None:
        heartbeat_ms = min(heartbeat_ms, exchange.max_idle_ms)
    base_ms = max(1, cfg.reconnect_interval_ms)
    cap_ms = max(base_ms, cfg.max_backoff_ms)
    return Settings(
        heartbeat_s=heartbeat_ms / 1000,
        # a pong must come back before the next ping would be due (OKX's documented rule)
        pong_timeout_s=heartbeat_ms / 1000,
        unresponsive_s=max(1, cfg.unresponsive_timeout_ms) / 1000,
        batch=max(1, min(cfg.batch_size, exchange.max_batch)),
        send_gap_s=max(cfg.rate_limit_ms, exchange.min_send_interval_ms) / 1000,
        backoff_base_s=base_ms / 1000,
        backoff_cap_s=cap_ms / 1000,
        reject_retry_s=cap_ms / 1000,
    )


_QUERY_SECRET = re.compile(r"(?i)((?:token|api_key|apikey|key)=)[^&\s'\"]+")


def redact_url(url: str) -> str:
    """``url`` without query string and credentials (API keys travel in the query)."""
    head = url.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = head.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def scrub(text: str, secret: str | None) -> str:
    """An error text safe to log and show: the API key and ``token=`` values removed."""
    if secret:
        text = text.replace(secret, "***")
    return _QUERY_SECRET.sub(r"\1***", text)
