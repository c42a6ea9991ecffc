"""Run the ASGI app under granian (shipped) or uvicorn/hypercorn (the optional ``bench``
extra), in-process, one event loop, with limits that survive hostile local clients.

granian is the server (docs/adr/0020-aggregator-asgi-server.md). Readiness for s6
(``--notify-fd``) is written only once ``GET /health`` answers 200 over the socket, so
"ready" means "serving". SIGTERM/SIGINT stop the server gracefully within
``SHUTDOWN_TIMEOUT_S`` (conventions.md: within 10 s).

Connection limits (issue #16, docs/adr/0110-aggregator-connection-limits.md): at start the
soft ``RLIMIT_NOFILE`` is raised to the hard one; granian gets a listen backlog of
:data:`BACKLOG`, a backpressure (connections served at once) of ``max_connections`` derived
from that file limit instead of 1,024, HTTP/1.1 only, a header-read timeout (slow headers
are cut) and a header size limit (431); the :mod:`~sealfeed.aggregator.guard` closes what
those leave open (connections that never send a byte) and keeps the total under the cap,
idle connections first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sealfeed.aggregator.guard import ConnectionGuard, EvictionPolicy
from sealfeed.netutil import reachable_host

log = logging.getLogger("sealfeed.aggregator.server")

SERVERS: tuple[str, ...] = ("granian", "uvicorn", "hypercorn")
#: measured in docs/adr/0020-aggregator-asgi-server.md
DEFAULT_SERVER = "granian"
#: servers that come only with the optional extra ``sealfeed[bench]``
OPTIONAL_SERVERS = {"uvicorn": "uvicorn", "hypercorn": "hypercorn"}
SHUTDOWN_TIMEOUT_S = 8.0
READY_TIMEOUT_S = 30.0
#: listen(2) backlog; the kernel caps it at net.core.somaxconn (4096 on Linux >= 5.4)
BACKLOG = 4096
#: descriptors kept for everything but client connections (upstream sessions, streams, logs)
FD_RESERVE = 512


@dataclass(frozen=True)
class ServerLimits:
    """Per-connection limits. ``max_connections=None``: the file limit minus
    :data:`FD_RESERVE` (at least 64)."""

    max_connections: int | None = None
    #: a request head must be complete this long after its first byte (slowloris); hyper
    #: also applies it to keep-alive connections waiting for their next request
    header_read_timeout_ms: int = 10_000
    #: a request head larger than this is answered 431 (hyper's read buffer, min 8192)
    max_header_bytes: int = 64 << 10
    #: a connection that sends no byte for this long is closed by the guard
    silent_timeout_ms: int = 10_000
    guard_interval_s: float = 1.0
    guard_quiet_fds: int = 256

    def resolved(self, nofile: int) -> ServerLimits:
        if self.max_connections is not None:
            return self
        return dataclasses.replace(self, max_connections=max(64, nofile - FD_RESERVE))


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return int(min(soft, hard))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return int(soft)
    return int(hard)


def resolve_server(name: str | None) -> str:
    """The server to run; a clear one-line error when an optional one is not installed."""
    from sealfeed.errors import InputError

    if not name or name == "auto":
        return DEFAULT_SERVER
    if name not in SERVERS:
        raise InputError(f"unknown server {name!r}; choose one of: auto, {', '.join(SERVERS)}")
    module = OPTIONAL_SERVERS.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        raise InputError(
            f"server {name!r} needs the optional extra 'bench' (pip install 'sealfeed[bench]' "
            "or uv sync --extra bench); the shipped server is granian (server: auto)"
        )
    return name


Stopper = Callable[[], None]


def _uvicorn(
    app: Any, host: str, port: int, limits: ServerLimits
) -> tuple[Awaitable[None], Stopper]:
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
        backlog=BACKLOG,
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=max(1, limits.header_read_timeout_ms // 1000),
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    server = _Server(config)

    def stop() -> None:
        server.should_exit = True

    return server.serve(), stop


def _hypercorn(
    app: Any, host: str, port: int, limits: ServerLimits
) -> tuple[Awaitable[None], Stopper]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = SHUTDOWN_TIMEOUT_S - 2
    config.backlog = BACKLOG
    config.keep_alive_timeout = limits.header_read_timeout_ms / 1000
    config.read_timeout = limits.header_read_timeout_ms // 1000
    config.h11_max_incomplete_size = limits.max_header_bytes
    event = asyncio.Event()
    return serve(app, config, shutdown_trigger=event.wait), event.set


def _granian_task_impl(task_impl: Any) -> Any:
    """Rust tasks unless Python >= 3.12 or ``SEALFEED_GRANIAN_TASK_IMPL=asyncio``."""
    if os.environ.get("SEALFEED_GRANIAN_TASK_IMPL", "").lower() == "asyncio":
        return task_impl.asyncio
    return task_impl.rust if sys.version_info < (3, 12) else task_impl.asyncio


def _granian(
    app: Any, host: str, port: int, limits: ServerLimits
) -> tuple[Awaitable[None], Stopper]:
    from granian.constants import HTTPModes, Interfaces, TaskImpl
    from granian.http import HTTP1Settings
    from granian.server.embed import Server

    from sealfeed.aggregator.rsgi import Lifespan, RSGIApp

    logging.getLogger("_granian").setLevel(logging.ERROR)
    logging.getLogger("granian").setLevel(logging.ERROR)
    # RSGI: a cached quote is one native call (ADR 0150); the rest is the ASGI app, and its
    # lifespan is ours to drive (RSGI has none)
    lifespan = Lifespan(app)
    front = RSGIApp(app, hot=getattr(app, "hot_body", None), state=lifespan.state)
    server = Server(
        front,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        websockets=False,
        log_enabled=False,
        backlog=BACKLOG,
        # granian holds one backpressure permit per open connection (not per request): the
        # default (backlog / workers = 1,024 before) let 1,024 idle sockets stop all accepts
        backpressure=limits.max_connections,
        # HTTP/1.1 only: the oracles speak it; no h2c prior-knowledge surface
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=limits.header_read_timeout_ms,
            keep_alive=True,
            max_buffer_size=max(8192, limits.max_header_bytes),
        ),
        # granian's Rust task implementation (Python < 3.12 only; granian falls back to
        # asyncio itself on newer Pythons) measured 1.6-2x the req/s of the asyncio one and
        # a p99 under 10 ms on the hot path (docs/adr/0020-aggregator-asgi-server.md)
        task_impl=_granian_task_impl(TaskImpl),
    )

    async def run() -> None:
        await lifespan.startup()
        try:
            await server.serve()
        finally:
            await lifespan.shutdown()

    return run(), server.stop


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
    limits: ServerLimits | None = None,
    on_evict: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop_event``); graceful shutdown."""
    kind = resolve_server(server)
    check_bind(host, port)
    nofile = raise_nofile()
    lim = (limits or ServerLimits()).resolved(nofile)
    assert lim.max_connections is not None
    log.info(
        "connection limits",
        extra={
            "event": "limits",
            "nofile": nofile,
            "max_connections": lim.max_connections,
            "header_read_timeout_ms": lim.header_read_timeout_ms,
            "silent_timeout_ms": lim.silent_timeout_ms,
        },
    )
    loop = asyncio.get_running_loop()
    stop = stop_event or asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    runner, stopper = _RUNNERS[kind](app, host, port, lim)
    server_task = asyncio.ensure_future(runner)
    guard = ConnectionGuard(
        port,
        EvictionPolicy(lim.max_connections, lim.silent_timeout_ms),
        interval_s=lim.guard_interval_s,
        quiet_fds=lim.guard_quiet_fds,
        on_evict=on_evict,
    )
    guard_stop = asyncio.Event()
    guard_task = asyncio.create_task(guard.run(guard_stop))

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
        guard_stop.set()
        ready_task.cancel()
        stop_task.cancel()
        for helper in (ready_task, stop_task, guard_task):
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
    "BACKLOG",
    "DEFAULT_SERVER",
    "SERVERS",
    "ServerLimits",
    "check_bind",
    "notify_ready",
    "raise_nofile",
    "resolve_server",
    "run",
    "serve",
    "wait_ready",
]
