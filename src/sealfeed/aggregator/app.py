"""The ASGI app: Starlette routes + a hot path for cached quotes (pure ASGI, any server).

``create_app`` builds everything synchronously; the lifespan opens one aiohttp session per
source, starts the refresher and cleanup tasks, and the streaming clients when the
``sealfeed.aggregator.streams`` package is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import importlib.util
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from sealfeed import __version__
from sealfeed.aggregator.cache import iso_ms, now_ms
from sealfeed.aggregator.metrics import AggregatorMetrics
from sealfeed.aggregator.openapi import build_openapi
from sealfeed.aggregator.service import Aggregator, QuoteError, uptime_s
from sealfeed.config.model import AggregatorConfig, MonitoringLabels

log = logging.getLogger("sealfeed.aggregator")

QUOTE_ROUTE = "/quote/{source}/{base}/{quote}"
MAX_BATCH_ITEMS = 1000
STREAMS_MODULE = "sealfeed.aggregator.streams"
_JSON = b"application/json; charset=utf-8"


class JsonBytes(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def _error(status: int, message: str) -> JsonBytes:
    return JsonBytes(QuoteError(status, message).doc(), status_code=status)


def _agg(request: Request) -> Aggregator:
    agg: Aggregator = request.app.state.aggregator
    return agg


async def health_reference(request: Request) -> Response:
    return JsonBytes({"message": "Price Proxy Service is running", "timestamp": iso_ms(now_ms())})


async def health(request: Request) -> Response:
    agg = _agg(request)
    return JsonBytes(
        {
            "status": "ok",
            "message": "Price Proxy Service is running",
            "timestamp": iso_ms(now_ms()),
            "uptimeSeconds": uptime_s(agg.started_ms),
            "sources": len(agg.sources),
            "trackedPairs": sum(len(s.tracked) for s in agg.sources.values()),
        }
    )


async def get_quote(request: Request) -> Response:
    p = request.path_params
    q = await _agg(request).get_quote(p["source"], p["base"], p["quote"])
    return JsonBytes(q.body)


async def pairs_all(request: Request) -> Response:
    return JsonBytes({"pairs": _agg(request).registrations()})


async def pairs_of(request: Request) -> Response:
    return JsonBytes(_agg(request).pairs_of(request.path_params["source"]))


async def cleanup(request: Request) -> Response:
    # NestJS answers a @Post() without @HttpCode with 201; the reference does so here
    return JsonBytes({"removedCount": _agg(request).cleanup()}, status_code=201)


async def median(request: Request) -> Response:
    p = request.path_params
    raw_sources = request.query_params.get("sources")
    sources = [s for s in (raw_sources or "").split(",") if s.strip()] or None
    raw_age = request.query_params.get("max_age_ms")
    max_age = None
    if raw_age is not None:
        if not raw_age.isdigit():
            raise QuoteError(400, "max_age_ms must be a non-negative integer")
        max_age = int(raw_age)
    return JsonBytes(_agg(request).median(p["base"], p["quote"], sources, max_age))


def _batch_items(doc: Any) -> list[Any]:
    items = doc.get("quotes") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise QuoteError(400, 'body must be {"quotes": [{"source", "base", "quote"}, ...]}')
    if len(items) > MAX_BATCH_ITEMS:
        raise QuoteError(400, f"at most {MAX_BATCH_ITEMS} quotes per batch")
    return items


async def batch(request: Request) -> Response:
    agg = _agg(request)
    try:
        doc = json.loads(await request.body())
    except ValueError:
        raise QuoteError(400, "body is not valid JSON") from None
    items = _batch_items(doc)

    async def one(i: int, item: Any) -> dict[str, Any]:
        fields = (
            [item.get(k) for k in ("source", "base", "quote")] if isinstance(item, dict) else []
        )
        if len(fields) != 3 or not all(isinstance(f, str) and f for f in fields):
            return {
                "index": i,
                "error": {
                    "statusCode": 400,
                    "message": "item needs string fields source, base, quote",
                },
            }
        source, base, quote = (str(f) for f in fields)
        try:
            q = await agg.get_quote(source, base, quote)
        except QuoteError as err:
            return {
                "index": i,
                "source": source,
                "pair": [base.upper(), quote.upper()],
                "error": {"statusCode": err.status, "message": err.message, **err.extra},
            }
        return {"index": i, **q.doc()}

    results = await asyncio.gather(*(one(i, it) for i, it in enumerate(items)))
    ok = sum(1 for r in results if "error" not in r)
    return JsonBytes({"results": results, "ok": ok, "failed": len(results) - ok})


async def legacy_batch(request: Request) -> Response:
    """Reference ``POST /sources/{source}/batch`` (deprecated there): ``{"pairs":[[B,Q]]}``
    -> a list of quotes; the first failing pair fails the call, as in the reference."""
    agg = _agg(request)
    source = request.path_params["source"]
    agg.state(source)
    try:
        doc = json.loads(await request.body())
    except ValueError:
        raise QuoteError(400, "body is not valid JSON") from None
    pairs = doc.get("pairs") if isinstance(doc, dict) else None
    if not isinstance(pairs, list) or not pairs:
        raise QuoteError(400, "At least one pair must be provided")
    if not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p)
        for p in pairs
    ):
        raise QuoteError(400, "pairs must be an array of [base, quote] string pairs")
    quotes = await asyncio.gather(*(agg.get_quote(source, b, q) for b, q in pairs))
    return JsonBytes([q.doc() for q in quotes])


async def legacy_pairs(request: Request) -> Response:
    source = request.path_params["source"]
    name = _agg(request).state(source).name
    # listing an exchange's whole catalogue is not part of sealfeed's aggregator
    raise QuoteError(400, f"Feature 'getPairs' is not implemented in {name}")


async def sources(request: Request) -> Response:
    return JsonBytes({"sources": _agg(request).source_status()})


async def metrics(request: Request) -> Response:
    registry = request.app.state.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return JsonBytes(request.app.state.openapi)


_DOCS_HTML = """<!doctype html><html><head><meta charset="utf-8">
<title>sealfeed aggregator API</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}code{background:#eee}</style>
</head><body><h1>sealfeed price aggregator</h1>
<p>OpenAPI document: <a href="/docs-json">/docs-json</a>. Endpoints:</p><ul>%s</ul></body></html>"""


async def docs(request: Request) -> Response:
    spec = request.app.state.openapi
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            rows.append(f"<li><code>{method.upper()} {path}</code> &mdash; {op['summary']}</li>")
    return HTMLResponse(_DOCS_HTML % "".join(rows))


async def _quote_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QuoteError)
    return JsonBytes(exc.doc(), status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(404, f"Cannot {request.method} {request.url.path}")
    return _error(exc.status_code, str(exc.detail))


async def _internal(request: Request, exc: Exception) -> Response:
    log.error(
        "request failed",
        extra={"event": "bug", "path": request.url.path, "error": exc.__class__.__name__},
    )
    return _error(500, "Internal server error")


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            parts = scope["path"].split("/")
            if len(parts) == 5 and parts[1] == "quote":
                q = self.aggregator.lookup_hot(parts[2], parts[3], parts[4])
                if q is not None:
                    body = q.body
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", _JSON),
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    self._metrics.request(QUOTE_ROUTE, 200)
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
        Route("/", health_reference),
        Route("/health", health),
        Route("/quote/pairs/all", pairs_all),
        Route("/quote/pairs/{source}", pairs_of),
        Route("/quote/cleanup", cleanup, methods=["POST"]),
        Route("/quote/median/{base}/{quote}", median),
        Route(QUOTE_ROUTE, get_quote),
        Route("/quotes/batch", batch, methods=["POST"]),
        Route("/sources", sources),
        # the reference's deprecated /sources/... routes, kept so old job specs still work
        Route("/sources/{source}/pairs", legacy_pairs),
        Route("/sources/{source}/batch", legacy_batch, methods=["POST"]),
        Route("/sources/{source}/{base}/{quote}", get_quote),
        Route("/metrics", metrics),
        Route("/docs-json", openapi),
        Route("/openapi.json", openapi),
        Route("/docs", docs),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            QuoteError: _quote_error,
            HTTPException: _http_error,
            Exception: _internal,
        },
    )
    app.state.aggregator = agg
    app.state.registry = agg_metrics.registry
    app.state.metrics = agg_metrics
    app.state.openapi = build_openapi(__version__)
    return AggregatorApp(agg, app)


__all__ = ["QUOTE_ROUTE", "AggregatorApp", "create_app", "load_streams"]
