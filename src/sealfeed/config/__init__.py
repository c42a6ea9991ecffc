"""Configuration trust layer: typed model, schema validation, signatures, fail-closed loading.

``load_verified_config(path, trust)`` is the only way any service gets configuration.
The price-source catalogue (``CATALOGUE``) is the one table of sources and their defaults.

Exports are imported lazily: a process that needs only the typed model (the s6 hooks, which
run on every service exit) does not load the signature code and its crypto library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the static view of the lazy exports below
    from sealfeed.config.catalogue import CATALOGUE, SourceInfo, Venue
    from sealfeed.config.loader import (
        Trust,
        VerifiedConfig,
        load_and_verify,
        load_config_unverified,
        load_verified_config,
        trust_from_args,
    )
    from sealfeed.config.model import (
        AggregatorConfig,
        ApplianceConfig,
        BasicAuth,
        ChainConfig,
        ChainlinkConfig,
        ExporterConfig,
        FeedConfig,
        MetricsPushConfig,
        MonitoringLabels,
        NodesConfig,
        NodeSpec,
        PairCleanupConfig,
        PairTtl,
        PostgresConfig,
        RefetchConfig,
        RestartPolicy,
        SourceConfig,
        StreamConfig,
    )

_CATALOGUE = ("CATALOGUE", "SourceInfo", "Venue")
_LOADER = (
    "Trust",
    "VerifiedConfig",
    "load_and_verify",
    "load_config_unverified",
    "load_verified_config",
    "trust_from_args",
)
_MODEL = (
    "AggregatorConfig",
    "ApplianceConfig",
    "BasicAuth",
    "ChainConfig",
    "ChainlinkConfig",
    "ExporterConfig",
    "FeedConfig",
    "MetricsPushConfig",
    "MonitoringLabels",
    "NodeSpec",
    "NodesConfig",
    "PairCleanupConfig",
    "PairTtl",
    "PostgresConfig",
    "RefetchConfig",
    "RestartPolicy",
    "SourceConfig",
    "StreamConfig",
)
_EXPORTS = {
    **dict.fromkeys(_CATALOGUE, "sealfeed.config.catalogue"),
    **dict.fromkeys(_LOADER, "sealfeed.config.loader"),
    **dict.fromkeys(_MODEL, "sealfeed.config.model"),
}

__all__ = [
    "CATALOGUE",
    "AggregatorConfig",
    "ApplianceConfig",
    "BasicAuth",
    "ChainConfig",
    "ChainlinkConfig",
    "ExporterConfig",
    "FeedConfig",
    "MetricsPushConfig",
    "MonitoringLabels",
    "NodeSpec",
    "NodesConfig",
    "PairCleanupConfig",
    "PairTtl",
    "PostgresConfig",
    "RefetchConfig",
    "RestartPolicy",
    "SourceConfig",
    "SourceInfo",
    "StreamConfig",
    "Trust",
    "Venue",
    "VerifiedConfig",
    "load_and_verify",
    "load_config_unverified",
    "load_verified_config",
    "trust_from_args",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sealfeed.config' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
