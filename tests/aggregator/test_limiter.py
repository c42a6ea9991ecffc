"""The per-source budget: tracked callers before probes, bounded probe queue, rps None = no
bucket, Retry-After pauses everybody."""

from __future__ import annotations

import asyncio

import pytest

from sealfeed.aggregator.limiter import LimiterFull, RateLimiter
from tests.aggregator.helpers import run


def test_tracked_callers_are_served_before_waiting_probes() -> None:
    async def scenario() -> None:
        lim = RateLimiter(20.0)
        lim.tokens = 0.0
        order: list[str] = []

        async def take(name: str, probe: bool) -> None:
            await lim.acquire(probe=probe)
            order.append(name)

        probes = [asyncio.create_task(take(f"p{i}", True)) for i in range(5)]
        await asyncio.sleep(0)
        tracked = [asyncio.create_task(take(f"t{i}", False)) for i in range(3)]
        await asyncio.gather(*probes, *tracked)
        assert order == ["t0", "t1", "t2", "p0", "p1", "p2", "p3", "p4"]
        await lim.close()

    run(scenario())


def test_probe_queue_is_bounded_and_cancelled_waiters_are_skipped() -> None:
    async def scenario() -> None:
        lim = RateLimiter(10.0, probe_queue_limit=3)
        lim.tokens = 0.0
        waiting = [asyncio.create_task(lim.acquire(probe=True)) for _ in range(3)]
        await asyncio.sleep(0)
        assert lim.waiting(probe=True) == 3
        with pytest.raises(LimiterFull):
            await lim.acquire(probe=True)
        await lim.acquire()  # a tracked caller is never refused
        waiting[0].cancel()
        await asyncio.sleep(0)
        assert lim.waiting(probe=True) == 2
        await asyncio.gather(*waiting[1:])
        assert lim.budget()["waitingProbes"] == 0
        await lim.close()

    run(scenario())


def test_no_rps_means_no_bucket_but_retry_after_still_pauses() -> None:
    async def scenario() -> None:
        lim = RateLimiter(None, probe_queue_limit=1)
        for _ in range(10_000):
            await lim.acquire()  # never waits, never refuses
        assert lim.budget()["rps"] is None and lim.budget()["tokens"] is None
        lim.block_for(1.0)
        assert lim.budget()["blockedForMs"] > 0
        callers = [asyncio.create_task(lim.acquire()), asyncio.create_task(lim.acquire(probe=True))]
        await asyncio.sleep(0)
        # both wait for the pause (tracked and probe alike), none passes through
        assert not any(c.done() for c in callers)
        assert lim.budget()["waitingTracked"] == 1 and lim.budget()["waitingProbes"] == 1
        await asyncio.gather(*callers)
        # released only once the pause was over
        assert lim.budget()["blockedForMs"] == 0
        await lim.close()

    run(scenario())


def test_bucket_spends_its_burst_then_waits() -> None:
    async def scenario() -> None:
        lim = RateLimiter(4.0)
        for _ in range(4):
            await lim.acquire()
        assert lim.tokens < 1.0
        t = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0)
        assert not t.done() and lim.waiting(probe=False) == 1
        await t
        await lim.close()

    run(scenario())
