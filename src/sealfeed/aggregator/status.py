"""Documents about the aggregator's state: registrations, pairs, sources, the median.

Plain data out; the HTTP edge serialises them (``/quote/pairs/*``, ``/sources``,
``/quote/median/*``). The median's maths is :mod:`sealfeed.aggregator.median`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sealfeed.aggregator.adapters import Pair
from sealfeed.aggregator.cache import iso_ms, now_ms
from sealfeed.aggregator.errors import PriceNotFound
from sealfeed.aggregator.median import median_stats
from sealfeed.aggregator.pairs import pair_of
from sealfeed.aggregator.service import Aggregator
from sealfeed.aggregator.sources import SOURCE_NAMES, canonical_source


def _cached_fields(agg: Aggregator, source: str, pair: Pair) -> dict[str, Any]:
    q = agg.cache.get((source, *pair))
    if q is None:
        return {}
    return {"cachedPrice": q.price, "receivedAt": q.received_at, "cachedAt": iso_ms(q.cached_at_ms)}


def _ms(value: int) -> str | None:
    return iso_ms(value) if value else None


def registrations(agg: Aggregator) -> list[dict[str, Any]]:
    """The reference's registrations (tracked pairs) plus ``tracked: false`` entries for
    pairs asked for that never had a value (probes; they expire on their own)."""
    out: list[dict[str, Any]] = []
    for st in agg.sources.values():
        for pair, t in sorted(st.tracked.items()):
            doc: dict[str, Any] = {
                "pair": list(pair),
                "source": st.name,
                "registeredAt": iso_ms(t.registered_at_ms),
                "lastFetchAt": _ms(t.last_fetch_ms),
                "lastResponseAt": _ms(t.last_response_ms),
                "lastRequestAt": iso_ms(t.last_request_ms),
                "tracked": True,
            }
            doc.update(_cached_fields(agg, st.name, pair))
            out.append(doc)
        for pair, pr in sorted(st.probing.items()):
            out.append(
                {
                    "pair": list(pair),
                    "source": st.name,
                    "registeredAt": iso_ms(pr.registered_at_ms),
                    "lastFetchAt": _ms(pr.last_fetch_ms),
                    "lastResponseAt": None,
                    "lastRequestAt": iso_ms(pr.last_request_ms),
                    "tracked": False,
                    "lastError": pr.last_error,
                }
            )
    return out


def pairs_of(agg: Aggregator, source: str) -> dict[str, Any]:
    st = agg.state(source)
    return {
        "source": st.name,
        "pairs": [{"pair": list(p), **_cached_fields(agg, st.name, p)} for p in sorted(st.tracked)],
    }


def source_status(agg: Aggregator) -> dict[str, Any]:
    now = now_ms()
    stream_status: Mapping[str, Any] = {}
    if agg.streams is not None:
        with contextlib.suppress(Exception):
            stream_status = agg.streams.status() or {}
    out: dict[str, Any] = {}
    for name in SOURCE_NAMES:
        st = agg.sources.get(name)
        if st is None:
            out[name] = {"enabled": False, "configured": name in agg.disabled}
            continue
        healthy = st.last_error_ms is None or (
            st.last_success_ms is not None and st.last_success_ms >= st.last_error_ms
        )
        doc: dict[str, Any] = {
            "enabled": True,
            "healthy": healthy,
            "baseUrl": st.client.base_url,
            "ttlMs": st.ttl_ms,
            "maxBatchSize": st.batch_size,
            "trackedPairs": len(st.tracked),
            "probingPairs": len(st.probing),
            "notFoundPairs": len(st.not_found),
            "cachedPairs": sum(1 for p in st.tracked if agg.cache.fresh((name, *p), now)),
            "lastSuccessAt": iso_ms(st.last_success_ms) if st.last_success_ms else None,
            "lastErrorAt": iso_ms(st.last_error_ms) if st.last_error_ms else None,
            "lastError": st.last_error,
            "upstreamCalls": st.client.stats.calls,
            "upstreamErrors": st.client.stats.errors,
            "maxRetries": st.client.max_retries,
            "rateLimit": {
                **st.client.limiter.budget(),
                "maxConcurrent": st.cfg.max_concurrent,
                "probeLimit": st.client.probe_limit,
            },
        }
        if name in stream_status:
            doc["stream"] = stream_status[name]
        out[name] = doc
    return out


def median(
    agg: Aggregator, base: str, quote: str, sources: list[str] | None, max_age_ms: int | None
) -> dict[str, Any]:
    """Median over the sources holding a fresh value of the pair (``PriceNotFound`` with
    the reason per source when none does). Asking counts as a request of each used pair."""
    pair = pair_of(base, quote)
    names = sources or list(agg.sources)
    now = now_ms()
    used: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for raw in names:
        name = canonical_source(raw)
        if name is None or name not in agg.sources:
            skipped[raw[:40]] = "unknown or disabled source"
            continue
        q = agg.cache.fresh((name, *pair), now)
        if q is None:
            skipped[name] = "no fresh value"
            continue
        age = now - q.received_at_ms
        if max_age_ms is not None and age > max_age_ms:
            skipped[name] = f"older than {max_age_ms} ms"
            continue
        t = agg.sources[name].tracked.get(pair)
        if t is not None:
            t.last_request_ms = now
        used.append({"source": name, "price": q.price, "receivedAt": q.received_at, "ageMs": age})
    if not used:
        raise PriceNotFound(
            f"No fresh price for {pair[0]}/{pair[1]} from any source", skipped=skipped
        )
    stats = median_stats([u["price"] for u in used])
    return {
        "pair": list(pair),
        "median": stats.median,
        "sources": used,
        "count": stats.count,
        "min": stats.min,
        "max": stats.max,
        "spread": stats.spread,
        "spreadPct": stats.spread_pct,
        "skipped": skipped,
    }


__all__ = ["median", "pairs_of", "registrations", "source_status"]
