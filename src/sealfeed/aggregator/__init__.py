"""Price aggregator: the oracles' only way to prices (docs/aggregator.md).

Public API (imported lazily so ``sealfeed --help`` never loads Starlette or aiohttp):
``create_app`` (the ASGI app), ``Aggregator`` (cache + sources core), ``QuoteSink`` (what the
streaming clients call), ``QuoteCache``/``Quote``, ``SOURCE_NAMES``, ``serve``/``run``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "sealfeed.aggregator.app",
    "AggregatorApp": "sealfeed.aggregator.app",
    "Aggregator": "sealfeed.aggregator.service",
    "QuoteError": "sealfeed.aggregator.service",
    "Quote": "sealfeed.aggregator.cache",
    "QuoteCache": "sealfeed.aggregator.cache",
    "QuoteSink": "sealfeed.aggregator.cache",
    "SOURCE_NAMES": "sealfeed.aggregator.sources",
    "serve": "sealfeed.aggregator.server",
    "run": "sealfeed.aggregator.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sealfeed.aggregator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
