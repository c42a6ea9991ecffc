"""The aggregator core: tracked pairs, single-flight, coalescing, background refresh, cleanup.

Design §3.3.1 semantics, improved:

* a GET for a fresh cached pair never waits on anything;
* N concurrent misses for one pair share one future (single-flight);
* every pair of a source that needs data within one short window (misses and refreshes
  alike) goes out as the fewest batched requests the API allows (coalescing);
* the refresher re-fetches tracked pairs ``stale_trigger_before_expiry_ms`` before expiry,
  piggy-backing pairs that fall due soon onto the same batch;
* an upstream error never replaces a still-valid value; pairs with no valid value answer
  503 with the age of the last known value;
* pairs not requested for ``inactive_timeout_ms`` are dropped every ``cleanup_interval_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealfeed.aggregator.adapters import (
    ADAPTERS,
    Pair,
    Prices,
    UpstreamError,
    UpstreamRequest,
    valid_price,
)
from sealfeed.aggregator.cache import Quote, QuoteCache, iso_ms, now_ms
from sealfeed.aggregator.fetch import SourceClient, build_proxy
from sealfeed.aggregator.metrics import AggregatorMetrics
from sealfeed.aggregator.sources import DEFAULTS, SOURCE_NAMES, canonical_source
from sealfeed.config.model import AggregatorConfig, SourceConfig
from sealfeed.errors import InputError

log = logging.getLogger("sealfeed.aggregator")

#: misses arriving in the same event-loop pass share one upstream call. A 2 ms window
#: measured +4.9 ms on a cold miss (bench/aggregator.py, cold phase) against the issue's
#: "upstream latency + 5 ms"; 0 (next loop pass) measured +0.9 ms and still coalesces the
#: concurrent misses of a round, and the refresher batches everything else anyway.
COALESCE_WINDOW_S = 0.0
#: a refresh call also takes pairs that fall due within this many ms (one call, not two)
PIGGYBACK_MS = 2_000
MAX_FAILURE_BACKOFF_MS = 60_000
#: an unknown pair answers 404 from memory for this long (capped by the source TTL), so a
#: job asking every round for a symbol the exchange lacks costs one upstream call a minute
NOT_FOUND_TTL_MS = 60_000


class QuoteError(Exception):
    """An HTTP error answer with the reference body ``{statusCode, timestamp, message}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def doc(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "timestamp": iso_ms(now_ms()),
            "message": self.message,
            **self.extra,
        }


def source_not_found(name: str) -> QuoteError:
    return QuoteError(404, f"Adapter not found for source: {name}")


def price_not_found(source: str, pair: Pair) -> QuoteError:
    return QuoteError(404, f"No price found for {pair[0]}/{pair[1]} from {source}")


@dataclass(slots=True)
class Tracked:
    registered_at_ms: int
    last_request_ms: int
    ttl_ms: int
    last_fetch_ms: int = 0
    last_response_ms: int = 0
    failures: int = 0


@dataclass
class SourceState:
    name: str
    cfg: SourceConfig
    client: SourceClient
    ttl_ms: int
    stale_ms: int
    batch_size: int | None
    refetch: bool
    tracked: dict[Pair, Tracked] = field(default_factory=dict)
    inflight: dict[Pair, asyncio.Future[Quote]] = field(default_factory=dict)
    pending: set[Pair] = field(default_factory=set)
    flush_scheduled: bool = False
    last_error: str | None = None
    last_error_ms: int | None = None
    last_success_ms: int | None = None
    #: pairs the source said it does not know, until when (negative cache)
    not_found: dict[Pair, int] = field(default_factory=dict)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # mark retrieved: a timed-out waiter must not cause a warning


class Aggregator:
    """Owns the cache and every source. Implements the streaming ``QuoteSink``."""

    def __init__(
        self,
        cfg: AggregatorConfig,
        metrics: AggregatorMetrics | None = None,
        *,
        backoff_base_s: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.metrics = metrics or AggregatorMetrics()
        self.cache = QuoteCache()
        self.sources: dict[str, SourceState] = {}
        self.disabled: set[str] = set()
        self.streams: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[Any]] = set()
        self.started_ms = now_ms()
        self._pair_ttl: dict[tuple[str | None, str, str], int] = {
            (canonical_source(t.source) if t.source else None, t.base.upper(), t.quote.upper()): (
                t.ttl_ms
            )
            for t in cfg.pairs_ttl
        }
        global_proxy = cfg.proxy.reveal() if cfg.proxy is not None else None
        extra = {} if backoff_base_s is None else {"backoff_base_s": backoff_base_s}
        for key, scfg in cfg.sources.items():
            name = canonical_source(key) or canonical_source(scfg.name)
            if name is None:
                raise InputError(
                    f"unknown source {key!r}; known: {', '.join(SOURCE_NAMES)}",
                    location=f"priceAggregatorConfig.sources.{key}",
                )
            if not scfg.enabled:
                self.disabled.add(name)
                continue
            d = DEFAULTS[name]
            adapter = ADAPTERS[name]
            api_key = scfg.api_key.reveal() if scfg.api_key is not None else None
            client = SourceClient(
                adapter,
                base_url=adapter.base_url(scfg.base_url, api_key),
                rps=scfg.rps if scfg.rps is not None else d.rps,
                max_concurrent=scfg.max_concurrent,
                timeout_ms=scfg.timeout_ms,
                api_key=api_key,
                proxy=build_proxy(scfg.use_proxy, global_proxy),
                observe=self.metrics.observe_upstream,
                **extra,
            )
            stale = scfg.stale_trigger_before_expiry_ms
            self.sources[name] = SourceState(
                name=name,
                cfg=scfg,
                client=client,
                ttl_ms=scfg.ttl_ms,
                stale_ms=stale if stale is not None else cfg.refetch.stale_trigger_before_expiry_ms,
                batch_size=scfg.max_batch_size or d.max_batch_size,
                refetch=scfg.refetch and cfg.refetch.enabled,
            )
        self.metrics.init_sources(self.sources)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, streams: Any = None) -> None:
        self.streams = streams
        if self.cfg.pairs_file:
            self.preload(self.cfg.pairs_file)
            self.warm_up()
        if self.streams is not None:
            for st in self.sources.values():
                self._streams_set_pairs(st)
            try:
                await self.streams.start()
            except Exception as exc:  # REST serves alone rather than not at all
                log.warning(
                    "streams failed to start; REST only",
                    extra={"event": "streams_unavailable", "error": repr(exc)},
                )
                self.streams = None
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="aggregator-refresh"))
        if self.cfg.pair_cleanup.enabled:
            self._tasks.append(asyncio.create_task(self._cleanup_loop(), name="aggregator-cleanup"))

    async def stop(self) -> None:
        for t in self._tasks + list(self._bg):
            t.cancel()
        for t in self._tasks + list(self._bg):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        for st in self.sources.values():
            for fut in st.inflight.values():
                if not fut.done():
                    fut.set_exception(QuoteError(503, "Service is shutting down"))
            st.inflight.clear()
        if self.streams is not None:
            with contextlib.suppress(Exception):
                await self.streams.stop()
        for st in self.sources.values():
            await st.client.close()

    # ------------------------------------------------------------------ pairs
    def state(self, source: str) -> SourceState:
        st = self.sources.get(source)
        if st is not None:
            return st
        name = canonical_source(source)
        if name is not None and name in self.sources:
            return self.sources[name]
        if name is not None and name in self.disabled:
            raise QuoteError(404, f"Adapter {name} is disabled")
        raise source_not_found(source)

    def ttl_for(self, st: SourceState, pair: Pair) -> int:
        return self._pair_ttl.get((st.name, *pair), self._pair_ttl.get((None, *pair), st.ttl_ms))

    def track(self, st: SourceState, pair: Pair, at_ms: int) -> Tracked:
        t = st.tracked.get(pair)
        if t is None:
            t = st.tracked[pair] = Tracked(at_ms, at_ms, self.ttl_for(st, pair))
            self.metrics.child(self.metrics.tracked_pairs, st.name).set(len(st.tracked))  # type: ignore[attr-defined]
            self._streams_set_pairs(st)
        return t

    def untrack(self, st: SourceState, pair: Pair, *, drop_value: bool = True) -> None:
        if st.tracked.pop(pair, None) is not None:
            self.metrics.child(self.metrics.tracked_pairs, st.name).set(len(st.tracked))  # type: ignore[attr-defined]
            self._streams_set_pairs(st)
        if drop_value:
            self.cache.drop((st.name, *pair))

    def _streams_set_pairs(self, st: SourceState) -> None:
        if self.streams is None:
            return
        try:
            self.streams.set_pairs(st.name, set(st.tracked))
        except Exception as exc:  # a streaming bug must not break REST serving
            log.warning(
                "stream set_pairs failed",
                extra={"event": "stream_error", "source": st.name, "error": repr(exc)},
            )

    def _stream_live(self, st: SourceState, pair: Pair) -> bool:
        if self.streams is None:
            return False
        try:
            return bool(self.streams.is_live(st.name, pair[0], pair[1]))
        except Exception:
            return False

    def preload(self, path: str) -> int:
        """Register pairs from a reference ``pairs.json`` (``{"binance": ["BTC/USDT"]}``)."""
        now = now_ms()
        count = 0
        for name, pairs in load_pairs_file(path).items():
            st = self.sources.get(name)
            if st is None:
                log.info(
                    "pairs file: source not enabled, skipped",
                    extra={"event": "preload_skip", "source": name},
                )
                continue
            for pair in pairs:
                if pair not in st.tracked:
                    st.tracked[pair] = Tracked(now, now, self.ttl_for(st, pair))
                    count += 1
            self.metrics.child(self.metrics.tracked_pairs, name).set(len(st.tracked))  # type: ignore[attr-defined]
        log.info("preloaded pairs", extra={"event": "preload", "pairs": count, "path": path})
        return count

    def warm_up(self) -> int:
        """Fetch every tracked pair now (coalesced), so preloaded pairs are hot at start."""
        n = 0
        for st in self.sources.values():
            for pair in st.tracked:
                if pair not in st.inflight:
                    self._schedule(st, pair)
                    n += 1
        return n

    # ------------------------------------------------------------------ quotes
    def lookup_hot(self, source: str, base: str, quote: str) -> Quote | None:
        """The fast path: a fresh cached value or None (then call :meth:`get_quote`)."""
        st = self.sources.get(source)
        if st is None:
            return None
        pair = (base.upper(), quote.upper())
        t = st.tracked.get(pair)
        if t is None:
            return None
        now = now_ms()
        q = self.cache.fresh((source, *pair), now)
        if q is None:
            return None
        t.last_request_ms = now
        self.metrics.cache_result(source, "hit")
        return q

    async def get_quote(self, source: str, base: str, quote: str) -> Quote:
        st = self.state(source)
        pair = (base.strip().upper(), quote.strip().upper())
        if not pair[0] or not pair[1] or len(pair[0]) > 50 or len(pair[1]) > 50:
            raise QuoteError(400, "baseCurrency and quoteCurrency must be 1-50 characters")
        now = now_ms()
        nf = st.not_found.get(pair)
        if nf is not None:
            if now < nf:
                self.metrics.cache_result(st.name, "not_found")
                raise price_not_found(st.name, pair)
            del st.not_found[pair]
        t = self.track(st, pair, now)
        t.last_request_ms = now
        q = self.cache.fresh((st.name, *pair), now)
        if q is not None:
            self.metrics.cache_result(st.name, "hit")
            return q
        self.metrics.cache_result(st.name, "miss")
        fut = st.inflight.get(pair) or self._schedule(st, pair)
        timeout = self.cfg.quotes_request_timeout_ms / 1000
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            raise QuoteError(
                408,
                f"Quote request timeout after {self.cfg.quotes_request_timeout_ms}ms "
                f"for {st.name} {pair[0]}/{pair[1]}",
            ) from None

    def _schedule(self, st: SourceState, pair: Pair) -> asyncio.Future[Quote]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Quote] = loop.create_future()
        fut.add_done_callback(_retrieve)
        st.inflight[pair] = fut
        st.pending.add(pair)
        if not st.flush_scheduled:
            st.flush_scheduled = True
            loop.call_later(COALESCE_WINDOW_S, self._spawn_flush, st)
        return fut

    def _spawn_flush(self, st: SourceState) -> None:
        st.flush_scheduled = False
        pairs, st.pending = st.pending, set()
        if not pairs:
            return
        task = asyncio.get_running_loop().create_task(self._flush(st, pairs))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _flush(self, st: SourceState, pairs: set[Pair]) -> None:
        now = now_ms()
        for p in pairs:
            t = st.tracked.get(p)
            if t is not None:
                t.last_fetch_ms = now
        requests = st.client.requests(sorted(pairs), st.batch_size)
        await asyncio.gather(*(self._run_request(st, r) for r in requests))
        # anything not settled by now (a bug or a cancelled call) must not hang a waiter
        for p in pairs:
            fut = st.inflight.pop(p, None)
            if fut is not None and not fut.done():
                fut.set_exception(QuoteError(503, f"Source {st.name} returned no answer"))

    async def _run_request(self, st: SourceState, req: UpstreamRequest) -> None:
        try:
            prices = await st.client.fetch(req)
        except UpstreamError as err:
            if err.kind == "unknown_pair" and len(req.pairs) > 1:
                # one unknown symbol fails the whole batch on Binance/Kraken: split it
                singles = [r for p in req.pairs for r in st.client.requests([p], 1)]
                await asyncio.gather(*(self._run_request(st, r) for r in singles))
                return
            self._settle_error(st, req, err)
            return
        except Exception as exc:  # never let a bug kill the flush
            log.exception("upstream handler bug", extra={"event": "bug", "source": st.name})
            self._settle_error(st, req, UpstreamError("api", exc.__class__.__name__))
            return
        self._settle_ok(st, req, prices)

    def _settle_ok(self, st: SourceState, req: UpstreamRequest, prices: Prices) -> None:
        received = now_ms()
        st.last_success_ms = received
        for pair in req.pairs:
            fut = st.inflight.pop(pair, None)
            price = prices.get(pair)
            t = st.tracked.get(pair)
            if price is None:
                self._not_found(st, pair, fut)
                continue
            q = self.cache.put(st.name, *pair, price, received, t.ttl_ms if t else st.ttl_ms)
            if t is not None:
                t.last_response_ms = received
                t.failures = 0
            if fut is not None and not fut.done():
                fut.set_result(q)

    def _not_found(self, st: SourceState, pair: Pair, fut: asyncio.Future[Quote] | None) -> None:
        # the reference drops a registration whose symbol the source does not know
        self.untrack(st, pair, drop_value=False)
        st.not_found[pair] = now_ms() + min(NOT_FOUND_TTL_MS, st.ttl_ms)
        if len(st.not_found) > 10_000:  # bound memory against arbitrary symbols
            st.not_found.pop(next(iter(st.not_found)))
        log.info(
            "pair not found upstream",
            extra={"event": "price_not_found", "source": st.name, "pair": f"{pair[0]}/{pair[1]}"},
        )
        if fut is not None and not fut.done():
            fut.set_exception(price_not_found(st.name, pair))

    def _settle_error(self, st: SourceState, req: UpstreamRequest, err: UpstreamError) -> None:
        now = now_ms()
        if err.kind != "unknown_pair":  # a symbol the source lacks is not a source outage
            st.last_error = f"{err.kind}: {err.message}"
            st.last_error_ms = now
        label = ",".join(f"{b}/{q}" for b, q in req.pairs[:3]) + (
            f" (+{len(req.pairs) - 3})" if len(req.pairs) > 3 else ""
        )
        log.log(
            logging.INFO if err.kind == "unknown_pair" else logging.WARNING,
            f"{st.name}: upstream {err.kind}: {err.message} [{req.path} {label}]",
            extra={"event": "upstream_error", "source": st.name, "kind": err.kind},
        )
        for pair in req.pairs:
            fut = st.inflight.pop(pair, None)
            if err.kind == "unknown_pair":
                self._not_found(st, pair, fut)
                continue
            t = st.tracked.get(pair)
            if t is not None:
                t.failures += 1
            if fut is None or fut.done():
                continue
            last = self.cache.get((st.name, *pair))
            if last is not None and now < last.expires_at_ms:
                self.metrics.cache_result(st.name, "stale")
                fut.set_result(last)  # the error never replaces a still-valid value
                continue
            fut.set_exception(self.unavailable(st.name, pair, err, last, now))

    @staticmethod
    def unavailable(
        source: str, pair: Pair, err: UpstreamError, last: Quote | None, now: int
    ) -> QuoteError:
        if last is None:
            detail = "no value received yet"
            extra: dict[str, Any] = {"lastReceivedAt": None, "ageMs": None}
        else:
            age = now - last.received_at_ms
            detail = f"last value received {last.received_at} ({age} ms ago) has expired"
            extra = {"lastReceivedAt": last.received_at, "ageMs": age}
        return QuoteError(
            503,
            f"Source {source} unavailable for {pair[0]}/{pair[1]} ({err.kind}: {err.message}); "
            f"{detail}",
            **extra,
        )

    # ------------------------------------------------------------------ streams
    def on_stream_quote(
        self, source: str, base: str, quote: str, price: str, received_at_ms: int
    ) -> None:
        st = self.sources.get(source)
        if st is None:
            return
        pair = (base.upper(), quote.upper())
        valid = valid_price(price)
        if valid is None:
            return
        t = st.tracked.get(pair)
        q = self.cache.put(st.name, *pair, valid, received_at_ms, t.ttl_ms if t else st.ttl_ms)
        if t is not None:
            t.last_response_ms = received_at_ms
            t.failures = 0
        st.last_success_ms = received_at_ms
        self.metrics.stream_alive(st.name)
        fut = st.inflight.get(pair)
        if fut is not None and not fut.done():
            fut.set_result(q)  # a waiting miss is served at once

    # ------------------------------------------------------------------ refresh & cleanup
    def due_pairs(self, st: SourceState, now: int) -> list[Pair]:
        """Tracked pairs to refetch now (plus those due within PIGGYBACK_MS if any is due)."""
        if not st.refetch:
            return []
        min_gap = self.cfg.refetch.min_time_between_refreshes_ms
        due: list[Pair] = []
        soon: list[Pair] = []
        for pair, t in st.tracked.items():
            if pair in st.inflight:
                continue
            gap = min(min_gap * (2 ** min(t.failures, 10)), MAX_FAILURE_BACKOFF_MS)
            if t.failures and now - t.last_fetch_ms < gap:
                continue
            if now - t.last_fetch_ms < min_gap:
                continue
            if self._stream_live(st, pair):
                continue
            q = self.cache.get((st.name, *pair))
            due_at = 0 if q is None else q.expires_at_ms - st.stale_ms
            if now >= due_at:
                due.append(pair)
                if q is not None:
                    self.metrics.child(self.metrics.refresh_lag, st.name).observe(  # type: ignore[attr-defined]
                        (now - due_at) / 1000
                    )
            elif now >= due_at - PIGGYBACK_MS:
                soon.append(pair)
        if due and st.client.adapter.batch:
            due.extend(soon)
        return due

    def refresh_once(self, now: int | None = None) -> int:
        """Schedule every due pair (coalesced with pending misses). Returns pairs scheduled."""
        now = now_ms() if now is None else now
        n = 0
        for st in self.sources.values():
            for pair in self.due_pairs(st, now):
                self._schedule(st, pair)
                n += 1
        return n

    async def _refresh_loop(self) -> None:
        interval = max(0.05, self.cfg.refetch.batch_interval_ms / 1000)
        while True:
            try:
                self.refresh_once()
            except Exception:
                log.exception("refresh loop bug", extra={"event": "bug"})
            await asyncio.sleep(interval)

    def cleanup(self, now: int | None = None) -> int:
        now = now_ms() if now is None else now
        limit = self.cfg.pair_cleanup.inactive_timeout_ms
        removed = 0
        for st in self.sources.values():
            stale = [p for p, t in st.tracked.items() if now - t.last_request_ms >= limit]
            for pair in stale:
                self.untrack(st, pair)
                removed += 1
        if removed:
            log.info("inactive pairs removed", extra={"event": "cleanup", "removed": removed})
        return removed

    async def _cleanup_loop(self) -> None:
        interval = max(0.05, self.cfg.pair_cleanup.cleanup_interval_ms / 1000)
        while True:
            await asyncio.sleep(interval)
            try:
                self.cleanup()
            except Exception:
                log.exception("cleanup loop bug", extra={"event": "bug"})

    # ------------------------------------------------------------------ views
    def registrations(self, sources: Iterable[SourceState] | None = None) -> list[dict[str, Any]]:
        out = []
        for st in sources if sources is not None else self.sources.values():
            for pair, t in sorted(st.tracked.items()):
                doc: dict[str, Any] = {
                    "pair": list(pair),
                    "source": st.name,
                    "registeredAt": iso_ms(t.registered_at_ms),
                    "lastFetchAt": iso_ms(t.last_fetch_ms) if t.last_fetch_ms else None,
                    "lastResponseAt": iso_ms(t.last_response_ms) if t.last_response_ms else None,
                    "lastRequestAt": iso_ms(t.last_request_ms),
                }
                doc.update(self._cached_fields(st.name, pair))
                out.append(doc)
        return out

    def _cached_fields(self, source: str, pair: Pair) -> dict[str, Any]:
        q = self.cache.get((source, *pair))
        if q is None:
            return {}
        return {
            "cachedPrice": q.price,
            "receivedAt": q.received_at,
            "cachedAt": iso_ms(q.cached_at_ms),
        }

    def pairs_of(self, source: str) -> dict[str, Any]:
        st = self.state(source)
        return {
            "source": st.name,
            "pairs": [
                {"pair": list(p), **self._cached_fields(st.name, p)} for p in sorted(st.tracked)
            ],
        }

    def source_status(self) -> dict[str, Any]:
        now = now_ms()
        stream_status: Mapping[str, Any] = {}
        if self.streams is not None:
            with contextlib.suppress(Exception):
                stream_status = self.streams.status() or {}
        out: dict[str, Any] = {}
        for name in SOURCE_NAMES:
            st = self.sources.get(name)
            if st is None:
                out[name] = {"enabled": False, "configured": name in self.disabled}
                continue
            healthy = st.last_error_ms is None or (
                st.last_success_ms is not None and st.last_success_ms >= st.last_error_ms
            )
            doc: dict[str, Any] = {
                "enabled": True,
                "healthy": healthy,
                "baseUrl": st.client.base_url,
                "ttlMs": st.ttl_ms,
                "maxBatchSize": st.batch_size,
                "trackedPairs": len(st.tracked),
                "cachedPairs": sum(
                    1 for p in st.tracked if self.cache.fresh((name, *p), now) is not None
                ),
                "lastSuccessAt": iso_ms(st.last_success_ms) if st.last_success_ms else None,
                "lastErrorAt": iso_ms(st.last_error_ms) if st.last_error_ms else None,
                "lastError": st.last_error,
                "upstreamCalls": st.client.stats.calls,
                "upstreamErrors": st.client.stats.errors,
                "rateLimit": {
                    **st.client.limiter.budget(),
                    "maxConcurrent": st.cfg.max_concurrent,
                },
            }
            if name in stream_status:
                doc["stream"] = stream_status[name]
            out[name] = doc
        return out

    def median(
        self, base: str, quote: str, sources: list[str] | None, max_age_ms: int | None
    ) -> dict[str, Any]:
        from decimal import Decimal

        pair = (base.strip().upper(), quote.strip().upper())
        names = sources or list(self.sources)
        now = now_ms()
        used: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        for raw in names:
            name = canonical_source(raw)
            if name is None or name not in self.sources:
                skipped[raw] = "unknown or disabled source"
                continue
            q = self.cache.fresh((name, *pair), now)
            if q is None:
                skipped[name] = "no fresh value"
                continue
            age = now - q.received_at_ms
            if max_age_ms is not None and age > max_age_ms:
                skipped[name] = f"older than {max_age_ms} ms"
                continue
            st = self.sources[name]
            t = st.tracked.get(pair)
            if t is not None:
                t.last_request_ms = now
            used.append(
                {"source": name, "price": q.price, "receivedAt": q.received_at, "ageMs": age}
            )
        if not used:
            raise QuoteError(
                404, f"No fresh price for {pair[0]}/{pair[1]} from any source", skipped=skipped
            )
        values = sorted(Decimal(u["price"]) for u in used)
        n = len(values)
        mid = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
        spread = values[-1] - values[0]
        return {
            "pair": list(pair),
            "median": _plain(mid),
            "sources": used,
            "count": n,
            "min": _plain(values[0]),
            "max": _plain(values[-1]),
            "spread": _plain(spread),
            "spreadPct": _plain((spread / mid * 100).quantize(Decimal("0.0001"))) if mid else "0",
            "skipped": skipped,
        }


def load_pairs_file(path: str) -> dict[str, list[Pair]]:
    """Parse a reference ``pairs.json``: ``{"<source>": ["BASE/QUOTE", ...]}``.

    Unknown source names are kept out with a log line; malformed entries are an InputError
    naming the file and the entry (the CLI checks the file before serving).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read pairs file: {exc.strerror}", location=path) from None
    except ValueError as exc:
        raise InputError(f"pairs file is not JSON: {exc}", location=path) from None
    if not isinstance(doc, dict):
        raise InputError('pairs file must be an object {source: ["BASE/QUOTE"]}', location=path)
    out: dict[str, list[Pair]] = {}
    for key, labels in doc.items():
        name = canonical_source(str(key))
        if name is None:
            log.info("pairs file: unknown source", extra={"event": "preload_skip", "source": key})
            continue
        if not isinstance(labels, list):
            raise InputError('expected a list of "BASE/QUOTE"', location=f"{path}: {key}")
        pairs = out.setdefault(name, [])
        for i, label in enumerate(labels):
            parts = label.split("/") if isinstance(label, str) else []
            if len(parts) != 2 or not all(p.strip() for p in parts):
                raise InputError(
                    f'expected "BASE/QUOTE", got {label!r}', location=f"{path}: {key}[{i}]"
                )
            pairs.append((parts[0].strip().upper(), parts[1].strip().upper()))
    return out


def _plain(d: Any) -> str:
    text = format(d.normalize(), "f")
    return text


def uptime_s(started_ms: int) -> float:
    return round((now_ms() - started_ms) / 1000, 3)


__all__ = [
    "Aggregator",
    "QuoteError",
    "SourceState",
    "Tracked",
    "load_pairs_file",
    "price_not_found",
    "source_not_found",
    "uptime_s",
]
