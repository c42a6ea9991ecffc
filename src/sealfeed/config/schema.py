"""The schema of ``configuration.json`` and its translation into :mod:`sealfeed.config.model`.

Compatibility: every key of the reference's solution schema (Super-Protocol/chainlink
``scripts/configuration/configuration-schema.js``) and of its price-aggregator YAML schema
(``price-aggregator/src/config/schema/*.schema.ts``, carried as ``priceAggregatorConfig``) is
accepted with the reference's types and bounds, so existing signed files load unchanged
(``"totalNodes": "5"`` included). Everything sealfeed adds lives under the ``sealfeed`` key.

The keys themselves are declared once, on the model's dataclass fields; :data:`SOLUTION` and
:func:`build_config` are derived from those declarations. What is written here by hand is
only what spans several fields: the cross-field validation rules and the values one field
derives from another (ADR 0096).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from sealfeed.config import model as m
from sealfeed.config.catalogue import BY_KEY, STREAMING_KEYS, SourceInfo
from sealfeed.config.declare import build, derive_schema
from sealfeed.config.placement import placement_problems
from sealfeed.config.spec import ConfigProblem, Node, SecretRef, validate
from sealfeed.errors import InputError
from sealfeed.secret import Secret

# Re-exported for callers that validated URLs and addresses with the schema's patterns.
ADDRESS = m.ADDRESS
HTTP_URL = m.HTTP_URL
WS_URL = m.WS_URL

#: The price sources by configuration key: the catalogue itself (not a copy).
SOURCES: Mapping[str, SourceInfo] = BY_KEY
STREAMING_SOURCES = STREAMING_KEYS


def _sources_rule(sources: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name, v in sources.items():
        info = BY_KEY[name]
        # Reference sources.schema.ts Decode(): an enabled keyed source needs its API key.
        if info.key_checked and v.get("enabled") and v.get("apiKey") is None:
            problems.append((f"{name}.apiKey", f"is required when source {name} is enabled"))
        stream = v.get("stream")
        if stream is not None and not info.streams:
            only = ", ".join(STREAMING_KEYS)
            problems.append((f"{name}.stream", f"{name} has no streaming API (only {only})"))
        # One source = one venue: REST from one deployment, stream from another is two
        # exchanges feeding one price (ADR 0095).
        rest = info.venue_of(v["baseUrl"]) if v.get("baseUrl") else None
        ws = info.venue_of(stream["wsUrl"]) if stream and stream.get("wsUrl") else None
        if rest is not None and ws is not None and rest != ws:
            problems.append((
                f"{name}.stream.wsUrl",
                f"is the {ws.label} stream but baseUrl is the {rest.label} REST API; one "
                f"source is one venue (use {rest.stream_url})",
            ))  # fmt: skip
    return problems


def _root_rule(v: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    total = v.get("totalNodes")
    if not isinstance(total, int):
        return problems
    boot = v.get("bootstrapNodes")
    if isinstance(boot, int) and boot >= total:
        problems.append(("bootstrapNodes", f"must be < totalNodes ({total}), got {boot}"))
    for key in ("nodesList", "primaryNodes"):
        for node in v.get(key) or ():
            if node > total:
                problems.append((key, f"names node {node} but totalNodes is {total}"))
    # (the root rule also runs when other parts are invalid: skip what did not validate)
    for k, feed in enumerate(((v.get("sealfeed") or {}).get("feeds")) or ()):
        for src in (feed or {}).get("sources") or ():
            if src not in BY_KEY:
                problems.append((f"sealfeed.feeds[{k}].sources", f"unknown source {src!r}"))
    # one DON over several VMs (ADR 0140): the rules live with the placement code
    problems.extend(placement_problems(v))
    return problems


SOLUTION: Node = derive_schema(
    m.ApplianceConfig,
    doc="The solution configuration.",
    rules={"": _root_rule, "priceAggregatorConfig.sources": _sources_rule},
)
PRICE_AGGREGATOR: Node = SOLUTION.fields["priceAggregatorConfig"]
SEALFEED: Node = SOLUTION.fields["sealfeed"]


# ---------------------------------------------------------------------------------------
# JSON (validated) -> typed model: derived from the declarations, then the cross-field values

SecretResolver = Callable[[SecretRef, str], Secret]


def _push(push: m.MetricsPushConfig, ext: Mapping[str, Any]) -> m.MetricsPushConfig:
    url = push.url
    return dataclasses.replace(
        push,
        enabled=push.enabled and bool(url),  # enabled without a URL pushes nowhere
        kind=ext.get("kind")
        or ("victoriametrics" if url and "/api/v1/import" in url else "pushgateway"),
    )


def _source(src: m.SourceConfig) -> m.SourceConfig:
    """A source's REST and stream URLs come from one venue (ADR 0095); the stream's silence
    timeout follows its heartbeat."""
    info = BY_KEY[src.name]
    base_url, stream = src.base_url, src.stream
    ws_url = stream.ws_url if stream is not None else None
    default = info.venues[0]
    if base_url and not ws_url and stream is not None:
        venue = info.venue_of(base_url)
        if venue is not None and venue != default:
            ws_url = venue.stream_url
    if ws_url and not base_url:
        venue = info.venue_of(ws_url)
        if venue is not None and venue != default:
            base_url = venue.base_url
    if stream is not None:
        stream = dataclasses.replace(
            stream,
            ws_url=ws_url,
            unresponsive_timeout_ms=max(60_000, 2 * stream.heartbeat_interval_ms),
        )
    return dataclasses.replace(src, base_url=base_url, stream=stream)


def build_config(
    v: Mapping[str, Any], raw: Mapping[str, Any], resolve: SecretResolver
) -> m.ApplianceConfig:
    """Typed config from a *validated* solution object (see :func:`parse_solution`)."""
    cfg: m.ApplianceConfig = build(m.ApplianceConfig, v, resolve, extra={"raw": raw})
    nodes_list = cfg.nodes.nodes_list or tuple(range(1, cfg.nodes.total + 1))
    sf = v["sealfeed"]
    return dataclasses.replace(
        cfg,
        nodes=dataclasses.replace(
            cfg.nodes, nodes_list=nodes_list, primary=cfg.nodes.primary or nodes_list
        ),
        aggregator=dataclasses.replace(
            cfg.aggregator,
            sources={k: _source(s) for k, s in cfg.aggregator.sources.items()},
            metrics_push=_push(cfg.aggregator.metrics_push, sf["aggregator"]["metricsPush"]),
        ),
        exporter=dataclasses.replace(
            cfg.exporter, push=_push(cfg.exporter.push, sf["exporter"]["metricsPush"])
        ),
    )


class ConfigInvalid(InputError):
    """Schema validation failed: one :class:`~sealfeed.config.spec.ConfigProblem` per issue, each with its JSON path."""

    def __init__(self, problems: list[ConfigProblem], *, location: str | None = None) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"configuration is invalid ({len(problems)} {noun}):\n{lines}",
                         location=location)  # fmt: skip


def parse_solution(
    solution: Any, resolve: SecretResolver, *, location: str | None = None
) -> m.ApplianceConfig:
    """Validate the solution object (every problem at once) and build the typed config."""
    validated, problems = validate(SOLUTION, solution)
    if problems:
        raise ConfigInvalid(problems, location=location)
    payload = {k: v for k, v in solution.items() if k not in {"signature", "sealfeedSignature"}}
    return build_config(validated, payload, resolve)


def no_secret_files(ref: SecretRef, path: str) -> Secret:
    raise InputError(
        f"refers to secret file {ref.file!r} but no secrets directory was given", location=path
    )


__all__ = [
    "ADDRESS",
    "HTTP_URL",
    "PRICE_AGGREGATOR",
    "SEALFEED",
    "SOLUTION",
    "SOURCES",
    "STREAMING_SOURCES",
    "WS_URL",
    "ConfigInvalid",
    "SecretResolver",
    "build_config",
    "no_secret_files",
    "parse_solution",
]
