"""Upstream IO: one aiohttp session per source, rate limit, concurrency, retries, proxy.

Everything that can go wrong on the wire ends as an :class:`UpstreamError`; the message is
one line and never contains the query string (API keys travel there for some sources).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from sealfeed.aggregator.adapters import Adapter, Prices, UpstreamError, UpstreamRequest

log = logging.getLogger("sealfeed.aggregator.fetch")

MAX_RETRIES = 3  # issue #5: exponential backoff with jitter, max 3 retries
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
#: (source, outcome "ok"/"error", error kind, seconds)
ObserveFn = Callable[[str, str, str, float], None]
USER_AGENT = "sealfeed-aggregator/0.1 (+https://github.com/Super-Protocol/chainlink)"


class RateLimiter:
    """Token bucket: ``rps`` tokens per second, burst of max(1, rps) tokens.

    ``block_until`` pauses every caller (a 429/418 with Retry-After) so a rate-limited
    source is not hammered by retries from the refresher and misses at once.
    """

    def __init__(self, rps: float | None) -> None:
        self.rps = rps if rps and rps > 0 else None
        self.capacity = max(1.0, self.rps or 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        if self.rps is None:
            return
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rps)
        self.updated = now

    async def acquire(self) -> None:
        if self.rps is None and self.blocked_until <= time.monotonic():
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                if self.blocked_until > now:
                    await asyncio.sleep(self.blocked_until - now)
                    continue
                if self.rps is None:
                    return
                self._refill(now)
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self.tokens) / self.rps)

    def block_for(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)

    def budget(self) -> dict[str, float | None]:
        now = time.monotonic()
        self._refill(now)
        return {
            "rps": self.rps,
            "tokens": None if self.rps is None else round(self.tokens, 2),
            "blockedForMs": max(0, int((self.blocked_until - now) * 1000)),
        }


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class CallStats:
    calls: int = 0
    errors: int = 0
    last_success_ms: int | None = None
    last_error_ms: int | None = None
    last_error: str | None = None


class SourceClient:
    """Calls one source. Owns its session (connection reuse), limiter and semaphore."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        base_url: str,
        rps: float | None,
        max_concurrent: int,
        timeout_ms: int,
        api_key: str | None = None,
        proxy: str | None = None,
        observe: ObserveFn | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.base_url = base_url.rstrip("/")
        self.limiter = RateLimiter(rps)
        self.semaphore = asyncio.Semaphore(max(1, max_concurrent))
        self.timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self.api_key = api_key
        self.proxy = proxy
        self.stats = CallStats()
        self._observe = observe
        self._backoff_base_s = backoff_base_s
        self._session: aiohttp.ClientSession | None = None
        self._max_concurrent = max(1, max_concurrent)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_concurrent, ttl_dns_cache=300, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def requests(
        self, pairs: list[tuple[str, str]], batch_size: int | None
    ) -> list[UpstreamRequest]:
        return self.adapter.requests(pairs, batch_size, self.api_key)

    async def fetch(self, req: UpstreamRequest) -> Prices:
        """One logical call with up to MAX_RETRIES retries on retryable errors."""
        attempt = 0
        while True:
            try:
                return await self._once(req)
            except UpstreamError as err:
                if not err.retryable or attempt >= MAX_RETRIES:
                    raise
                delay = err.retry_after
                if delay is None:
                    # full jitter (AWS architecture blog "Exponential Backoff And Jitter")
                    cap = min(BACKOFF_CAP_S, self._backoff_base_s * 2**attempt)
                    delay = random.uniform(cap / 2, cap)
                if delay > BACKOFF_CAP_S * 2:
                    raise  # the source asks for a long pause; the limiter enforces it
                attempt += 1
                await asyncio.sleep(delay)

    async def _once(self, req: UpstreamRequest) -> Prices:
        paused = self.limiter.blocked_until - time.monotonic()
        if paused > (self.timeout.total or 0):
            # waiting out a long Retry-After would only turn every miss into a 408: fail now
            raise UpstreamError(
                "rate_limited", f"paused for {paused:.0f}s more after a 429/418 (Retry-After)"
            )
        await self.limiter.acquire()
        async with self.semaphore:
            started = time.perf_counter()
            outcome = "error"
            kind = "ok"
            try:
                async with self.session.get(
                    self.base_url + req.path,
                    params=req.params,
                    headers=dict(req.headers) if req.headers else None,
                    proxy=self.proxy,
                ) as resp:
                    body = await resp.read()
                    status = resp.status
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                if status in (429, 418):
                    # Binance: 429 = over limit, 418 = IP banned after ignoring 429s;
                    # both carry Retry-After (seconds). Honour it for every caller.
                    wait = retry_after if retry_after is not None else 1.0
                    self.limiter.block_for(wait)
                    raise UpstreamError(
                        "rate_limited",
                        f"HTTP {status}, retry after {wait:g}s",
                        status=status,
                        retry_after=wait,
                    )
                if status in (401, 403):
                    raise UpstreamError("unauthorized", f"HTTP {status}", status=status)
                try:
                    prices = self.adapter.parse_response(req, status, body)
                except UpstreamError as err:
                    if err.kind == "rate_limited" and err.retry_after:
                        self.limiter.block_for(err.retry_after)
                    raise
                outcome = "ok"
                self.stats.last_success_ms = int(time.time() * 1000)
                return prices
            except UpstreamError as err:
                kind = err.kind
                self._failed(err)
                raise
            except TimeoutError:
                kind = "timeout"
                t_err = UpstreamError("timeout", f"no answer within {self.timeout.total:g}s")
                self._failed(t_err)
                raise t_err from None
            except aiohttp.ClientError as exc:
                kind = "connection"
                c_err = UpstreamError("connection", f"{exc.__class__.__name__}")
                self._failed(c_err)
                raise c_err from None
            finally:
                self.stats.calls += 1
                if self._observe is not None:
                    self._observe(self.name, outcome, kind, time.perf_counter() - started)

    def _failed(self, err: UpstreamError) -> None:
        self.stats.errors += 1
        self.stats.last_error_ms = int(time.time() * 1000)
        self.stats.last_error = f"{err.kind}: {err.message}"


def build_proxy(use_proxy: object, global_proxy: str | None) -> str | None:
    """Resolve a source's ``use_proxy`` (False / True = the global proxy / its own URL)."""
    if use_proxy is True:
        return global_proxy
    if use_proxy is False or use_proxy is None:
        return None
    reveal = getattr(use_proxy, "reveal", None)
    return str(reveal() if callable(reveal) else use_proxy) or None


__all__ = [
    "MAX_RETRIES",
    "CallStats",
    "RateLimiter",
    "SourceClient",
    "build_proxy",
    "parse_retry_after",
]
