"""Test helpers: drive the ASGI app in-process (lifespan + requests), start fake exchanges."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from sealfeed.aggregator.app import AggregatorApp, create_app
from sealfeed.config.model import (
    AggregatorConfig,
    PairCleanupConfig,
    RefetchConfig,
    SourceConfig,
)
from sealfeed.secret import Secret
from tests.fakes.exchanges import SAMPLE, FakeExchange

T = TypeVar("T")
KEYED = {"alphavantage", "exchangerate-host", "finnhub"}


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(guarded())


class Resp:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Resp {self.status} {self.body[:200]!r}>"


class AsgiClient:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> Resp:
        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                (b"content-type", b"application/json"),
                *(headers or [(b"content-length", str(len(body)).encode())]),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 3000),
        }
        sent = False
        status = 0
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.update({k.decode(): v.decode() for k, v in message.get("headers", [])})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Resp(status, headers, b"".join(chunks))

    async def get(self, path: str) -> Resp:
        return await self.request("GET", path)

    async def post(self, path: str, doc: Any = None) -> Resp:
        return await self.request("POST", path, b"" if doc is None else json.dumps(doc).encode())


@contextlib.asynccontextmanager
async def lifespan(app: AggregatorApp) -> AsyncIterator[AsgiClient]:
    """Run the ASGI lifespan protocol around the block."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    msg = await outbox.get()
    assert msg["type"] == "lifespan.startup.complete", msg
    try:
        yield AsgiClient(app)
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        msg = await outbox.get()
        assert msg["type"] == "lifespan.shutdown.complete", msg
        await task


def source_config(name: str, base_url: str, **kw: Any) -> SourceConfig:
    kw.setdefault("rps", 10_000.0)  # tests are not rate limited unless they say so
    kw.setdefault("timeout_ms", 2_000)
    if name in KEYED:
        kw.setdefault("api_key", Secret(f"key-{name}"))
    return SourceConfig(name=name, base_url=base_url, **kw)


def agg_config(sources: dict[str, SourceConfig], **kw: Any) -> AggregatorConfig:
    kw.setdefault("refetch", RefetchConfig(enabled=False))
    kw.setdefault("pair_cleanup", PairCleanupConfig(enabled=False))
    kw.setdefault("quotes_request_timeout_ms", 5_000)
    return AggregatorConfig(sources=sources, **kw)


@contextlib.asynccontextmanager
async def fakes(names: Iterable[str]) -> AsyncIterator[dict[str, FakeExchange]]:
    """Start one fake per source, each preloaded with its SAMPLE pair."""
    out: dict[str, FakeExchange] = {}
    try:
        for name in names:
            pair, price = SAMPLE[name]
            fx = FakeExchange(name, prices={pair: price})
            if name in KEYED:
                fx.api_key = f"key-{name}"
            await fx.start()
            out[name] = fx
        yield out
    finally:
        for fx in out.values():
            await fx.stop()


@contextlib.asynccontextmanager
async def service(
    fx: dict[str, FakeExchange],
    *,
    source_kw: dict[str, Any] | None = None,
    streams: Any = False,
    **cfg_kw: Any,
) -> AsyncIterator[tuple[AsgiClient, AggregatorApp]]:
    sources = {n: source_config(n, f.base_url, **(source_kw or {})) for n, f in fx.items()}
    app = create_app(agg_config(sources, **cfg_kw), streams=streams, backoff_base_s=0.01)
    async with lifespan(app) as client:
        yield client, app


__all__ = [
    "AsgiClient",
    "Resp",
    "agg_config",
    "fakes",
    "lifespan",
    "run",
    "service",
    "source_config",
]
