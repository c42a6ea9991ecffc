"""Typed, validated configuration objects (the only shape services ever see).

The on-disk format is the reference's ``configuration.json`` (architecture §10, Super-Protocol/
chainlink ``scripts/configuration/configuration-schema.js``): the signed object lives under
``solution``; the price aggregator's YAML-derived settings under ``priceAggregatorConfig``;
everything sealfeed adds lives under one key, ``sealfeed``. :mod:`sealfeed.config.schema`
turns that JSON into these frozen dataclasses; components receive sub-objects
(``AggregatorConfig``, ``ExporterConfig``, ...), never the raw dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sealfeed.secret import Secret

# Port bases from the architecture document §2.3/§3.1: node N listens on API 6600+N, P2P 9900+N.
DEFAULT_API_BASE_PORT = 6600
DEFAULT_P2P_BASE_PORT = 9900
DEFAULT_AGGREGATOR_PORT = 3000  # §4.1
DEFAULT_EXPORTER_PORT = 3003  # §4.1
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: Secret


@dataclass(frozen=True)
class MetricsPushConfig:
    """Push of a prometheus-client registry (design §3.3.4, §3.4 "Push Mechanism").

    ``kind`` is ``pushgateway`` (``PUT /metrics/job/<job>/<label>/<value>...``) or
    ``victoriametrics`` (``POST /api/v1/import/prometheus?extra_label=k=v``); it is derived
    from the URL when not given (a path containing ``/api/v1/import`` means VictoriaMetrics).
    """

    enabled: bool = False
    url: str | None = None
    kind: Literal["pushgateway", "victoriametrics"] = "pushgateway"
    interval_ms: int = 15_000
    job_name: str = "price-aggregator"
    grouping_labels: Mapping[str, str] = field(default_factory=dict)
    basic_auth: BasicAuth | None = None
    bearer_token: Secret | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_ms: int = 5_000
    #: TTL as label and query parameter, as the reference exporter sends it (design §3.4)
    ttl_seconds: int | None = 3600
    delete_on_shutdown: bool = False


@dataclass(frozen=True)
class StreamConfig:
    """WebSocket streaming settings of one source (reference ``sources.<name>.stream``)."""

    enabled: bool = True
    ws_url: str | None = None
    heartbeat_interval_ms: int = 30_000
    #: subscriptions per subscribe message
    batch_size: int = 50
    #: minimum gap between two subscribe/unsubscribe messages
    rate_limit_ms: int = 100
    #: no message for this long -> reconnect
    unresponsive_timeout_ms: int = 60_000
    #: backoff starts here and doubles (with jitter) up to ``max_backoff_ms``; never gives up
    reconnect_interval_ms: int = 1_000
    max_backoff_ms: int = 60_000


@dataclass(frozen=True)
class SourceConfig:
    """One upstream price source (reference ``priceAggregatorConfig.sources.<name>``)."""

    name: str
    enabled: bool = True
    base_url: str | None = None
    ttl_ms: int = 300_000  # design §3.3.1 default TTL
    timeout_ms: int = 10_000
    rps: float | None = None
    max_concurrent: int = 10
    api_key: Secret | None = None
    #: False: direct; True: the global proxy; a string: this proxy URL
    use_proxy: bool | Secret = False
    refetch: bool = True
    stale_trigger_before_expiry_ms: int | None = None
    max_batch_size: int | None = None
    #: retries of a failed upstream call (jittered exponential backoff)
    max_retries: int = 3
    stream: StreamConfig | None = None


@dataclass(frozen=True)
class RefetchConfig:
    enabled: bool = True
    stale_trigger_before_expiry_ms: int = 5_000  # design §3.3.1
    batch_interval_ms: int = 1_000
    min_time_between_refreshes_ms: int = 2_000


@dataclass(frozen=True)
class PairCleanupConfig:
    enabled: bool = True
    inactive_timeout_ms: int = 600_000  # design §3.3.1: 10 minutes
    cleanup_interval_ms: int = 20_000  # design §3.3.1: every 20 s


@dataclass(frozen=True)
class PairTtl:
    base: str
    quote: str
    ttl_ms: int
    source: str | None = None


@dataclass(frozen=True)
class AggregatorConfig:
    host: str = LOOPBACK
    port: int = DEFAULT_AGGREGATOR_PORT
    environment: str = "production"
    pairs_file: str | None = None
    proxy: Secret | None = None
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    refetch: RefetchConfig = field(default_factory=RefetchConfig)
    pair_cleanup: PairCleanupConfig = field(default_factory=PairCleanupConfig)
    quotes_request_timeout_ms: int = 10_000
    pairs_ttl: tuple[PairTtl, ...] = ()
    metrics_push: MetricsPushConfig = field(default_factory=MetricsPushConfig)
    log_level: str = "info"
    #: ASGI server (see docs/adr for the measured choice)
    server: str = "auto"


@dataclass(frozen=True)
class ExporterConfig:
    host: str = LOOPBACK
    port: int = DEFAULT_EXPORTER_PORT
    interval_ms: int = 5_000  # design §10.4 PROCESS_METRICS_INTERVAL_MS
    discovery_interval_ms: int = 60_000  # design §3.4
    max_consecutive_failures: int = 12  # design §3.4 "exits after 12 consecutive failures"
    push: MetricsPushConfig = field(
        default_factory=lambda: MetricsPushConfig(job_name="process-metrics", interval_ms=5_000)
    )


@dataclass(frozen=True)
class MonitoringLabels:
    instance: str = "sealfeed"
    environment: str = "production"


@dataclass(frozen=True)
class NodeSpec:
    """Everything about node ``index`` that is derived from the configuration."""

    index: int
    role: Literal["bootstrap", "oracle"]
    api_host: str
    api_port: int
    p2p_port: int
    database: str
    db_role: str
    os_user: str
    workdir: str

    @property
    def service(self) -> str:
        return f"chainlink-node-{self.index}"


@dataclass(frozen=True)
class NodesConfig:
    total: int
    bootstrap: tuple[int, ...] = (1,)
    nodes_list: tuple[int, ...] = ()
    primary: tuple[int, ...] = ()
    bootstrap_addresses: tuple[str, ...] = ()
    api_host: str = LOOPBACK
    api_base_port: int = DEFAULT_API_BASE_PORT
    p2p_base_port: int = DEFAULT_P2P_BASE_PORT
    #: P2P.V2.ListenAddresses host / AnnounceAddresses + bootstrapper host (ADR 0116)
    p2p_listen_host: str = LOOPBACK
    p2p_announce_host: str = LOOPBACK
    database_prefix: str = "chainlink_node"
    workdir_root: str = "/chainlink"
    #: one OS user per node ("chainlink-N") unless set to a single shared name
    os_user_prefix: str = "chainlink"

    def node(self, index: int) -> NodeSpec:
        return NodeSpec(
            index=index,
            role="bootstrap" if index in self.bootstrap else "oracle",
            api_host=self.api_host,
            api_port=self.api_base_port + index,
            p2p_port=self.p2p_base_port + index,
            database=f"{self.database_prefix}_{index}",
            db_role=f"{self.database_prefix}_{index}",
            os_user=f"{self.os_user_prefix}-{index}",
            workdir=f"{self.workdir_root}/node-{index}",
        )

    def specs(self) -> tuple[NodeSpec, ...]:
        indices = self.nodes_list or tuple(range(1, self.total + 1))
        return tuple(self.node(i) for i in indices)


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int
    rpc_http_url: str
    rpc_ws_url: str
    node_name: str = "evm"
    gas_price_wei: int | None = None
    node_sc_address: str | None = None
    link_ca: str | None = None
    admin_contract_address: str | None = None
    diamond_contract_address: str | None = None


@dataclass(frozen=True)
class PostgresConfig:
    superuser: str = "postgres"
    #: legacy ``pgPassword`` of the reference; sealfeed generates per-role secrets instead
    password: Secret | None = None
    port: int = 5432
    #: unix socket only unless set (then TCP on ``host``)
    listen_tcp: bool = False
    host: str = LOOPBACK
    data_dir: str = "/sp/postgresql/data"
    socket_dir: str = "/run/postgresql"
    #: Chainlink ``Database.MaxOpenConns`` per node; sizes ``max_connections``
    max_open_conns_per_node: int = 20
    #: sizing hints; None = read the cgroup/proc limits at run time
    memory_limit_mb: int | None = None
    cpu_limit: float | None = None


@dataclass(frozen=True)
class FeedConfig:
    """One data feed published as an OCR2 median job on every oracle node."""

    name: str
    base: str
    quote: str
    sources: tuple[str, ...]
    contract_address: str
    decimals: int = 8
    #: 1: OCR1 ``offchainreporting`` job (AccessControlledOffchainAggregator); 2: OCR2
    ocr_version: int = 2


@dataclass(frozen=True)
class ChainlinkConfig:
    email: str
    password: Secret
    keystore_password: Secret
    feed_templates_dir: str | None = None
    set_config_batch_size: int = 10
    feeds: tuple[FeedConfig, ...] = ()
    faucet_private_key: Secret | None = None


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 3  # design §2.5 MAX_RESTARTS
    window_seconds: int = 300


@dataclass(frozen=True)
class ApplianceConfig:
    nodes: NodesConfig
    chain: ChainConfig
    postgres: PostgresConfig
    chainlink: ChainlinkConfig
    aggregator: AggregatorConfig
    exporter: ExporterConfig
    monitoring: MonitoringLabels = field(default_factory=MonitoringLabels)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    secrets_dir: str = "/sp/secrets"
    log_dir: str = "/var/log/sealfeed"
    #: the signed solution object exactly as loaded (without ``signature``) -- for hashing
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


__all__ = [
    "DEFAULT_AGGREGATOR_PORT",
    "DEFAULT_API_BASE_PORT",
    "DEFAULT_EXPORTER_PORT",
    "DEFAULT_P2P_BASE_PORT",
    "LOOPBACK",
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
]
