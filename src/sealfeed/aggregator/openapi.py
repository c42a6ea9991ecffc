"""OpenAPI 3 description of the HTTP API (served at ``/docs-json``, the reference's path)."""

from __future__ import annotations

from typing import Any

from sealfeed.aggregator.sources import SOURCE_NAMES

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": desc}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _p(name: str, where: str = "path", desc: str = "", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": desc,
        "schema": schema or {"type": "string"},
    }


def build_openapi(version: str) -> dict[str, Any]:
    src = _p("source", desc="data source", type="string", enum=list(SOURCE_NAMES))
    base = _p("baseCurrency", desc="base symbol (case-insensitive)")
    quote = _p("quoteCurrency", desc="quote symbol (case-insensitive)")
    errors = {
        "404": _resp("unknown source/pair or disabled source", _ERROR),
        "408": _resp("upstream did not answer within quotes.requestTimeoutMs", _ERROR),
        "503": _resp("source down and no valid cached value (body has ageMs)", _ERROR),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sealfeed price aggregator",
            "version": version,
            "description": "Drop-in for the Super-Protocol price-aggregator API, plus batch "
            "and median endpoints. Prices are the exchanges' decimal strings; receivedAt is "
            "when the value was received from upstream.",
        },
        "paths": {
            "/": {"get": {"summary": "health (reference)", "responses": {"200": _resp("ok")}}},
            "/health": {"get": {"summary": "health + per-source summary", "responses": {"200": _resp("ok")}}},
            "/quote/{source}/{baseCurrency}/{quoteCurrency}": {
                "get": {
                    "summary": "quote of a pair from one source",
                    "parameters": [src, base, quote],
                    "responses": {"200": _resp("quote", {"$ref": "#/components/schemas/Quote"}), **errors},
                }
            },
            "/quote/pairs/all": {"get": {"summary": "all pair-source registrations", "responses": {"200": _resp("ok")}}},
            "/quote/pairs/{source}": {
                "get": {"summary": "registered pairs of one source", "parameters": [src], "responses": {"200": _resp("ok"), "404": _resp("unknown source", _ERROR)}}
            },
            "/quote/cleanup": {
                "post": {"summary": "drop inactive pairs now", "responses": {"201": _resp("removed", {"type": "object", "properties": {"removedCount": {"type": "integer"}}})}}
            },
            "/quote/median/{baseCurrency}/{quoteCurrency}": {
                "get": {
                    "summary": "median over sources with a fresh cached value",
                    "parameters": [
                        base,
                        quote,
                        _p("sources", "query", "comma-separated sources (default: all enabled)"),
                        _p("max_age_ms", "query", "ignore values older than this", type="integer"),
                    ],
                    "responses": {"200": _resp("median, contributing sources, spread"), "404": _resp("no fresh value", _ERROR)},
                }
            },
            "/quotes/batch": {
                "post": {
                    "summary": "many quotes in one call; per-item result or error",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}}},
                    "responses": {"200": _resp("per-item results"), "400": _resp("body is not a batch", _ERROR)},
                }
            },
            "/sources": {"get": {"summary": "per-source status and rate-limit budget", "responses": {"200": _resp("ok")}}},
            "/metrics": {"get": {"summary": "Prometheus text exposition", "responses": {"200": {"description": "text/plain"}}}},
        },
        "components": {
            "schemas": {
                "Quote": {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string", "example": "binance"},
                        "pair": {"type": "array", "items": {"type": "string"}, "example": ["BTC", "USDT"]},
                        "price": {"type": "string", "example": "67012.34000000"},
                        "receivedAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "statusCode": {"type": "integer"},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "message": {"type": "string"},
                    },
                },
                "BatchRequest": {
                    "type": "object",
                    "properties": {
                        "quotes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"source": {"type": "string"}, "base": {"type": "string"}, "quote": {"type": "string"}},
                            },
                        }
                    },
                },
            }
        },
    }  # fmt: skip


__all__ = ["build_openapi"]
