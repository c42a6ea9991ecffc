"""Source set-up: per-source state built from the typed configuration (no IO, no tasks).

Every documented ``sources.<name>`` key lands here (docs/aggregator.md, "Configuration"):
``enabled``, ``baseUrl``, ``apiKey``, ``ttl``, ``timeoutMs``, ``rps`` (``null`` = no budget at
all), ``maxConcurrent``, ``maxRetries``, ``useProxy``, ``refetch``, ``staleTriggerBeforeExpiry``,
``maxBatchSize``; ``stream`` goes to the streaming package. Catalogue defaults are read as
``DEFAULTS[name].<field>`` only where the model leaves a value unset.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from sealfeed.aggregator.adapters import ADAPTERS, Pair
from sealfeed.aggregator.cache import PriceQuote
from sealfeed.aggregator.fetch import ObserveFn, SourceClient, build_proxy
from sealfeed.aggregator.sources import DEFAULTS, SOURCE_NAMES, canonical_source
from sealfeed.config.model import AggregatorConfig, SourceConfig
from sealfeed.errors import InputError


@dataclass(slots=True)
class Tracked:
    """A pair the aggregator keeps fresh: it had a value once, or the pairs file names it."""

    registered_at_ms: int
    last_request_ms: int
    ttl_ms: int
    last_fetch_ms: int = 0
    last_response_ms: int = 0
    failures: int = 0


@dataclass(slots=True)
class Probe:
    """A requested pair that never had a value: fetched on demand only, never refreshed,
    never batched with tracked pairs, never subscribed on a stream; it becomes
    :class:`Tracked` with its first value and expires soon after its last request."""

    registered_at_ms: int
    last_request_ms: int
    last_fetch_ms: int = 0
    failed_at_ms: int = 0
    last_error: str | None = None


@dataclass
class SourceState:
    name: str
    cfg: SourceConfig
    client: SourceClient
    ttl_ms: int
    stale_ms: int
    batch_size: int | None
    refetch: bool
    tracked: dict[Pair, Tracked] = field(default_factory=dict)
    probing: dict[Pair, Probe] = field(default_factory=dict)
    inflight: dict[Pair, asyncio.Future[PriceQuote]] = field(default_factory=dict)
    pending: set[Pair] = field(default_factory=set)
    flush_scheduled: bool = False
    last_error: str | None = None
    last_error_ms: int | None = None
    last_success_ms: int | None = None
    #: pairs the source said it does not know, until when (negative cache)
    not_found: dict[Pair, int] = field(default_factory=dict)


def probe_limit(scfg: SourceConfig, request_timeout_ms: int) -> int:
    """How many probe calls a source admits at once: what its budget can serve within one
    request timeout (at least 2), never more than 4x its connections."""
    cap = 4 * max(1, scfg.max_concurrent)
    if scfg.rps is None:
        return cap
    return max(2, min(cap, math.ceil(scfg.rps * request_timeout_ms / 1000)))


def build_sources(
    cfg: AggregatorConfig,
    *,
    observe: ObserveFn | None = None,
    backoff_base_s: float | None = None,
) -> tuple[dict[str, SourceState], set[str]]:
    """(enabled sources by canonical name, names configured but disabled)."""
    sources: dict[str, SourceState] = {}
    disabled: set[str] = set()
    global_proxy = cfg.proxy.reveal() if cfg.proxy is not None else None
    extra = {} if backoff_base_s is None else {"backoff_base_s": backoff_base_s}
    for key, scfg in cfg.sources.items():
        name = canonical_source(key) or canonical_source(scfg.name)
        if name is None:
            raise InputError(
                f"unknown source {key!r}; known: {', '.join(SOURCE_NAMES)}",
                location=f"priceAggregatorConfig.sources.{key}",
            )
        if not scfg.enabled:
            disabled.add(name)
            continue
        adapter = ADAPTERS[name]
        api_key = scfg.api_key.reveal() if scfg.api_key is not None else None
        client = SourceClient(
            adapter,
            base_url=adapter.base_url(scfg.base_url, api_key),
            rps=scfg.rps,  # None = `rps: null` = no budget (the catalogue default is the schema's)
            max_concurrent=scfg.max_concurrent,
            timeout_ms=scfg.timeout_ms,
            max_retries=scfg.max_retries,
            api_key=api_key,
            proxy=build_proxy(scfg.use_proxy, global_proxy),
            observe=observe,
            probe_limit=probe_limit(scfg, cfg.quotes_request_timeout_ms),
            **extra,
        )
        stale = scfg.stale_trigger_before_expiry_ms
        sources[name] = SourceState(
            name=name,
            cfg=scfg,
            client=client,
            ttl_ms=scfg.ttl_ms,
            stale_ms=stale if stale is not None else cfg.refetch.stale_trigger_before_expiry_ms,
            batch_size=scfg.max_batch_size or DEFAULTS[name].max_batch_size,
            refetch=scfg.refetch and cfg.refetch.enabled,
        )
    return sources, disabled


__all__ = ["Probe", "SourceState", "Tracked", "build_sources", "probe_limit"]
