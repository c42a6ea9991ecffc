"""Push a prometheus-client registry out of the TEE (design §3.3.4, §3.4 "Push Mechanism", §5.2).

Inside Super Protocol nothing can scrape us (design ADR-003), so every service pushes. This is
the one push module, used by the aggregator and the exporter (conventions.md "Metrics").

Two receivers:

* **Pushgateway** -- ``PUT <url>/metrics/job/<job>/instance/<instance>[/<label>/<value>...]``
  replaces the whole group on every push, so series of exited processes disappear with the next
  push. Grouping-key values that contain ``/`` (or are empty) use the ``<label>@base64/<b64url>``
  form of the Pushgateway README ("URL" section, since 0.9.0; empty value as ``=``, PR #346).
  Pushed metrics must not carry ``job`` or a grouping label themselves, so colliding grouping
  labels are dropped (``drop_grouping_labels``, e.g. the exporter's per-process ``service``).
* **VictoriaMetrics** -- ``POST <url>/api/v1/import/prometheus?extra_label=<k>=<v>...``
  (VictoriaMetrics docs "How to import data in Prometheus exposition format"); the grouping
  labels become ``extra_label`` parameters.

TTL (design §3.4, §7.3 label ``ttl``): like the reference exporter, every sample gets a
``ttl="<seconds>"`` label and the URL a ``ttl=<seconds>`` query parameter, for receivers that
expire groups (neither stock Pushgateway nor VictoriaMetrics does; harmless there).

Failures never propagate into the caller's loop: :meth:`MetricsPusher.run` counts them
(``sealfeed_push_*`` in the pushed registry, so the next successful push reports them), logs,
and backs off with jitter. HTTP is aiohttp with a total timeout, so it never blocks the loop;
rendering the registry runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric

from sealfeed.config.model import MetricsPushConfig, MonitoringLabels
from sealfeed.errors import ExternalError, InputError
from sealfeed.log import redact

_log = logging.getLogger("sealfeed.push")

PushKind = Literal["pushgateway", "victoriametrics"]
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: backoff ceiling after repeated failures (a push carries only the latest state, so retrying
#: faster than this buys nothing once the receiver is down for minutes)
MAX_BACKOFF_S = 300.0


def resolve_kind(cfg: MetricsPushConfig) -> PushKind:
    """``cfg.kind``, except that a URL naming ``/api/v1/import`` is always VictoriaMetrics."""
    if cfg.url and "/api/v1/import" in urlsplit(cfg.url).path:
        return "victoriametrics"
    return cfg.kind


def _check_label(name: str, where: str) -> None:
    if not _LABEL_NAME.match(name):
        raise InputError(
            f"invalid Prometheus label name {name!r} (must match [a-zA-Z_][a-zA-Z0-9_]*)",
            location=where,
        )


def _pgw_segment(name: str, value: str) -> str:
    """One ``/<label>/<value>`` pair of a Pushgateway path (README "URL" section)."""
    if value == "":
        return f"/{name}@base64/="
    if "/" in value:
        return f"/{name}@base64/" + base64.urlsafe_b64encode(value.encode()).decode()
    return f"/{name}/{quote(value, safe='')}"


@dataclass(frozen=True)
class PushTarget:
    """Where and how one push goes: pure data derived from the config (no IO)."""

    kind: PushKind
    url: str  # full URL incl. query for the push
    delete_url: str | None
    method: str
    grouping: Mapping[str, str]
    sample_labels: Mapping[str, str]


def build_target(
    cfg: MetricsPushConfig,
    labels: MonitoringLabels,
    *,
    instance: str | None = None,
    drop_grouping_labels: Iterable[str] = (),
) -> PushTarget:
    """Build URLs and label sets. Raises :class:`InputError` naming the bad field."""
    if not cfg.url:
        raise InputError("push is enabled but no url is set", location="metrics_push.url")
    parts = urlsplit(cfg.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            "push url must be http(s)://host[:port][/path]", location="metrics_push.url"
        )
    if parts.username or parts.password:
        raise InputError(
            "credentials in the push url are not allowed; use basic_auth from a secret file",
            location="metrics_push.url",
        )
    drop = set(drop_grouping_labels)
    grouping: dict[str, str] = {
        "instance": instance or labels.instance,
        "environment": labels.environment,
    }
    for key, value in cfg.grouping_labels.items():
        _check_label(key, f"metrics_push.grouping_labels.{key}")
        if key == "job":
            raise InputError(
                "use job_name, not a 'job' grouping label", location="metrics_push.grouping_labels"
            )
        grouping[key] = str(value)
    for key in drop:
        if key in grouping:
            _log.info(
                "grouping label dropped: the pushed metrics carry it per series",
                extra={"event": "push_grouping_label_dropped", "label": key},
            )
            grouping.pop(key)
    sample_labels: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    if cfg.ttl_seconds is not None:
        if cfg.ttl_seconds <= 0:
            raise InputError("ttl_seconds must be positive", location="metrics_push.ttl_seconds")
        sample_labels["ttl"] = str(cfg.ttl_seconds)
        query.append(("ttl", str(cfg.ttl_seconds)))
    kind = resolve_kind(cfg)
    base_path = parts.path.rstrip("/")
    existing_query = parts.query
    if kind == "pushgateway":
        if "/metrics/job" in base_path:
            path = base_path  # caller gave the full grouping path (reference behaviour)
        else:
            path = (
                base_path
                + "/metrics"
                + _pgw_segment("job", cfg.job_name)
                + "".join(_pgw_segment(k, v) for k, v in grouping.items())
            )
        method = "PUT"
        delete_path: str | None = path
    else:
        path = (
            base_path if "/api/v1/import" in base_path else base_path + "/api/v1/import/prometheus"
        )
        query = (
            [("extra_label", f"job={cfg.job_name}")]
            + [("extra_label", f"{k}={v}") for k, v in grouping.items()]
            + query
        )
        method = "POST"
        delete_path = None  # VictoriaMetrics has no per-group delete for clients
    q = "&".join(filter(None, [existing_query, urlencode(query)]))
    url = urlunsplit((parts.scheme, parts.netloc, path, q, ""))
    delete_url = (
        urlunsplit((parts.scheme, parts.netloc, delete_path, existing_query, ""))
        if delete_path is not None
        else None
    )
    return PushTarget(kind, url, delete_url, method, grouping, sample_labels)


def auth_headers(cfg: MetricsPushConfig) -> dict[str, str]:
    """Headers for the push request; secrets are revealed here and nowhere else."""
    headers = {str(k): str(v) for k, v in cfg.headers.items()}
    if cfg.basic_auth is not None:
        raw = f"{cfg.basic_auth.username}:{cfg.basic_auth.password.reveal()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    elif cfg.bearer_token is not None:
        headers["Authorization"] = "Bearer " + cfg.bearer_token.reveal()
    return headers


class _LabelledView:
    """A read-only view of a registry whose samples all carry ``extra`` labels."""

    def __init__(self, registry: Any, extra: Mapping[str, str]) -> None:
        self._registry = registry
        self._extra = dict(extra)

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if not self._extra:
                yield family
                continue
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = [s._replace(labels={**s.labels, **self._extra}) for s in family.samples]
            yield copy


def render(registry: Any, extra_labels: Mapping[str, str] | None = None) -> bytes:
    """The text exposition (format 0.0.4) of ``registry`` with ``extra_labels`` on every sample."""
    return generate_latest(_LabelledView(registry, extra_labels or {}))


class _PushMetrics:
    """The pusher's own metrics, created once per registry."""

    _by_registry: weakref.WeakKeyDictionary[Any, _PushMetrics] = weakref.WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "sealfeed_push_requests_total",
            "Push requests by receiver kind and outcome (ok|error)",
            ["target", "outcome"],
            registry=registry,
        )
        self.consecutive_failures = Gauge(
            "sealfeed_push_consecutive_failures",
            "Push failures since the last success",
            ["target"],
            registry=registry,
        )
        self.last_success = Gauge(
            "sealfeed_push_last_success_timestamp_seconds",
            "Unix time of the last successful push",
            ["target"],
            registry=registry,
        )
        self.duration = Gauge(
            "sealfeed_push_duration_seconds",
            "Duration of the last push request",
            ["target"],
            registry=registry,
        )
        self.payload_ts = Gauge(
            "sealfeed_push_timestamp_seconds",
            "Unix time at which this payload was rendered (staleness: design §7.5 not reporting)",
            ["target"],
            registry=registry,
        )

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> _PushMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls(registry)
            cls._by_registry[registry] = found
        return found


class MetricsPusher:
    """Push ``registry`` to one receiver every ``cfg.interval_ms``.

    ``await push_once()`` raises :class:`ExternalError` on failure; ``await run(stop)`` loops
    until ``stop`` is set and never raises for push failures. ``await delete()`` removes the
    Pushgateway group (no-op for VictoriaMetrics). Call ``await aclose()`` when done.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        cfg: MetricsPushConfig,
        labels: MonitoringLabels,
        *,
        instance: str | None = None,
        drop_grouping_labels: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.cfg = cfg
        self.registry = registry
        self.target = build_target(
            cfg, labels, instance=instance, drop_grouping_labels=drop_grouping_labels
        )
        self._headers = auth_headers(cfg)
        self._clock = clock
        self._rng = rng
        self._metrics = _PushMetrics.for_registry(registry)
        self._failures = 0
        self._session: Any = None
        # show the series at 0 before the first push
        for outcome in ("ok", "error"):
            self._metrics.requests.labels(self.target.kind, outcome)
        self._metrics.consecutive_failures.labels(self.target.kind).set(0)

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def safe_url(self) -> str:
        return redact(self.target.url)

    async def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_ms / 1000)
            )
        return self._session

    async def _request(self, method: str, url: str, body: bytes | None) -> None:
        import aiohttp

        session = await self._client()
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
        try:
            async with session.request(method, url, data=body, headers=headers) as resp:
                text = await resp.text(errors="replace")
                if resp.status >= 300:
                    raise ExternalError(
                        f"{method} returned HTTP {resp.status}: {redact(text.strip())[:200]}",
                        location=redact(url),
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ExternalError(
                f"{method} failed: {exc.__class__.__name__}: {redact(str(exc))[:200]}",
                location=redact(url),
            ) from None

    async def push_once(self) -> None:
        kind = self.target.kind
        started = time.monotonic()
        self._metrics.payload_ts.labels(kind).set(self._clock())
        try:
            body = await asyncio.to_thread(render, self.registry, self.target.sample_labels)
            await self._request(self.target.method, self.target.url, body)
        except ExternalError:
            self._failures += 1
            self._metrics.requests.labels(kind, "error").inc()
            self._metrics.consecutive_failures.labels(kind).set(self._failures)
            raise
        finally:
            self._metrics.duration.labels(kind).set(time.monotonic() - started)
        self._failures = 0
        self._metrics.requests.labels(kind, "ok").inc()
        self._metrics.consecutive_failures.labels(kind).set(0)
        self._metrics.last_success.labels(kind).set(self._clock())

    def next_delay(self) -> float:
        """Seconds until the next push: the interval, or jittered exponential backoff."""
        interval = max(self.cfg.interval_ms / 1000, 0.05)
        if self._failures == 0:
            return interval
        ceiling = min(MAX_BACKOFF_S, interval * 2.0 ** min(self._failures - 1, 16))
        ceiling = max(ceiling, interval)
        # "equal jitter": uniform in [ceiling/2, ceiling]
        return float(ceiling / 2 + self._rng() * ceiling / 2)

    async def run(self, stop: asyncio.Event) -> None:
        """Push until ``stop`` is set; failures are counted and logged, never raised."""
        while not stop.is_set():
            try:
                await self.push_once()
            except ExternalError as err:
                level = (
                    logging.WARNING
                    if self._failures in (1, 10) or self._failures % 60 == 0
                    else logging.DEBUG
                )
                _log.log(
                    level,
                    "metrics push failed",
                    extra={
                        "event": "push_failed",
                        "target": self.target.kind,
                        "error": str(err),
                        "consecutive": self._failures,
                    },
                )
            except Exception:  # a broken collector must not kill the push loop
                self._failures += 1
                _log.exception("metrics push crashed", extra={"event": "push_crashed"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.next_delay())

    async def delete(self) -> None:
        """Delete our Pushgateway group (design: delete-on-shutdown optional)."""
        if self.target.delete_url is None:
            return
        await self._request("DELETE", self.target.delete_url, None)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


__all__ = [
    "MAX_BACKOFF_S",
    "MetricsPusher",
    "PushTarget",
    "auth_headers",
    "build_target",
    "render",
    "resolve_kind",
]
