"""Upstream IO: one aiohttp session per source, budget, concurrency, retries, batching, proxy.

:meth:`SourceClient.fetch_pairs` turns a set of pairs into the fewest requests the source's
API allows and settles each request's pairs as it ends; a batch the exchange rejects because
of one unknown symbol (Binance ``-1121`` fails a whole ``symbols=[...]`` call) is bisected
until the known pairs get their prices and the unknown ones stand alone.

Two classes of call share a source (see :mod:`sealfeed.aggregator.limiter`): tracked pairs
first, probes (pairs that never had a value) with what is left, at most half the
connections and a bounded queue.

Everything that can go wrong on the wire ends as an :class:`UpstreamError`; the message is
one line and never contains the query string (API keys travel there for some sources).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import aiohttp

from sealfeed.aggregator.adapters import Adapter, Pair, Prices, UpstreamError, UpstreamRequest
from sealfeed.aggregator.limiter import LimiterFull, RateLimiter

log = logging.getLogger("sealfeed.aggregator.fetch")

#: the default of ``sources.<name>.maxRetries`` (issue #5: jittered exponential backoff)
DEFAULT_MAX_RETRIES = 3
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
#: (source, outcome "ok"/"error", error kind, seconds)
ObserveFn = Callable[[str, str, str, float], None]
#: called once per finished request with its pairs and either their prices or the error
Settle = Callable[[tuple[Pair, ...], "Prices | UpstreamError"], None]
USER_AGENT = "sealfeed-aggregator/0.1 (+https://github.com/Super-Protocol/chainlink)"


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
        max_retries: int = DEFAULT_MAX_RETRIES,
        api_key: str | None = None,
        proxy: str | None = None,
        observe: ObserveFn | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        probe_limit: int | None = None,
    ) -> None:
        """``rps=None``: no token bucket. ``probe_limit``: probe calls admitted at once
        (waiting or running); more are refused with an ``UpstreamError("busy")``."""
        self.adapter = adapter
        self.name = adapter.name
        self.base_url = base_url.rstrip("/")
        self._max_concurrent = max(1, max_concurrent)
        if probe_limit is None:
            probe_limit = 4 * self._max_concurrent
        self.probe_limit = max(1, probe_limit)
        self.limiter = RateLimiter(rps, probe_queue_limit=self.probe_limit)
        self.semaphore = asyncio.Semaphore(self._max_concurrent)
        # probes never hold more than half the connections: tracked calls always find one
        self.probe_semaphore = asyncio.Semaphore(max(1, self._max_concurrent // 2))
        self.timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self.max_retries = max(0, max_retries)
        self.api_key = api_key
        self.proxy = proxy
        self.stats = CallStats()
        self._observe = observe
        self._backoff_base_s = backoff_base_s
        self._session: aiohttp.ClientSession | None = None
        self._probes_admitted = 0

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
        await self.limiter.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def requests(self, pairs: Sequence[Pair], batch_size: int | None) -> list[UpstreamRequest]:
        return self.adapter.requests(pairs, batch_size, self.api_key)

    async def fetch_pairs(
        self,
        pairs: Sequence[Pair],
        batch_size: int | None,
        settle: Settle,
        *,
        probe: bool = False,
    ) -> None:
        """Fetch ``pairs`` in the fewest requests; ``settle`` each request's pairs as it
        ends (prices, or the error). Never raises for upstream trouble."""
        requests = self.requests(pairs, batch_size)
        await asyncio.gather(*(self._run(req, settle, probe) for req in requests))

    async def _run(
        self, req: UpstreamRequest, settle: Settle, probe: bool, *, admitted: bool = False
    ) -> None:
        try:
            if admitted:
                prices = await self._fetch(req, probe)
            else:
                prices = await self.fetch(req, probe=probe)
        except UpstreamError as err:
            if err.kind == "unknown_pair" and len(req.pairs) > 1:
                # one unknown symbol fails the whole batch (Binance -1121, Kraken "Unknown
                # asset pair"): bisect, so the known pairs still get a price and k unknown
                # symbols among n cost about 2k*log2(n) calls instead of n. The halves are
                # part of the call already admitted.
                half = len(req.pairs) // 2
                parts = [
                    r
                    for chunk in (req.pairs[:half], req.pairs[half:])
                    for r in self.requests(chunk, len(chunk))
                ]
                await asyncio.gather(*(self._run(r, settle, probe, admitted=True) for r in parts))
                return
            settle(req.pairs, err)
            return
        except Exception as exc:  # never let a bug leave waiters hanging
            log.exception("upstream handler bug", extra={"event": "bug", "source": self.name})
            settle(req.pairs, UpstreamError("api", exc.__class__.__name__))
            return
        settle(req.pairs, prices)

    @contextlib.asynccontextmanager
    async def _admitted(self, probe: bool) -> AsyncIterator[None]:
        if not probe:
            yield
            return
        if self._probes_admitted >= self.probe_limit:
            raise UpstreamError(
                "busy", f"{self.probe_limit} new pairs already wait for this source"
            )
        self._probes_admitted += 1
        try:
            yield
        finally:
            self._probes_admitted -= 1

    async def fetch(self, req: UpstreamRequest, *, probe: bool = False) -> Prices:
        """One logical call with up to ``max_retries`` retries on retryable errors."""
        async with self._admitted(probe):
            return await self._fetch(req, probe)

    async def _fetch(self, req: UpstreamRequest, probe: bool) -> Prices:
        attempt = 0
        while True:
            try:
                return await self._once(req, probe)
            except UpstreamError as err:
                if not err.retryable or attempt >= self.max_retries:
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

    async def _once(self, req: UpstreamRequest, probe: bool) -> Prices:
        paused = self.limiter.blocked_until - time.monotonic()
        if paused > (self.timeout.total or 0):
            # waiting out a long Retry-After would only turn every miss into a 408: fail now
            raise UpstreamError(
                "rate_limited", f"paused for {paused:.0f}s more after a 429/418 (Retry-After)"
            )
        try:
            await self.limiter.acquire(probe=probe)
        except LimiterFull as exc:
            raise UpstreamError("busy", str(exc)) from None
        gate = self.probe_semaphore if probe else contextlib.nullcontext()
        async with gate, self.semaphore:
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
    "DEFAULT_MAX_RETRIES",
    "CallStats",
    "RateLimiter",
    "Settle",
    "SourceClient",
    "build_proxy",
    "parse_retry_after",
]
