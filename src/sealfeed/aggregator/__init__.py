"""Price aggregator: the oracles' only way to prices (docs/aggregator.md).

Public API (imported lazily so ``sealfeed --help`` never loads Starlette or aiohttp):
``create_app`` (the ASGI app), ``Aggregator`` (cache + sources core), ``QuoteFailure`` (why a
quote was not answered; HTTP codes live in ``sealfeed.aggregator.http``), ``QuoteSink`` (what
the streaming clients call), ``QuoteCache``/``PriceQuote``, ``SOURCE_NAMES``, ``load_pairs_file``,
``serve``/``run``/``ServerLimits``.

Modules: ``app`` (routes, lifespan, hot path), ``http`` (views, status codes), ``body``
(bounded request bodies), ``service`` (tracked pairs, probes, refresh), ``state`` (source
set-up), ``fetch``/``limiter`` (upstream IO, batching, budget), ``adapters`` (per-exchange
wire formats), ``pairs`` (symbol grammar, pairs file), ``median``, ``status``, ``server`` +
``guard`` (ASGI server, connection limits), ``streams`` (WebSocket quotes).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "sealfeed.aggregator.app",
    "AggregatorApp": "sealfeed.aggregator.app",
    "Aggregator": "sealfeed.aggregator.service",
    "QuoteFailure": "sealfeed.aggregator.errors",
    "load_pairs_file": "sealfeed.aggregator.pairs",
    "PriceQuote": "sealfeed.aggregator.cache",
    "QuoteCache": "sealfeed.aggregator.cache",
    "QuoteSink": "sealfeed.aggregator.cache",
    "SOURCE_NAMES": "sealfeed.aggregator.sources",
    "serve": "sealfeed.aggregator.server",
    "run": "sealfeed.aggregator.server",
    "ServerLimits": "sealfeed.aggregator.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sealfeed.aggregator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
