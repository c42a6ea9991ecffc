"""The ASGI app: routes, lifespan, and a hot path for cached quotes (pure ASGI, any server).

``create_app`` builds everything synchronously; the lifespan opens one aiohttp session per
source, starts the refresher and cleanup tasks, and the streaming clients when the
``sealfeed.aggregator.streams`` package is installed. Views and status codes live in
:mod:`sealfeed.aggregator.http`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from sealfeed import __version__
from sealfeed.aggregator import http
from sealfeed.aggregator.cache import JSON_CONTENT_TYPE, PriceQuote
from sealfeed.aggregator.metrics import QUOTE_ROUTE, AggregatorMetrics
from sealfeed.aggregator.openapi import build_openapi
from sealfeed.aggregator.service import Aggregator
from sealfeed.config.model import AggregatorConfig, MonitoringLabels

log = logging.getLogger("sealfeed.aggregator")

STREAMS_MODULE = "sealfeed.aggregator.streams"


def load_streams(agg: Aggregator, proxy: str | None) -> Any:
    """The streaming manager if ``sealfeed.aggregator.streams`` is installed, else None."""
    if importlib.util.find_spec(STREAMS_MODULE) is None:
        return None
    mod = importlib.import_module(STREAMS_MODULE)
    manager_cls = getattr(mod, "StreamManager", None)
    if manager_cls is None:
        return None
    sources = {name: st.cfg for name, st in agg.sources.items()}
    registry = agg.metrics.registry
    if "registry" in inspect.signature(manager_cls).parameters:
        # the manager registers its counters and scrape-time gauges straight into the
        # aggregator's registry, so /metrics and the pusher carry them
        return manager_cls(sources, agg, proxy=proxy, registry=registry)
    manager = manager_cls(sources, agg, proxy=proxy)
    try:
        for method in ("register_metrics", "register_collectors", "register"):
            if callable(getattr(manager, method, None)):
                getattr(manager, method)(registry)
                break
        else:
            collectors = getattr(manager, "collectors", None)
            if callable(collectors):
                try:
                    found = collectors(registry)
                except TypeError:
                    found = collectors()
                for collector in found or ():
                    registry.register(collector)
    except Exception as exc:  # metrics of the streams must never stop the service
        log.warning(
            "stream metrics not registered",
            extra={"event": "streams_metrics_error", "error": repr(exc)},
        )
    return manager


class AggregatorApp:
    """Answers a cached ``GET /quote/{source}/{base}/{quote}`` without routing; everything
    else goes to Starlette. Counts every request by route template and status."""

    def __init__(self, agg: Aggregator, app: Starlette) -> None:
        self.aggregator = agg
        self.app = app
        self.state = app.state
        self._metrics = agg.metrics

    def hot_quote(self, path: str) -> PriceQuote | None:
        """The answer to ``GET path`` if it is a fresh cached quote (counted as served)."""
        parts = path.split("/")
        if len(parts) == 5 and parts[1] == "quote":
            q = self.aggregator.lookup_hot(parts[2], parts[3], parts[4])
            if q is not None:
                self._metrics.hot_hit(q.source)
                return q
        return None

    def hot_body(self, path: str) -> bytes | None:
        """:meth:`hot_quote`'s body (the RSGI front's hot path, :mod:`.rsgi`)."""
        q = self.hot_quote(path)
        return None if q is None else q.body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            q = self.hot_quote(scope["path"])
            if q is not None:
                length = str(len(q.body)).encode()
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", JSON_CONTENT_TYPE),
                                        (b"content-length", length)]})  # fmt: skip
                await send({"type": "http.response.body", "body": q.body})
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self._metrics.request(label.replace("{baseCurrency}", "{base}"), status)


def _start_push(
    cfg: AggregatorConfig, registry: Any, labels: MonitoringLabels | None
) -> tuple[Any, asyncio.Event, asyncio.Task[None]] | None:
    """Push the registry (design §3.3.4) with the shared pusher; failures are retried with
    backoff and counted by the pusher itself, never on the request path."""
    if not cfg.metrics_push.enabled:
        return None
    from sealfeed.config.model import MonitoringLabels as Labels
    from sealfeed.push import MetricsPusher

    pusher = MetricsPusher(registry, cfg.metrics_push, labels or Labels())
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(pusher.run(stop))
    log.info("metrics push started", extra={"event": "push_started", "url": pusher.safe_url})
    return pusher, stop, task


async def _stop_push(pusher: Any, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait([task], timeout=3)
    task.cancel()
    if pusher.cfg.delete_on_shutdown:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pusher.delete(), timeout=3)
    await pusher.aclose()


def create_app(
    cfg: AggregatorConfig,
    labels: MonitoringLabels | None = None,
    *,
    streams: bool | Callable[[Aggregator], Any] = True,
    backoff_base_s: float | None = None,
) -> AggregatorApp:
    """Build the app. ``streams``: True = use the streams package if installed; False = never;
    a callable = build the manager from the aggregator (tests)."""
    agg_metrics = AggregatorMetrics(labels)
    agg = Aggregator(cfg, agg_metrics, backoff_base_s=backoff_base_s)
    proxy = cfg.proxy.reveal() if cfg.proxy is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        manager = None
        if callable(streams):
            manager = streams(agg)
        elif streams:
            try:
                manager = load_streams(agg, proxy)
            except Exception as exc:
                log.warning(
                    "streaming disabled: could not start the stream manager",
                    extra={"event": "streams_unavailable", "error": repr(exc)},
                )
        for st in agg.sources.values():
            _ = st.client.session  # one session per source, opened inside the loop
        await agg.start(streams=manager)
        # Everything allocated so far lives as long as the process: move it out of the
        # cyclic GC's view so full collections stay short (tail latency of hot GETs).
        gc.collect()
        gc.freeze()
        log.info(
            "aggregator started",
            extra={
                "event": "started",
                "sources": sorted(agg.sources),
                "streams": manager is not None,
            },
        )
        push = _start_push(cfg, agg_metrics.registry, labels)
        try:
            yield
        finally:
            if push is not None:
                await _stop_push(*push)
            await agg.stop()
            log.info("aggregator stopped", extra={"event": "stopped"})

    routes = [
        Route("/", http.health_reference),
        Route("/health", http.health),
        Route("/quote/pairs/all", http.pairs_all),
        Route("/quote/pairs/{source}", http.pairs_of),
        Route("/quote/cleanup", http.cleanup, methods=["POST"]),
        Route("/quote/median/{base}/{quote}", http.median),
        Route(QUOTE_ROUTE, http.get_quote),
        Route("/quotes/batch", http.batch, methods=["POST"]),
        Route("/sources", http.sources),
        # the reference's deprecated /sources/... routes, kept so old job specs still work
        Route("/sources/{source}/pairs", http.legacy_pairs),
        Route("/sources/{source}/batch", http.legacy_batch, methods=["POST"]),
        Route("/sources/{source}/{base}/{quote}", http.get_quote),
        Route("/metrics", http.metrics),
        Route("/docs-json", http.openapi),
        Route("/openapi.json", http.openapi),
        Route("/docs", http.docs),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=dict(http.EXCEPTION_HANDLERS),
    )
    app.state.aggregator = agg
    app.state.registry = agg_metrics.registry
    app.state.metrics = agg_metrics
    app.state.openapi = build_openapi(__version__)
    return AggregatorApp(agg, app)


__all__ = ["QUOTE_ROUTE", "AggregatorApp", "create_app", "load_streams"]
