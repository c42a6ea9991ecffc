"""Run the ASGI app under granian, uvicorn or hypercorn (all in-process, one event loop).

The default is chosen by measurement (docs/adr/0020-aggregator-asgi-server.md). Readiness
for s6 (``--notify-fd``) is written only once ``GET /health`` answers 200 over the socket,
so "ready" means "serving". SIGTERM/SIGINT stop the server gracefully within
``SHUTDOWN_TIMEOUT_S`` (conventions.md: within 10 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sealfeed.netutil import reachable_host

log = logging.getLogger("sealfeed.aggregator.server")

SERVERS: tuple[str, ...] = ("granian", "uvicorn", "hypercorn")
#: measured in docs/adr/0020-aggregator-asgi-server.md
DEFAULT_SERVER = "granian"
SHUTDOWN_TIMEOUT_S = 8.0
READY_TIMEOUT_S = 30.0


def resolve_server(name: str | None) -> str:
    if not name or name == "auto":
        return DEFAULT_SERVER
    if name not in SERVERS:
        from sealfeed.errors import InputError

        raise InputError(f"unknown server {name!r}; choose one of: auto, {', '.join(SERVERS)}")
    return name


Stopper = Callable[[], None]


def _uvicorn(app: Any, host: str, port: int) -> tuple[Awaitable[None], Stopper]:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:  # we own SIGTERM/SIGINT (see serve())
            yield

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        http="httptools",
        loop="none",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_S) - 2,
        server_header=False,
    )
    server = _Server(config)

    def stop() -> None:
        server.should_exit = True

    return server.serve(), stop


def _hypercorn(app: Any, host: str, port: int) -> tuple[Awaitable[None], Stopper]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = SHUTDOWN_TIMEOUT_S - 2
    event = asyncio.Event()
    return serve(app, config, shutdown_trigger=event.wait), event.set


def _granian_task_impl(task_impl: Any) -> Any:
    """Rust tasks unless Python >= 3.12 or ``SEALFEED_GRANIAN_TASK_IMPL=asyncio``."""
    if os.environ.get("SEALFEED_GRANIAN_TASK_IMPL", "").lower() == "asyncio":
        return task_impl.asyncio
    return task_impl.rust if sys.version_info < (3, 12) else task_impl.asyncio


def _granian(app: Any, host: str, port: int) -> tuple[Awaitable[None], Stopper]:
    from granian.constants import Interfaces, TaskImpl
    from granian.server.embed import Server

    logging.getLogger("_granian").setLevel(logging.ERROR)
    logging.getLogger("granian").setLevel(logging.ERROR)
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        log_enabled=False,
        backlog=1024,
        # granian's Rust task implementation (Python < 3.12 only; granian falls back to
        # asyncio itself on newer Pythons) measured 1.6-2x the req/s of the asyncio one and
        # a p99 under 10 ms on the hot path (docs/adr/0020-aggregator-asgi-server.md)
        task_impl=_granian_task_impl(TaskImpl),
    )
    return server.serve(), server.stop


_RUNNERS = {"granian": _granian, "uvicorn": _uvicorn, "hypercorn": _hypercorn}


async def wait_ready(host: str, port: int, timeout: float = READY_TIMEOUT_S) -> bool:
    """True once ``GET /health`` on host:port answers 200."""
    probe_host = reachable_host(host)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    request = f"GET /health HTTP/1.1\r\nHost: {probe_host}\r\nConnection: close\r\n\r\n".encode()
    while loop.time() < deadline:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(probe_host, port), 1.0)
            try:
                writer.write(request)
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 2.0)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            if line.split(b" ")[1:2] == [b"200"]:
                return True
        except (OSError, TimeoutError, IndexError):
            pass
        await asyncio.sleep(0.05)
    return False


def notify_ready(fd: int) -> None:
    """s6 readiness protocol: write a newline to the notification fd, then close it."""
    try:
        os.write(fd, b"\n")
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


async def serve(
    app: Any,
    *,
    server: str,
    host: str,
    port: int,
    notify_fd: int | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop_event``); graceful shutdown."""
    kind = resolve_server(server)
    check_bind(host, port)
    loop = asyncio.get_running_loop()
    stop = stop_event or asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    runner, stopper = _RUNNERS[kind](app, host, port)
    server_task = asyncio.ensure_future(runner)

    async def readiness() -> None:
        if await wait_ready(host, port):
            log.info(
                "serving",
                extra={"event": "ready", "server": kind, "host": host, "port": port},
            )
            if notify_fd is not None:
                notify_ready(notify_fd)
        else:
            log.error("server did not become ready", extra={"event": "not_ready"})

    ready_task = asyncio.create_task(readiness())
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready_task.cancel()
        stop_task.cancel()
        for helper in (ready_task, stop_task):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await helper
        if not server_task.done():
            log.info("shutting down", extra={"event": "stopping", "server": kind})
            stopper()
            try:
                await asyncio.wait_for(asyncio.shield(server_task), SHUTDOWN_TIMEOUT_S)
            except TimeoutError:
                server_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await server_task
        for sig in installed:
            loop.remove_signal_handler(sig)
    if server_task.done() and not server_task.cancelled():
        exc = server_task.exception()
        if exc is not None:
            from sealfeed.errors import ExternalError

            # granian's errors carry a Rust backtrace after the first line
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ExternalError(f"{kind} stopped: {first}") from None


def check_bind(host: str, port: int) -> None:
    """Fail with one clear line if host:port cannot be bound (the servers' own bind errors
    are a Rust backtrace (granian) or a log line plus sys.exit (uvicorn))."""
    from sealfeed.errors import ExternalError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise ExternalError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(app: Any, **kwargs: Any) -> None:
    """Blocking entry: uvloop when available (all three servers accept it).

    Not ``asyncio.run``/``Runner``: their final ``all_tasks()`` sweep trips over granian's
    Rust tasks ("Future object is not initialized"); everything of ours is already stopped
    by :func:`serve` when it returns.
    """
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(app, **kwargs))
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


__all__ = [
    "DEFAULT_SERVER",
    "SERVERS",
    "check_bind",
    "notify_ready",
    "resolve_server",
    "run",
    "serve",
    "wait_ready",
]
