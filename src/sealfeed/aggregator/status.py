"""Read-only documents about the aggregator's state (registrations, pairs, sources).

Plain data out; the HTTP edge serialises them (``/quote/pairs/*``, ``/sources``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sealfeed.aggregator.adapters import Pair
from sealfeed.aggregator.cache import iso_ms, now_ms
from sealfeed.aggregator.service import Aggregator
from sealfeed.aggregator.sources import SOURCE_NAMES


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


__all__ = ["pairs_of", "registrations", "source_status"]
