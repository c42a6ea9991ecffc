"""granian's RSGI interface in front of an ASGI app (ADR 0150).

A cached quote is answered natively (``response_bytes``: one call, no ASGI messages), which
is what lifts the hot path towards the nginx ceiling; every other request is translated to
ASGI and handled by the app as under any ASGI server. RSGI has no lifespan protocol, so
:class:`Lifespan` drives the app's ASGI lifespan around the server.

Only what the aggregator's routes need is translated: HTTP/1.1 requests with a body read in
chunks (so the body limits of :mod:`sealfeed.aggregator.body` still apply while it arrives),
whole or streamed responses, client disconnects. WebSockets are off in our server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sealfeed.aggregator.cache import JSON_CONTENT_TYPE

log = logging.getLogger("sealfeed.aggregator.rsgi")

#: ``hot(path) -> body or None``: a fresh cached answer to ``GET path``, counted
HotPath = Callable[[str], bytes | None]
_JSON_HEADERS = [("content-type", JSON_CONTENT_TYPE.decode())]
_ERROR_HEADERS = [("content-type", "text/plain")]
_ERROR_BODY = b"Internal Server Error"


def _addr(value: Any) -> tuple[str, int] | None:
    """RSGI gives ``host:port`` strings, ASGI wants ``(host, port)``."""
    host, sep, port = str(value or "").rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


class RSGIApp:
    """RSGI application: ``hot`` first (GET only), then the ASGI ``app``; ``state`` is what
    the app's lifespan left for its requests (:attr:`Lifespan.state`)."""

    def __init__(
        self, app: Any, hot: HotPath | None = None, state: dict[str, Any] | None = None
    ) -> None:
        self.app = app
        self.hot = hot
        self.state = state if state is not None else {}

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":  # pragma: no cover - websockets are disabled
            return
        if self.hot is not None and scope.method == "GET":
            body = self.hot(scope.path)
            if body is not None:
                protocol.response_bytes(200, _JSON_HEADERS, body)
                return
        await self._asgi(scope, protocol)

    async def _asgi(self, scope: Any, protocol: Any) -> None:
        path = scope.path
        asgi_scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": scope.http_version,
            "method": scope.method,
            "scheme": scope.scheme,
            "path": path,
            "raw_path": path.encode("utf-8"),
            "query_string": scope.query_string.encode("latin-1"),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in scope.headers.items()
            ],
            "client": _addr(scope.client),
            "server": _addr(scope.server),
            "state": dict(self.state),
        }
        chunks = protocol.__aiter__()
        body_done = False

        async def receive() -> dict[str, Any]:
            nonlocal body_done
            if body_done:
                await protocol.client_disconnect()
                return {"type": "http.disconnect"}
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": bytes(chunk), "more_body": True}

        status = 0
        headers: list[tuple[str, str]] = []
        stream: Any = None
        finished = False

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers, stream, finished
            kind = message["type"]
            if kind == "http.response.start":
                status = int(message["status"])
                headers = [
                    (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                    for k, v in message.get("headers", ())
                ]
            elif kind == "http.response.body" and not finished:
                body = bytes(message.get("body", b""))
                more = bool(message.get("more_body", False))
                if stream is None and not more:
                    protocol.response_bytes(status, headers, body)
                    finished = True
                    return
                if stream is None:
                    stream = protocol.response_stream(status, headers)
                if body:
                    await stream.send_bytes(body)
                finished = not more

        try:
            await self.app(asgi_scope, receive, send)
        except Exception:
            log.exception("unhandled error", extra={"event": "asgi_error", "path": path})
        if not finished and stream is None:  # nothing (or only a head) was sent: 500
            protocol.response_bytes(500, _ERROR_HEADERS, _ERROR_BODY)


class Lifespan:
    """The ASGI lifespan protocol, driven by hand (RSGI has none): :meth:`startup` before
    the server accepts, :meth:`shutdown` after it stopped."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        try:
            await self.app(scope, self._to_app.get, self._from_app.put)
        except Exception as exc:
            await self._from_app.put({"type": "lifespan.failed", "message": repr(exc)})
        else:
            # an app without lifespan support returns at once: nothing to wait for
            await self._from_app.put({"type": "lifespan.unsupported"})

    async def _step(self, event: str) -> None:
        await self._to_app.put({"type": f"lifespan.{event}"})
        answer = await self._from_app.get()
        if answer["type"] == "lifespan.unsupported":
            return
        if answer["type"] != f"lifespan.{event}.complete":
            from sealfeed.errors import ExternalError

            raise ExternalError(f"{event} failed: {answer.get('message') or answer['type']}")

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        await self._step("startup")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._step("shutdown")
        await self._task


__all__ = ["HotPath", "Lifespan", "RSGIApp"]
