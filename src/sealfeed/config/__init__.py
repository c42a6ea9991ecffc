"""Configuration trust layer: typed model, schema validation, signatures, fail-closed loading.

``load_verified_config(path, trust)`` is the only way any service gets configuration.
The price-source catalogue (``CATALOGUE``) is the one table of sources and their defaults.
"""

from sealfeed.config.catalogue import CATALOGUE, SourceInfo, Venue
from sealfeed.config.loader import (
    Trust,
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
    "load_and_verify",
    "load_config_unverified",
    "load_verified_config",
    "trust_from_args",
]
