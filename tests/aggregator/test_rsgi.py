"""The RSGI front (ADR 0150) on the real granian: the hot path answered natively, every
other request through the ASGI app (bodies in chunks, streamed and whole responses, errors),
and the ASGI lifespan driven by hand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

from sealfeed.aggregator.rsgi import Lifespan, RSGIApp
from sealfeed.errors import ExternalError

HOT = b'{"hot":true}'


class Echo:
    """A small ASGI app: /echo returns the body it read (and how many chunks), /stream
    streams three parts, /boom raises, /half raises after the head, /silent never answers,
    anything else 404."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                self.events.append(msg["type"])
                if msg["type"] == "lifespan.startup":
                    scope["state"]["ready"] = "yes"
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        path = scope["path"]
        if path == "/echo":
            body, chunks = b"", 0
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                chunks += 1
                if not msg.get("more_body"):
                    break
            head = dict(scope["headers"])
            doc = json.dumps({"len": len(body), "q": scope["query_string"].decode(),
                              "state": scope["state"].get("ready"),
                              "client": scope["client"] is not None,
                              "x": head.get(b"x-test", b"").decode()})  # fmt: skip
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": doc.encode()})
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"a", b"b", b"c"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/boom":
            raise RuntimeError("boom")
        elif path == "/half":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("half")
        elif path == "/silent":
            return
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"nope"})


def _hot(path: str) -> bytes | None:
    return HOT if path == "/quote/x/BTC/USDT" else None


async def _serve(app: Echo, port: int, hot: Callable[[str], bytes | None] | None) -> Any:
    lifespan = Lifespan(app)
    front = RSGIApp(app, hot=hot, state=lifespan.state)
    await lifespan.startup()
    server = Server(front, address="127.0.0.1", port=port, interface=Interfaces.RSGI,
                    http=HTTPModes.http1, websockets=False, log_enabled=False)  # fmt: skip
    task = asyncio.ensure_future(server.serve())
    for _ in range(100):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    return lifespan, server, task


def test_hot_path_asgi_translation_and_lifespan(free_port: Callable[[], int]) -> None:
    async def scenario() -> None:
        app, port = Echo(), free_port()
        lifespan, server, task = await _serve(app, port, _hot)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as s:
                async with s.get(f"{base}/quote/x/BTC/USDT") as r:
                    assert (r.status, await r.read()) == (200, HOT)
                    assert r.headers["content-type"].startswith("application/json")
                # not hot: the ASGI app (a POST of 1 MB arrives in chunks, state from startup)
                payload = b"z" * 1_000_000
                async with s.post(f"{base}/echo?a=1", data=payload,
                                  headers={"X-Test": "v"}) as r:  # fmt: skip
                    doc = await r.json(content_type=None)
                assert doc == {"len": 1_000_000, "q": "a=1", "state": "yes", "client": True,
                               "x": "v"}  # fmt: skip
                async with s.get(f"{base}/stream") as r:
                    assert (r.status, await r.read()) == (200, b"abc")
                async with s.get(f"{base}/quote/y/BTC/USDT") as r:  # hot says no: routed
                    assert (r.status, await r.read()) == (404, b"nope")
                for broken in ("/boom", "/half", "/silent"):
                    async with s.get(base + broken) as r:
                        assert r.status == 500, broken
        finally:
            server.stop()
            await task
            await lifespan.shutdown()
        assert app.events == ["lifespan.startup", "lifespan.shutdown"]

    asyncio.run(scenario())


def test_an_app_without_lifespan_is_served_anyway() -> None:
    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return  # ignores the lifespan scope, as a bare ASGI callable may

    async def scenario() -> None:
        lifespan = Lifespan(plain)
        await asyncio.wait_for(lifespan.startup(), 5)
        await asyncio.wait_for(lifespan.shutdown(), 5)

    asyncio.run(scenario())


def test_a_failed_startup_is_an_external_error() -> None:
    async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no sources"})

    async def scenario() -> None:
        with pytest.raises(ExternalError, match="startup failed: no sources"):
            await Lifespan(refuse).startup()

    asyncio.run(scenario())
