"""The aggregator core: tracked pairs, probes, single-flight, coalescing, refresh, cleanup.

Design §3.3.1 semantics, improved:

* a GET for a fresh cached pair never waits on anything;
* N concurrent misses for one pair share one future (single-flight);
* every pair of a source that needs data within one short window (misses and refreshes
  alike) goes out as the fewest batched requests the API allows (coalescing);
* the refresher re-fetches tracked pairs ``stale_trigger_before_expiry_ms`` before expiry,
  piggy-backing pairs that fall due soon onto the same batch;
* an upstream error never replaces a still-valid value; pairs with no valid value answer
  ``SourceUnavailable`` with the age of the last known value;
* pairs not requested for ``inactive_timeout_ms`` are dropped every ``cleanup_interval_ms``.

Hostile or mistaken clients (issue #16) cannot take the tracked pairs away: a pair that never
had a value is a *probe* -- fetched on demand only, never batched with tracked pairs, served
from the source's leftover budget (tracked calls first), refused at once when too many wait
(``SourceBusy``), forgotten :data:`PROBE_IDLE_MS` after its last request; a pair the source
does not know is answered ``PriceNotFound`` from a negative cache for a while.

Failures are :mod:`sealfeed.aggregator.errors` classes; HTTP status codes live at the edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from sealfeed.aggregator.adapters import Pair, Prices, UpstreamError, valid_price
from sealfeed.aggregator.cache import PriceQuote, QuoteCache, now_ms
from sealfeed.aggregator.errors import (
    PriceNotFound,
    QuoteTimeout,
    ShuttingDown,
    SourceBusy,
    SourceDisabled,
    SourceUnavailable,
    UnknownSource,
)
from sealfeed.aggregator.metrics import AggregatorMetrics
from sealfeed.aggregator.pairs import load_pairs_file, pair_of
from sealfeed.aggregator.sources import canonical_source
from sealfeed.aggregator.state import Probe, SourceState, Tracked, build_sources
from sealfeed.config.model import AggregatorConfig

log = logging.getLogger("sealfeed.aggregator")

#: misses arriving in the same event-loop pass share one upstream call. A 2 ms window
#: measured +4.9 ms on a cold miss (bench/aggregator.py, cold phase) against the issue's
#: "upstream latency + 5 ms"; 0 (next loop pass) measured +0.9 ms and still coalesces the
#: concurrent misses of a round, and the refresher batches everything else anyway.
COALESCE_WINDOW_S = 0.0
#: a refresh call also takes pairs that fall due within this many ms (one call, not two)
PIGGYBACK_MS = 2_000
MAX_FAILURE_BACKOFF_MS = 60_000
#: an unknown pair answers PriceNotFound from memory for this long (capped by the source
#: TTL), so a job asking every round for a symbol the exchange lacks costs one call a minute
NOT_FOUND_TTL_MS = 60_000
#: entries per source in the negative cache and in the probe registry (memory bound against
#: arbitrary symbols; the oldest entry goes first)
MAX_NOT_FOUND = 10_000
MAX_PROBING = 10_000
#: a probe (a pair that never had a value) is forgotten this long after its last request
PROBE_IDLE_MS = 30_000


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # mark retrieved: a timed-out waiter must not cause a warning


def _label(pairs: tuple[Pair, ...]) -> str:
    head = ",".join(f"{b}/{q}" for b, q in pairs[:3])
    return head + (f" (+{len(pairs) - 3})" if len(pairs) > 3 else "")


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
        self.sources, self.disabled = build_sources(
            cfg, observe=self.metrics.observe_upstream, backoff_base_s=backoff_base_s
        )
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
                    fut.set_exception(ShuttingDown())
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
            raise SourceDisabled(name)
        raise UnknownSource(source)

    def ttl_for(self, st: SourceState, pair: Pair) -> int:
        return self._pair_ttl.get((st.name, *pair), self._pair_ttl.get((None, *pair), st.ttl_ms))

    def track(self, st: SourceState, pair: Pair, at_ms: int) -> Tracked:
        t = st.tracked.get(pair)
        if t is None:
            probe = st.probing.pop(pair, None)
            registered = probe.registered_at_ms if probe is not None else at_ms
            last_request = probe.last_request_ms if probe is not None else at_ms
            t = st.tracked[pair] = Tracked(registered, last_request, self.ttl_for(st, pair))
            if probe is not None:
                t.last_fetch_ms = probe.last_fetch_ms
            self._pairs_changed(st)
        return t

    def untrack(self, st: SourceState, pair: Pair, *, drop_value: bool = True) -> None:
        if st.tracked.pop(pair, None) is not None:
            self._pairs_changed(st)
        if drop_value:
            self.cache.drop((st.name, *pair))

    def _probe(self, st: SourceState, pair: Pair, now: int) -> Probe:
        pr = st.probing.get(pair)
        if pr is None:
            if len(st.probing) >= MAX_PROBING:
                st.probing.pop(next(iter(st.probing)))
            pr = st.probing[pair] = Probe(now, now)
            self.metrics.set_probing(st.name, len(st.probing))
        pr.last_request_ms = now
        return pr

    def _pairs_changed(self, st: SourceState) -> None:
        self.metrics.set_tracked(st.name, len(st.tracked))
        self.metrics.set_probing(st.name, len(st.probing))
        self._streams_set_pairs(st)

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
        """Track the pairs of a reference ``pairs.json`` (``{"binance": ["BTC/USDT"]}``)."""
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
            self.metrics.set_tracked(name, len(st.tracked))
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
    def lookup_hot(self, source: str, base: str, quote: str) -> PriceQuote | None:
        """The fast path: a fresh cached value of a tracked pair or None (then call
        :meth:`get_quote`, which validates everything). The caller counts what it serves
        (``AggregatorMetrics.hot_hit``: a hit and its request at once)."""
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
        return q

    async def get_quote(self, source: str, base: str, quote: str) -> PriceQuote:
        st = self.state(source)
        pair = pair_of(base, quote)
        now = now_ms()
        nf = st.not_found.get(pair)
        if nf is not None:
            if now < nf:
                self.metrics.cache_result(st.name, "not_found")
                raise self._price_not_found(st, pair)
            del st.not_found[pair]
        t = st.tracked.get(pair)
        if t is not None:
            t.last_request_ms = now
            q = self.cache.fresh((st.name, *pair), now)
            if q is not None:
                self.metrics.cache_result(st.name, "hit")
                return q
        else:
            pr = self._probe(st, pair, now)
            gap = self.cfg.refetch.min_time_between_refreshes_ms
            if pr.failed_at_ms and now - pr.failed_at_ms < gap and pair not in st.inflight:
                # a new pair whose last attempt just failed is not re-probed at once
                self.metrics.cache_result(st.name, "miss")
                raise SourceUnavailable(
                    f"Source {st.name} unavailable for {pair[0]}/{pair[1]} "
                    f"({pr.last_error}); no value received yet",
                    lastReceivedAt=None,
                    ageMs=None,
                )
        self.metrics.cache_result(st.name, "miss")
        fut = st.inflight.get(pair) or self._schedule(st, pair)
        timeout = self.cfg.quotes_request_timeout_ms / 1000
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            raise QuoteTimeout(
                f"Quote request timeout after {self.cfg.quotes_request_timeout_ms}ms "
                f"for {st.name} {pair[0]}/{pair[1]}"
            ) from None

    @staticmethod
    def _price_not_found(st: SourceState, pair: Pair) -> PriceNotFound:
        return PriceNotFound(f"No price found for {pair[0]}/{pair[1]} from {st.name}")

    def _schedule(self, st: SourceState, pair: Pair) -> asyncio.Future[PriceQuote]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PriceQuote] = loop.create_future()
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
        """Fetch due pairs: tracked ones and probes in separate requests (a junk symbol
        never shares a batch with a tracked pair), tracked first on the source's budget."""
        now = now_ms()
        mine = {p: st.inflight.get(p) for p in pairs}
        tracked: list[Pair] = []
        probes: list[Pair] = []
        for p in sorted(pairs):
            t = st.tracked.get(p)
            if t is not None:
                t.last_fetch_ms = now
                tracked.append(p)
                continue
            pr = st.probing.get(p)
            if pr is not None:
                pr.last_fetch_ms = now
            probes.append(p)
        settle = functools.partial(self._settle, st)
        jobs = []
        if tracked:
            jobs.append(st.client.fetch_pairs(tracked, st.batch_size, settle))
        if probes:
            jobs.append(st.client.fetch_pairs(probes, st.batch_size, settle, probe=True))
        await asyncio.gather(*jobs)
        # anything of this flush not settled by now (a bug, a cancelled call) must not hang
        # a waiter; a newer future for the same pair belongs to the next flush
        for p, fut in mine.items():
            if fut is None or st.inflight.get(p) is not fut:
                continue
            del st.inflight[p]
            if not fut.done():
                fut.set_exception(
                    SourceUnavailable(f"Source {st.name} returned no answer for {p[0]}/{p[1]}")
                )

    def _settle(
        self, st: SourceState, pairs: tuple[Pair, ...], outcome: Prices | UpstreamError
    ) -> None:
        if isinstance(outcome, UpstreamError):
            self._settle_error(st, pairs, outcome)
        else:
            self._settle_ok(st, pairs, outcome)

    def _settle_ok(self, st: SourceState, pairs: tuple[Pair, ...], prices: Prices) -> None:
        received = now_ms()
        st.last_success_ms = received
        for pair in pairs:
            fut = st.inflight.pop(pair, None)
            price = prices.get(pair)
            if price is None:
                self._not_found(st, pair, fut)
                continue
            t = st.tracked.get(pair)
            if t is None:
                t = self.track(st, pair, received)  # a probe's first value: tracked from now
            q = self.cache.put(st.name, *pair, price, received, t.ttl_ms)
            t.last_response_ms = received
            t.failures = 0
            if fut is not None and not fut.done():
                fut.set_result(q)

    def _not_found(
        self, st: SourceState, pair: Pair, fut: asyncio.Future[PriceQuote] | None
    ) -> None:
        # the reference drops a registration whose symbol the source does not know
        was_tracked = pair in st.tracked
        self.untrack(st, pair, drop_value=False)
        if st.probing.pop(pair, None) is not None:
            self.metrics.set_probing(st.name, len(st.probing))
        st.not_found[pair] = now_ms() + min(NOT_FOUND_TTL_MS, st.ttl_ms)
        if len(st.not_found) > MAX_NOT_FOUND:
            st.not_found.pop(next(iter(st.not_found)))
        # a tracked pair vanishing (delisting) matters; a probe for junk does not
        log.log(
            logging.INFO if was_tracked else logging.DEBUG,
            "pair not found upstream",
            extra={"event": "price_not_found", "source": st.name, "pair": f"{pair[0]}/{pair[1]}"},
        )
        if fut is not None and not fut.done():
            fut.set_exception(self._price_not_found(st, pair))

    def _settle_error(self, st: SourceState, pairs: tuple[Pair, ...], err: UpstreamError) -> None:
        now = now_ms()
        if err.kind == "busy":  # refused before any call: says nothing about the source
            for pair in pairs:
                fut = st.inflight.pop(pair, None)
                if fut is not None and not fut.done():
                    fut.set_exception(
                        SourceBusy(
                            f"Source {st.name} is busy with new pairs ({err.message}); "
                            f"{pair[0]}/{pair[1]} not fetched, try again later"
                        )
                    )
            return
        quiet = err.kind == "unknown_pair" or not any(p in st.tracked for p in pairs)
        if err.kind != "unknown_pair":  # a symbol the source lacks is not a source outage
            st.last_error = f"{err.kind}: {err.message}"
            st.last_error_ms = now
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            f"{st.name}: upstream {err.kind}: {err.message} [{_label(pairs)}]",
            extra={"event": "upstream_error", "source": st.name, "kind": err.kind},
        )
        for pair in pairs:
            fut = st.inflight.pop(pair, None)
            if err.kind == "unknown_pair":
                self._not_found(st, pair, fut)
                continue
            t = st.tracked.get(pair)
            if t is not None:
                t.failures += 1
            else:
                pr = st.probing.get(pair)
                if pr is not None:
                    pr.failed_at_ms = now
                    pr.last_error = f"{err.kind}: {err.message}"
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
        source: str, pair: Pair, err: UpstreamError, last: PriceQuote | None, now: int
    ) -> SourceUnavailable:
        if last is None:
            detail = "no value received yet"
            extra: dict[str, Any] = {"lastReceivedAt": None, "ageMs": None}
        else:
            age = now - last.received_at_ms
            detail = f"last value received {last.received_at} ({age} ms ago) has expired"
            extra = {"lastReceivedAt": last.received_at, "ageMs": age}
        return SourceUnavailable(
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
                    self.metrics.observe_refresh_lag(st.name, (now - due_at) / 1000)
            elif now >= due_at - PIGGYBACK_MS:
                soon.append(pair)
        if due and st.client.adapter.batch:
            due.extend(soon)
        return due

    def refresh_once(self, now: int | None = None) -> int:
        """Schedule every due pair (coalesced with pending misses); forget idle probes.
        Returns pairs scheduled."""
        now = now_ms() if now is None else now
        n = 0
        for st in self.sources.values():
            for pair in self.due_pairs(st, now):
                self._schedule(st, pair)
                n += 1
        self.expire_probes(now)
        return n

    async def _refresh_loop(self) -> None:
        interval = max(0.05, self.cfg.refetch.batch_interval_ms / 1000)
        while True:
            try:
                self.refresh_once()
            except Exception:
                log.exception("refresh loop bug", extra={"event": "bug"})
            await asyncio.sleep(interval)

    def expire_probes(self, now: int, idle_ms: int = PROBE_IDLE_MS) -> int:
        """Forget probes not requested for ``idle_ms`` (0: every probe not in flight)."""
        removed = 0
        for st in self.sources.values():
            if not st.probing:
                continue
            stale = [
                p
                for p, pr in st.probing.items()
                if now - pr.last_request_ms >= idle_ms and p not in st.inflight
            ]
            for pair in stale:
                del st.probing[pair]
            if stale:
                removed += len(stale)
                self.metrics.set_probing(st.name, len(st.probing))
        return removed

    def cleanup(self, now: int | None = None, *, probes: bool = False) -> int:
        """Drop tracked pairs not requested for ``inactive_timeout_ms``; with ``probes``
        (``POST /quote/cleanup``) also every pair that never had a value and is not being
        fetched right now, however recently it was asked for."""
        now = now_ms() if now is None else now
        limit = self.cfg.pair_cleanup.inactive_timeout_ms
        removed = 0
        for st in self.sources.values():
            stale = [p for p, t in st.tracked.items() if now - t.last_request_ms >= limit]
            for pair in stale:
                self.untrack(st, pair)
                removed += 1
        if probes:
            removed += self.expire_probes(now, idle_ms=0)
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

    def counts(self) -> tuple[int, int]:
        """(tracked pairs, probing pairs) over all sources."""
        sources = self.sources.values()
        return sum(len(s.tracked) for s in sources), sum(len(s.probing) for s in sources)


def uptime_s(started_ms: int) -> float:
    return round((now_ms() - started_ms) / 1000, 3)


__all__ = ["Aggregator", "uptime_s"]
