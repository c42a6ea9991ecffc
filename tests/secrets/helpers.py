"""A fake exchange (tests/fakes/exchanges.py) served from a thread, for appliances that run
as separate processes (``sealfeed up``, the image's /init)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from tests.fakes.exchanges import FakeExchange


class ThreadedExchange:
    def __init__(self, name: str, *, api_key: str | None, prices: dict[tuple[str, str], str]):
        self.fake = FakeExchange(name, prices=dict(prices), api_key=api_key)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedExchange:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    def tokens(self) -> list[str | None]:
        """The API key each call carried (header or query), as the exchange saw it."""
        return [h.get("X-Finnhub-Token") or q.get("token") for _p, q, h in list(self.fake.calls)]

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
