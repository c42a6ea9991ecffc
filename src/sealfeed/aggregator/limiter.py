"""Per-source request budget: a token bucket that serves tracked pairs before probes.

Two classes of caller share one source's budget:

* **tracked** -- refreshes and misses of pairs that had a value (or come from the pairs
  file): the pairs the oracles depend on;
* **probe** -- the first fetch of a pair that never had a value (a new pair, a typo, junk).

A token always goes to a waiting tracked caller first; a probe takes one only when no tracked
caller waits. So untracked traffic, whatever its volume, never delays a tracked refresh by
more than the time to the next token (issue #16, "tracked pairs keep their refresh budget").
Probes also queue at most ``probe_queue_limit`` deep: beyond that the caller is refused at
once (:class:`LimiterFull`) rather than queued past any useful deadline.

``rps=None`` means no bucket at all (``rps: null`` in the configuration); a 429/418
``Retry-After`` still pauses every caller (:meth:`RateLimiter.block_for`): that pause is the
upstream's demand, not our budget.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time


class LimiterFull(Exception):
    """Too many probes already wait for this source's budget."""


class RateLimiter:
    def __init__(self, rps: float | None, *, probe_queue_limit: int | None = None) -> None:
        self.rps = rps if rps is not None and rps > 0 else None
        #: burst: one second's worth of tokens, at least one
        self.capacity = max(1.0, self.rps or 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.blocked_until = 0.0
        self.probe_queue_limit = probe_queue_limit
        self._tracked: collections.deque[asyncio.Future[None]] = collections.deque()
        self._probes: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pump: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ public
    async def acquire(self, *, probe: bool = False) -> None:
        """Wait for a token (tracked callers first). Raises :class:`LimiterFull` for a probe
        when ``probe_queue_limit`` probes already wait."""
        now = time.monotonic()
        if not self._tracked and not self._probes and self.blocked_until <= now:
            if self.rps is None:
                return
            self._refill(now)
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
        queue = self._probes if probe else self._tracked
        limit = self.probe_queue_limit
        if probe and limit is not None and self.waiting(probe=True) >= limit:
            raise LimiterFull(f"{limit} new pairs already wait")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(fut)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._give_back()  # granted and cancelled in the same pass: keep the token
            raise

    def waiting(self, *, probe: bool) -> int:
        queue = self._probes if probe else self._tracked
        return sum(1 for f in queue if not f.done())

    def block_for(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + seconds)

    def budget(self) -> dict[str, float | int | None]:
        now = time.monotonic()
        self._refill(now)
        return {
            "rps": self.rps,
            "tokens": None if self.rps is None else round(self.tokens, 2),
            "blockedForMs": max(0, int((self.blocked_until - now) * 1000)),
            "waitingTracked": self.waiting(probe=False),
            "waitingProbes": self.waiting(probe=True),
        }

    async def close(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for queue in (self._tracked, self._probes):
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    fut.cancel()

    # ------------------------------------------------------------------ internals
    def _refill(self, now: float) -> None:
        if self.rps is None:
            return
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rps)
        self.updated = now

    def _give_back(self) -> None:
        if self.rps is not None:
            self.tokens = min(self.capacity, self.tokens + 1.0)

    def _next_waiter(self) -> asyncio.Future[None] | None:
        for queue in (self._tracked, self._probes):
            while queue:
                fut = queue.popleft()
                if not fut.done():  # a waiter whose caller gave up is skipped
                    return fut
        return None

    async def _run_pump(self) -> None:
        while self._tracked or self._probes:
            now = time.monotonic()
            if self.blocked_until > now:
                await asyncio.sleep(self.blocked_until - now)
                continue
            if self.rps is None:
                fut = self._next_waiter()
                while fut is not None:
                    fut.set_result(None)
                    fut = self._next_waiter()
                return
            self._refill(now)
            if self.tokens >= 1.0:
                fut = self._next_waiter()
                if fut is None:
                    return
                self.tokens -= 1.0
                fut.set_result(None)
                continue
            await asyncio.sleep((1.0 - self.tokens) / self.rps)


__all__ = ["LimiterFull", "RateLimiter"]
