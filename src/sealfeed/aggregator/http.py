"""HTTP views: request parsing, the core's answers as JSON, failures as status codes.

The only place that knows HTTP status codes: :data:`STATUS` maps each core failure
(:mod:`sealfeed.aggregator.errors`) to the reference's code and the error body
``{statusCode, timestamp, message, ...}``. Bodies are bounded (:mod:`sealfeed.aggregator.body`)
and their shape is checked before anything is looked up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sealfeed.aggregator import status
from sealfeed.aggregator.body import BodyError, read_json
from sealfeed.aggregator.cache import iso_ms, now_ms
from sealfeed.aggregator.errors import (
    InvalidSymbol,
    PriceNotFound,
    QuoteFailure,
    QuoteTimeout,
    ShuttingDown,
    SourceBusy,
    SourceDisabled,
    SourceUnavailable,
    UnknownSource,
)
from sealfeed.aggregator.service import Aggregator, uptime_s

log = logging.getLogger("sealfeed.aggregator")

MAX_BATCH_ITEMS = 1000
_BATCH_SHAPE = 'expected {"quotes": [{"source": "binance", "base": "BTC", "quote": "USDT"}, ...]}'

#: core failure -> HTTP status (reference codes: 404 unknown source/pair, 408 timeout, 503
#: source down; 400 for what the reference's validation pipe rejects)
STATUS: dict[type[QuoteFailure], int] = {
    UnknownSource: 404,
    SourceDisabled: 404,
    PriceNotFound: 404,
    InvalidSymbol: 400,
    QuoteTimeout: 408,
    SourceUnavailable: 503,
    SourceBusy: 503,
    ShuttingDown: 503,
}


class HttpError(Exception):
    """An answer decided at the edge (bad query parameter, bad body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JsonBytes(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def status_of(failure: QuoteFailure) -> int:
    return STATUS.get(type(failure), 500)


def error_doc(status_code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"statusCode": status_code, "timestamp": iso_ms(now_ms()), "message": message, **extra}


def error_response(status_code: int, message: str, **extra: Any) -> JsonBytes:
    return JsonBytes(error_doc(status_code, message, **extra), status_code=status_code)


def _agg(request: Request) -> Aggregator:
    agg: Aggregator = request.app.state.aggregator
    return agg


async def _body(request: Request) -> Any:
    try:
        return await read_json(request)
    except BodyError as err:
        _agg(request).metrics.reject(err.reason)
        raise HttpError(err.status, err.message) from None


# ---------------------------------------------------------------------- views
async def health_reference(request: Request) -> Response:
    return JsonBytes({"message": "Price Proxy Service is running", "timestamp": iso_ms(now_ms())})


async def health(request: Request) -> Response:
    agg = _agg(request)
    tracked, probing = agg.counts()
    return JsonBytes(
        {
            "status": "ok",
            "message": "Price Proxy Service is running",
            "timestamp": iso_ms(now_ms()),
            "environment": agg.cfg.environment,
            "uptimeSeconds": uptime_s(agg.started_ms),
            "sources": len(agg.sources),
            "trackedPairs": tracked,
            "probingPairs": probing,
        }
    )


async def get_quote(request: Request) -> Response:
    p = request.path_params
    q = await _agg(request).get_quote(p["source"], p["base"], p["quote"])
    return JsonBytes(q.body)


async def pairs_all(request: Request) -> Response:
    return JsonBytes({"pairs": status.registrations(_agg(request))})


async def pairs_of(request: Request) -> Response:
    return JsonBytes(status.pairs_of(_agg(request), request.path_params["source"]))


async def cleanup(request: Request) -> Response:
    # NestJS answers a @Post() without @HttpCode with 201; the reference does so here
    return JsonBytes({"removedCount": _agg(request).cleanup(probes=True)}, status_code=201)


async def median(request: Request) -> Response:
    p = request.path_params
    raw_sources = request.query_params.get("sources")
    sources = [s for s in (raw_sources or "").split(",") if s.strip()] or None
    if sources is not None and len(sources) > 64:
        raise HttpError(400, "at most 64 sources")
    raw_age = request.query_params.get("max_age_ms")
    max_age = None
    if raw_age is not None:
        if not raw_age.isdigit() or len(raw_age) > 12:
            raise HttpError(400, "max_age_ms must be a non-negative integer")
        max_age = int(raw_age)
    return JsonBytes(status.median(_agg(request), p["base"], p["quote"], sources, max_age))


def _batch_items(doc: Any) -> list[Any]:
    items = doc.get("quotes") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise HttpError(400, f"body has no list of quotes; {_BATCH_SHAPE}")
    if not items:
        raise HttpError(
            400, f"the batch is empty: send 1 to {MAX_BATCH_ITEMS} quotes; {_BATCH_SHAPE}"
        )
    if len(items) > MAX_BATCH_ITEMS:
        raise HttpError(400, f"{len(items)} quotes in one batch; at most {MAX_BATCH_ITEMS}")
    return items


async def batch(request: Request) -> Response:
    agg = _agg(request)
    items = _batch_items(await _body(request))

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
        except QuoteFailure as err:
            return {
                "index": i,
                "source": source[:40],
                "pair": [base[:40].upper(), quote[:40].upper()],
                "error": {"statusCode": status_of(err), "message": err.message, **err.extra},
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
    doc = await _body(request)
    pairs = doc.get("pairs") if isinstance(doc, dict) else None
    if not isinstance(pairs, list) or not pairs:
        raise HttpError(400, "At least one pair must be provided")
    if len(pairs) > MAX_BATCH_ITEMS:
        raise HttpError(400, f"{len(pairs)} pairs in one batch; at most {MAX_BATCH_ITEMS}")
    if not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p)
        for p in pairs
    ):
        raise HttpError(400, "pairs must be an array of [base, quote] string pairs")
    quotes = await asyncio.gather(*(agg.get_quote(source, b, q) for b, q in pairs))
    return JsonBytes([q.doc() for q in quotes])


async def legacy_pairs(request: Request) -> Response:
    source = request.path_params["source"]
    name = _agg(request).state(source).name
    # listing an exchange's whole catalogue is not part of sealfeed's aggregator
    raise HttpError(400, f"Feature 'getPairs' is not implemented in {name}")


async def sources(request: Request) -> Response:
    return JsonBytes({"sources": status.source_status(_agg(request))})


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


# ---------------------------------------------------------------------- error handlers
async def on_quote_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QuoteFailure)
    if isinstance(exc, InvalidSymbol):
        _agg(request).metrics.reject("invalid_symbol")
    elif isinstance(exc, SourceBusy):
        _agg(request).metrics.reject("busy")
    return error_response(status_of(exc), exc.message, **exc.extra)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_response(exc.status, exc.message)


async def on_starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, f"Cannot {request.method} {request.url.path[:200]}")
    return error_response(exc.status_code, str(exc.detail))


async def on_bug(request: Request, exc: Exception) -> Response:
    log.error(
        "request failed",
        extra={"event": "bug", "path": request.url.path[:200], "error": exc.__class__.__name__},
    )
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {
    QuoteFailure: on_quote_failure,
    HttpError: on_http_error,
    HTTPException: on_starlette_error,
    Exception: on_bug,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "MAX_BATCH_ITEMS",
    "STATUS",
    "HttpError",
    "JsonBytes",
    "error_doc",
    "error_response",
    "status_of",
]
