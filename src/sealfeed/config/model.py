"""Typed, validated configuration objects (the only shape services ever see) -- and the one
declaration of every configuration key.

The on-disk format is the reference's ``configuration.json`` (architecture §10, Super-Protocol/
chainlink ``scripts/configuration/configuration-schema.js``): the signed object lives under
``solution``; the price aggregator's YAML-derived settings under ``priceAggregatorConfig``;
everything sealfeed adds lives under one key, ``sealfeed``. Components receive sub-objects
(``AggregatorConfig``, ``ExporterConfig``, ...), never the raw dict.

Each field below declares, in ``field(metadata=key(...))``, the JSON key it is read from
(relative to its class's mount), its doc and its bounds; its default is the dataclass
default. :mod:`sealfeed.config.declare` derives the validating schema and the builder from
these declarations, :mod:`sealfeed.config.docs` derives docs/config.md; keys the model does
not carry are declared in ``JSON_EXTRA`` (``ignored``: reference compatibility). Only
cross-field rules are written by hand, in :mod:`sealfeed.config.schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from sealfeed.config.catalogue import BY_KEY, CONFIG_KEYS
from sealfeed.config.declare import Extra, ignored, key, map_key, mount
from sealfeed.config.spec import Node, b, i, n, obj, s
from sealfeed.secret import Secret

# Port bases from the architecture document §2.3/§3.1: node N listens on API 6600+N, P2P 9900+N.
DEFAULT_API_BASE_PORT = 6600
DEFAULT_P2P_BASE_PORT = 9900
DEFAULT_AGGREGATOR_PORT = 3000  # §4.1
DEFAULT_EXPORTER_PORT = 3003  # §4.1
LOOPBACK = "127.0.0.1"

ADDRESS = r"0x[0-9a-fA-F]{40}"
HTTP_URL = r"https?://.+"
WS_URL = r"wss?://.+"

# The declarations below are kept one key per line or two (table-like), not formatter-wrapped.
# fmt: off


@dataclass(frozen=True)
class BasicAuth:
    username: str = field(metadata=key("username", "Basic-auth user."))
    password: Secret = field(metadata=key("password", "Basic-auth password."))


def _push_kind_doc() -> str:
    return "from the URL: `victoriametrics` if it contains `/api/v1/import`, else `pushgateway`"


@dataclass(frozen=True)
class MetricsPushConfig:
    """Push of a prometheus-client registry (design §3.3.4, §3.4 "Push Mechanism").

    ``kind`` is ``pushgateway`` (``PUT /metrics/job/<job>/<label>/<value>...``) or
    ``victoriametrics`` (``POST /api/v1/import/prometheus?extra_label=k=v``); it is derived
    from the URL when not given (a path containing ``/api/v1/import`` means VictoriaMetrics).
    The reference's keys sit at the mount, sealfeed's additions (group ``ext``) may sit
    elsewhere (``sealfeed.aggregator.metricsPush`` for the aggregator).
    """

    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        ignored("batchSize", i("Samples per push batch (sealfeed pushes one body).", minimum=1,
                               default=100)),
    )  # fmt: skip

    enabled: bool = field(default=False, metadata=key(
        "enabled", "Push metrics at all (needs `url`)."))
    url: str | None = field(default=None, metadata=key(
        "url", "Pushgateway base URL, or a VictoriaMetrics /api/v1/import/prometheus URL.",
        pattern=HTTP_URL))
    kind: Literal["pushgateway", "victoriametrics"] = field(default="pushgateway", metadata=key(
        "kind", "Push protocol.", group="ext", default_doc=_push_kind_doc()))
    interval_ms: int = field(default=15_000, metadata=key(
        "intervalMs", "Push interval in ms.", minimum=1000))
    job_name: str = field(default="price-aggregator", metadata=key(
        "jobName", "Prometheus job label.", min_length=1))
    grouping_labels: Mapping[str, str] = field(default_factory=dict, metadata=key(
        "groupingLabels", "Extra grouping labels (service, instance, environment...)."))
    basic_auth: BasicAuth | None = field(default=None, metadata=key(
        "basicAuth", "Basic authentication for the push endpoint.", nullable=True))
    bearer_token: Secret | None = field(default=None, metadata=key(
        "bearerToken", "Bearer token for the push endpoint.", group="ext"))
    headers: Mapping[str, str] = field(default_factory=dict, metadata=key(
        "headers", "Extra HTTP headers."))
    timeout_ms: int = field(default=5_000, metadata=key(
        "timeoutMs", "Per-push HTTP timeout in ms.", minimum=100))
    #: TTL as label and query parameter, as the reference exporter sends it (design §3.4)
    ttl_seconds: int | None = field(default=3600, metadata=key(
        "ttlSeconds", "TTL sent as label and query parameter (design §3.4).", minimum=0,
        group="ext"))
    delete_on_shutdown: bool = field(default=False, metadata=key(
        "deleteOnShutdown", "Delete the pushed group on clean shutdown.", group="ext"))


@dataclass(frozen=True)
class StreamConfig:
    """WebSocket streaming settings of one source (reference ``sources.<name>.stream``)."""

    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        ignored("autoReconnect", b("sealfeed always reconnects.", default=True)),
        ignored("maxReconnectAttempts", i("sealfeed never gives up (ADR 0030).", minimum=0,
                                          maximum=100, default=10)),
    )  # fmt: skip

    #: always True when built from a configuration (a ``stream`` object means "stream")
    enabled: bool = True
    ws_url: str | None = field(default=None, metadata=key(
        "wsUrl", "WebSocket URL (default: the stream of the source's venue; see Sources).",
        pattern=WS_URL))
    heartbeat_interval_ms: int = field(default=30_000, metadata=key(
        "heartbeatInterval", "Heartbeat/ping interval in ms.", minimum=5000))
    #: subscriptions per subscribe message
    batch_size: int = field(default=50, metadata=key(
        "batchSize", "Pairs per subscribe/unsubscribe message.", minimum=1, maximum=500))
    #: minimum gap between two subscribe/unsubscribe messages
    rate_limit_ms: int = field(default=100, metadata=key(
        "rateLimit", "Minimum ms between subscription messages.", minimum=10, maximum=10000))
    #: no message for this long -> reconnect; built: max(60 s, 2 x heartbeat)
    unresponsive_timeout_ms: int = 60_000
    #: backoff starts here and doubles (with jitter) up to ``max_backoff_ms``; never gives up
    reconnect_interval_ms: int = field(default=1_000, metadata=key(
        "reconnectInterval", "First reconnect backoff in ms (doubles, with jitter, up to "
        "60 s; ADR 0030).", minimum=1000))
    max_backoff_ms: int = 60_000


def _source_absent(name: str) -> Mapping[str, Any]:
    # not configured: keyless sources run with their defaults, keyed ones stay off
    return {"enabled": not BY_KEY[name].requires_key}


@dataclass(frozen=True)
class SourceConfig:
    """One upstream price source (reference ``priceAggregatorConfig.sources.<name>``)."""

    name: str = field(metadata=map_key())
    enabled: bool = field(default=True, metadata=key("enabled", "Use this source."))
    base_url: str | None = field(default=None, metadata=key(
        "baseUrl", "REST base URL (default: the source's default venue; see Sources).",
        pattern=HTTP_URL))
    ttl_ms: int = field(default=300_000, metadata=key(  # design §3.3.1 default TTL
        "ttl", "Cache TTL of this source's prices in ms.", minimum=1000))
    timeout_ms: int = field(default=10_000, metadata=key(
        "timeoutMs", "Upstream request timeout in ms.", minimum=1000))
    #: requests/second; None = unlimited (``rps: null``). Built from a configuration, an
    #: absent ``rps`` is the catalogue default, so None always means "no limiter".
    rps: float | None = field(default=None, metadata=key(
        "rps", "Requests/second budget; `null`: unlimited (no rate limiter).",
        kind="num", minimum=0.0001, maximum=1000, nullable=True,
        default_doc="per source (see Sources)", item_default=lambda k: BY_KEY[k].rps))
    max_concurrent: int = field(default=10, metadata=key(
        "maxConcurrent", "Concurrent upstream requests.", minimum=1))
    api_key: Secret | None = field(default=None, metadata=key(
        "apiKey", "API key (sent only to sources that take one; see Sources).", min_length=1))
    #: False: direct; True: the global proxy; a string: this proxy URL
    use_proxy: bool | Secret = field(default=False, metadata=key(
        "useProxy", "false: direct; true: global proxy; or a proxy URL.", kind="boolorurl"))
    refetch: bool = field(default=True, metadata=key(
        "refetch", "Refresh tracked pairs before they expire."))
    stale_trigger_before_expiry_ms: int | None = field(default=None, metadata=key(
        "staleTriggerBeforeExpiry", "Override of refetch.staleTriggerBeforeExpiry (ms).",
        minimum=100, maximum=60_000))
    max_batch_size: int | None = field(default=None, metadata=key(
        "maxBatchSize", "Pairs per batched upstream call (used by sources whose call lists "
        "symbols or quote currencies; see Sources).", minimum=1, maximum=1000,
        default_doc="per source (see Sources)", item_default=lambda k: BY_KEY[k].max_batch_size))
    #: retries of a failed upstream call (jittered exponential backoff)
    max_retries: int = field(default=3, metadata=key(
        "maxRetries", "Retries with jittered exponential backoff.", minimum=0, maximum=10))
    stream: StreamConfig | None = field(default=None, metadata=key(
        "stream", "WebSocket streaming (sources with a stream; see Sources).", nullable=True))


@dataclass(frozen=True)
class RefetchConfig:
    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        ignored("failedPairsRetry", obj(
            {
                "enabled": b("Retry pairs that failed.", default=True),
                "maxAttempts": i("Attempts.", minimum=1, maximum=1000, default=50),
                "retryDelay": i("Delay (ms).", minimum=1000, maximum=3_600_000, default=10_000),
                "checkInterval": i("Check interval (ms).", minimum=5000, maximum=300_000,
                                   default=30_000),
            },
            doc="Retry of failed pairs (sealfeed backs off failed pairs on its own).",
        )),
    )  # fmt: skip

    enabled: bool = field(default=True, metadata=key(
        "enabled", "Background refresh before expiry."))
    stale_trigger_before_expiry_ms: int = field(default=5_000, metadata=key(  # design §3.3.1
        "staleTriggerBeforeExpiry", "Refresh this many ms before expiry.", minimum=100,
        maximum=60_000))
    batch_interval_ms: int = field(default=1_000, metadata=key(
        "batchInterval", "Coalescing window for refreshes (ms).", minimum=100, maximum=10_000))
    min_time_between_refreshes_ms: int = field(default=2_000, metadata=key(
        "minTimeBetweenRefreshes", "Minimum ms between refreshes of one pair.", minimum=100,
        maximum=60_000))


@dataclass(frozen=True)
class PairCleanupConfig:
    enabled: bool = field(default=True, metadata=key("enabled", "Drop pairs nobody asked for."))
    inactive_timeout_ms: int = field(default=600_000, metadata=key(  # design §3.3.1: 10 min
        "inactiveTimeoutMs", "Inactivity before a pair is dropped (ms).", minimum=10_000,
        maximum=86_400_000))
    cleanup_interval_ms: int = field(default=20_000, metadata=key(  # design §3.3.1: every 20 s
        "cleanupIntervalMs", "Cleanup period (ms).", minimum=1000, maximum=3_600_000))


@dataclass(frozen=True)
class PairTtl:
    base: str = field(metadata=key(
        "pair", "[base, quote]", kind="list", item=Node("str", min_length=1), minimum=2,
        maximum=2, part=0, convert=str.upper))
    quote: str = field(metadata=key("pair", "", part=1, convert=str.upper))
    ttl_ms: int = field(metadata=key("ttl", "TTL in ms.", minimum=1000))
    source: str | None = field(default=None, metadata=key(
        "source", "Only for this source (default: all).", choices=CONFIG_KEYS))


@dataclass(frozen=True)
class AggregatorConfig:
    JSON_OBJECTS: ClassVar[Mapping[str, str]] = {
        "priceAggregatorConfig.logger": "Logging.",
        "priceAggregatorConfig.quotes": "Quote requests.",
        "sealfeed.aggregator": "Aggregator additions.",
    }
    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        ignored("priceAggregatorConfig.logger.isPrettyEnabled",
                b("Pretty logs (sealfeed logs JSON lines off a TTY).", default=False)),
        ignored("priceAggregatorConfig.marketData", obj(
            {
                "coingeckoGlobal": obj(
                    {
                        "enabled": b("Fetch global market data.", default=True),
                        "refreshIntervalMs": i("Refresh (ms).", minimum=10_000, default=60_000),
                        "useProxy": b("Use the proxy.", default=False),
                    },
                    doc="CoinGecko global market data.",
                )
            },
            doc="Market data (not served by sealfeed).",
        )),
    )  # fmt: skip

    host: str = field(default=LOOPBACK, metadata=key("sealfeed.aggregator.host", "Bind address."))
    port: int = field(default=DEFAULT_AGGREGATOR_PORT, metadata=key(
        "priceAggregatorConfig.port", "HTTP port of the aggregator.", minimum=1, maximum=65535))
    environment: str = field(default="production", metadata=key(
        "priceAggregatorConfig.environment", "Environment name.",
        choices=("development", "production", "test")))
    pairs_file: str | None = field(default=None, metadata=key(
        "priceAggregatorConfig.pairsFilePath", "JSON file of pairs to preload at start."))
    proxy: Secret | None = field(default=None, metadata=key(
        "priceAggregatorConfig.proxy", "Global HTTP(S) proxy URL (may carry credentials).",
        pattern=HTTP_URL))
    #: every catalogue source, keyed by its configuration key, configured or not
    sources: Mapping[str, SourceConfig] = field(default_factory=dict, metadata=key(
        "priceAggregatorConfig.sources", "Per-source settings, keyed by source (see Sources).",
        keys=CONFIG_KEYS, placeholder="source", absent_item=_source_absent))
    refetch: RefetchConfig = field(default_factory=RefetchConfig, metadata=mount(
        "priceAggregatorConfig.refetch", doc="Cache refresh (design §3.3.1)."))
    pair_cleanup: PairCleanupConfig = field(default_factory=PairCleanupConfig, metadata=mount(
        "priceAggregatorConfig.pairCleanup", doc="Inactive pair cleanup (design §3.3.1)."))
    quotes_request_timeout_ms: int = field(default=10_000, metadata=key(
        "priceAggregatorConfig.quotes.requestTimeoutMs", "Quote request timeout (ms).",
        minimum=1000, maximum=60_000))
    pairs_ttl: tuple[PairTtl, ...] = field(default=(), metadata=key(
        "priceAggregatorConfig.pairsTtl", "Per-pair TTL overrides."))
    metrics_push: MetricsPushConfig = field(default_factory=MetricsPushConfig, metadata=mount(
        "priceAggregatorConfig.metricsPush", ext="sealfeed.aggregator.metricsPush",
        doc="Metrics push.", ext_doc="Push settings beyond the reference's."))
    log_level: str = field(default="info", metadata=key(
        "priceAggregatorConfig.logger.level", "Log level.",
        choices=("error", "warn", "info", "debug", "verbose")))
    #: ASGI server (see docs/adr for the measured choice)
    server: str = field(default="auto", metadata=key(
        "sealfeed.aggregator.server", "ASGI server.",
        choices=("auto", "hypercorn", "uvicorn", "granian")))


@dataclass(frozen=True)
class ExporterConfig:
    """Mounted at ``sealfeed.exporter``."""

    host: str = field(default=LOOPBACK, metadata=key("host", "Bind address."))
    port: int = field(default=DEFAULT_EXPORTER_PORT, metadata=key(
        "port", "HTTP port.", minimum=1, maximum=65535))
    interval_ms: int = field(default=5_000, metadata=key(  # design §10.4 PROCESS_METRICS_INTERVAL_MS
        "intervalMs", "Sampling interval (ms).", minimum=500))
    discovery_interval_ms: int = field(default=60_000, metadata=key(  # design §3.4
        "discoveryIntervalMs", "Service discovery refresh (ms).", minimum=1000))
    max_consecutive_failures: int = field(default=12, metadata=key(  # design §3.4 "exits after 12"
        "maxConsecutiveFailures", "Exit after this many failed samples.", minimum=1))
    push: MetricsPushConfig = field(
        default_factory=lambda: MetricsPushConfig(job_name="process-metrics", interval_ms=5_000),
        metadata=mount("metricsPush", ext="metricsPush", doc="Metrics push of the exporter."),
    )


@dataclass(frozen=True)
class MonitoringLabels:
    """Mounted at ``sealfeed.monitoring``."""

    instance: str = field(default="sealfeed", metadata=key(
        "instance", "instance label on every metric.", min_length=1))
    environment: str = field(default="production", metadata=key(
        "environment", "environment label on every metric.", min_length=1))


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


def _first_nodes(count: int) -> tuple[int, ...]:
    return tuple(range(1, count + 1))


@dataclass(frozen=True)
class NodesConfig:
    JSON_OBJECTS: ClassVar[Mapping[str, str]] = {"sealfeed.nodes": "Node layout."}

    total: int = field(metadata=key(
        "totalNodes", "Number of Chainlink nodes.", kind="intstr", minimum=1, maximum=64))
    bootstrap: tuple[int, ...] = field(default=(1,), metadata=key(
        "bootstrapNodes", "Number of bootstrap nodes (nodes 1..k).", kind="intstr", minimum=1,
        convert=_first_nodes, json_default=1))
    nodes_list: tuple[int, ...] = field(default=(), metadata=key(
        "nodesList", "Nodes to run.", kind="nodelist", default_doc="1..totalNodes"))
    primary: tuple[int, ...] = field(default=(), metadata=key(
        "primaryNodes", "Nodes in the OCR committee.", kind="nodelist", default_doc="nodesList"))
    bootstrap_addresses: tuple[str, ...] = field(default=(), metadata=key(
        "bootstrapNodeAddresses", "host:port of bootstrap peers.", kind="strlist"))
    api_host: str = field(default=LOOPBACK, metadata=key(
        "sealfeed.nodes.apiHost", "Bind address of the node APIs."))
    api_base_port: int = field(default=DEFAULT_API_BASE_PORT, metadata=key(
        "sealfeed.nodes.apiBasePort", "Node N's API port is this + N.", minimum=1, maximum=65000))
    p2p_base_port: int = field(default=DEFAULT_P2P_BASE_PORT, metadata=key(
        "sealfeed.nodes.p2pBasePort", "Node N's P2P port is this + N.", minimum=1, maximum=65000))
    #: P2P.V2.ListenAddresses host / AnnounceAddresses + bootstrapper host (ADR 0116)
    p2p_listen_host: str = field(default=LOOPBACK, metadata=key(
        "sealfeed.nodes.p2pListenHost",
        "P2P bind address of every node (P2P.V2.ListenAddresses).", min_length=1))
    p2p_announce_host: str = field(default=LOOPBACK, metadata=key(
        "sealfeed.nodes.p2pAnnounceHost",
        "Address peers dial: P2P.V2.AnnounceAddresses and the bootstrappers (a deployment "
        "across VMs sets it).", min_length=1))
    database_prefix: str = field(default="chainlink_node", metadata=key(
        "pgDatabase", "Database name prefix: node N uses <prefix>_N.", min_length=1,
        pattern=r"[a-z_][a-z0-9_]{0,40}"))
    workdir_root: str = field(default="/chainlink", metadata=key(
        "sealfeed.nodes.workdirRoot", "Node N works in <root>/node-N."))
    #: one OS user per node ("chainlink-N") unless set to a single shared name
    os_user_prefix: str = field(default="chainlink", metadata=key(
        "sealfeed.nodes.osUserPrefix", "Node N runs as user <prefix>-N.",
        pattern=r"[a-z_][a-z0-9_-]{0,20}"))

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
    chain_id: int = field(metadata=key("chainlinkChainId", "EVM chain id.", minimum=1))
    rpc_http_url: str = field(metadata=key(
        "chainlinkRpcHttpUrl", "RPC HTTP URL.", pattern=HTTP_URL))
    rpc_ws_url: str = field(metadata=key("chainlinkRpcWsUrl", "RPC WebSocket URL.", pattern=WS_URL))
    node_name: str = field(default="evm", metadata=key(
        "chainlinkNodeName", "EVM node name.", min_length=1))
    gas_price_wei: int | None = field(default=None, metadata=key(
        "chainlinkGasPrice", "Gas price (wei).", kind="num", minimum=0, convert=int))
    node_sc_address: str | None = field(default=None, metadata=key(
        "chainlinkNodeScAddress", "Node smart contract address.", pattern=ADDRESS))
    link_ca: str | None = field(default=None, metadata=key(
        "linkCa", "LINK token address.", pattern=ADDRESS))
    admin_contract_address: str | None = field(default=None, metadata=key(
        "adminContractAddress", "Admin contract address.", pattern=ADDRESS))
    diamond_contract_address: str | None = field(default=None, metadata=key(
        "diamondContractAddress", "Diamond contract address.", pattern=ADDRESS))


@dataclass(frozen=True)
class PostgresConfig:
    JSON_OBJECTS: ClassVar[Mapping[str, str]] = {"sealfeed.postgres": "PostgreSQL."}

    superuser: str = field(default="postgres", metadata=key(
        "pgUser", "PostgreSQL superuser.", min_length=1))
    #: legacy ``pgPassword`` of the reference; sealfeed generates per-role secrets instead
    password: Secret | None = field(default=None, metadata=key(
        "pgPassword", "Legacy shared DB password (sealfeed uses per-node secrets).",
        min_length=1))
    port: int = field(default=5432, metadata=key(
        "pgPort", "PostgreSQL port.", minimum=1, maximum=65535))
    #: unix socket only unless set (then TCP on ``host``)
    listen_tcp: bool = field(default=False, metadata=key(
        "sealfeed.postgres.listenTcp", "Also listen on TCP (default: unix socket only)."))
    host: str = field(default=LOOPBACK, metadata=key(
        "sealfeed.postgres.host", "TCP bind address when listenTcp."))
    data_dir: str = field(default="/sp/postgresql/data", metadata=key(
        "sealfeed.postgres.dataDir", "Cluster data directory."))
    socket_dir: str = field(default="/run/postgresql", metadata=key(
        "sealfeed.postgres.socketDir", "Unix socket directory."))
    #: Chainlink ``Database.MaxOpenConns`` per node; sizes ``max_connections``
    max_open_conns_per_node: int = field(default=20, metadata=key(
        "sealfeed.postgres.maxOpenConnsPerNode", "Chainlink Database.MaxOpenConns per node.",
        minimum=1, maximum=1000))
    #: sizing hints; None = read the cgroup/proc limits at run time
    memory_limit_mb: int | None = field(default=None, metadata=key(
        "sealfeed.postgres.memoryLimitMb", "Memory to size for (default: cgroup limit).",
        minimum=256))
    cpu_limit: float | None = field(default=None, metadata=key(
        "sealfeed.postgres.cpuLimit", "CPUs to size for (default: cgroup limit).", minimum=0.1))


@dataclass(frozen=True)
class FeedConfig:
    """One data feed published as an OCR median job (OCR1 or OCR2, per ``ocr_version``) on every oracle node."""

    name: str = field(metadata=key("name", "Feed name, e.g. BTC/USD.", min_length=1))
    base: str = field(metadata=key("base", "Base symbol.", min_length=1, convert=str.upper))
    quote: str = field(metadata=key("quote", "Quote symbol.", min_length=1, convert=str.upper))
    sources: tuple[str, ...] = field(metadata=key(
        "sources", "Sources to take the median of.", kind="strlist"))
    contract_address: str = field(metadata=key(
        "contractAddress", "Feed aggregator contract.", pattern=ADDRESS))
    decimals: int = field(default=8, metadata=key(
        "decimals", "Answer decimals.", minimum=0, maximum=36))
    #: 1: OCR1 ``offchainreporting`` job (AccessControlledOffchainAggregator); 2: OCR2
    ocr_version: int = field(default=2, metadata=key(
        "ocrVersion", "OCR version of the feed's contract: 1 (OCR1 "
        "AccessControlledOffchainAggregator, as the reference deploys) or 2 (OCR2).",
        minimum=1, maximum=2))


@dataclass(frozen=True)
class ChainlinkConfig:
    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        ignored("balanceTopupCheckIntervalMs", i("Top-up check interval (ms).", minimum=5000)),
        ignored("faucetMinWei", n("Top-up threshold (wei).", minimum=1)),
        ignored("faucetTopupWei", n("Top-up amount (wei).", minimum=1)),
        ignored("balanceTopupRequired", b("Fail fast on top-up failures.")),
    )  # fmt: skip

    email: str = field(metadata=key("chainlinkEmail", "Chainlink API user (email).", min_length=1))
    password: Secret = field(metadata=key(
        "chainlinkPassword", "Chainlink API password (>15 chars).", min_length=16))
    keystore_password: Secret = field(metadata=key(
        "chainlinkKeystorePassword", "Chainlink keystore password (>15 chars).", min_length=16))
    feed_templates_dir: str | None = field(default=None, metadata=key(
        "chainlinkFeedTemplatesDir", "Reference job templates dir.", min_length=1))
    set_config_batch_size: int = field(default=10, metadata=key(
        "setConfigBatchSize", "Feeds per setConfig batch.", minimum=1))
    feeds: tuple[FeedConfig, ...] = field(default=(), metadata=key(
        "sealfeed.feeds", "Data feeds published as OCR1 or OCR2 jobs (ocrVersion)."))
    faucet_private_key: Secret | None = field(default=None, metadata=key(
        "faucetPrivateKey", "Faucet key (hex).", min_length=64))


#: a VM name of ``sealfeed.placement`` (as the link's names: what peers see and list)
VM_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
#: ``host:port`` (IPv6 literal as ``[addr]:port``); the port range is a placement rule
HOST_PORT = r"(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]/@]+):[0-9]{1,5}"
#: a register value of the measurements allow-list: SHA-384 (TDX) or SHA-256 (vTPM PCR)
MEASUREMENT_HEX = r"[0-9a-fA-F]{96}|[0-9a-fA-F]{64}"
#: register indices of cvm-reverse-proxy entries: dcap-tdx 0..4, azure-tdx vTPM PCRs 0..23
REGISTER_INDICES = tuple(str(i) for i in range(24))


@dataclass(frozen=True)
class PlacementEntry:
    """One VM of a DON that spans several confidential VMs (``sealfeed.placement[]``,
    ADR 0140): its name, the nodes it runs and where its attested link listener is."""

    name: str = field(metadata=key(
        "name", "VM name; each VM is told its own at deploy time (`sealfeed up --vm`, env "
        "SEALFEED_VM, or the order input file `sealfeed-vm`; docs/deploy-super-protocol.md).",
        pattern=VM_NAME))
    nodes: tuple[int, ...] = field(metadata=key(
        "nodes", "The nodes this VM runs (each node of the DON on exactly one VM).",
        kind="nodelist"))
    address: str = field(metadata=key(
        "address", "host:port where the other VMs reach this VM's attested link listener.",
        pattern=HOST_PORT))
    listen: str | None = field(default=None, metadata=key(
        "listen", "Bind address of the link listener (e.g. `0.0.0.0:7400` behind NAT).",
        pattern=HOST_PORT, default_doc="address"))


@dataclass(frozen=True)
class MeasurementValue:
    expected: str = field(metadata=key(
        "expected", "Register value, hex.", pattern=MEASUREMENT_HEX))
    #: cvm-reverse-proxy's flag; sealfeed enforces the value anyway (ADR 0122)
    warn_only: bool = field(default=False, metadata=key(
        "warnOnly", "Accepted for compatibility; enforced like every value (ADR 0122)."))


@dataclass(frozen=True)
class AllowedMeasurement:
    """One allowed TD in the measurements JSON of flashbots/cvm-reverse-proxy."""

    measurement_id: str = field(metadata=key(
        "measurement_id", "Name of the entry (reported for every admitted peer).", min_length=1))
    attestation_type: str = field(default="dcap-tdx", metadata=key(
        "attestation_type", "`dcap-tdx` (others are kept but never match a DCAP quote).",
        min_length=1))
    measurements: Mapping[str, MeasurementValue] = field(default_factory=dict, metadata=key(
        "measurements", "Register index -> value; dcap-tdx: 0 = MRTD, 1..4 = RTMR0..RTMR3.",
        keys=REGISTER_INDICES, placeholder="index"))


@dataclass(frozen=True)
class LinkCollateralConfig:
    """Where the link gets Intel's collateral for peers' quotes (ADR 0141)."""

    pccs_url: str | None = field(default=None, metadata=key(
        "pccsUrl", "Intel PCS or a PCCS to fetch collateral from (per FMSPC, cached).",
        pattern=HTTP_URL, default_doc="Intel PCS, https://api.trustedservices.intel.com"))
    file: str | None = field(default=None, metadata=key(
        "file", "A collateral JSON file inside the VM instead of pccsUrl (offline; re-read "
        "on refresh).", min_length=1))
    root_crl_url: str | None = field(default=None, metadata=key(
        "rootCrlUrl", "Root CA CRL URL for a PCCS without one.", pattern=HTTP_URL))
    refresh_seconds: int = field(default=3600, metadata=key(
        "refreshSeconds", "Collateral refresh period (s); a change re-verifies every peer.",
        minimum=60))
    #: empty: Intel's SGX Root CA (sealfeed.attest.trust)
    root_ca_fingerprints: tuple[str, ...] = field(default=(), metadata=key(
        "rootCaFingerprints", "SHA-256 fingerprints of the root CA(s) collateral and PCK "
        "chains must chain to.", kind="strlist", default_doc="Intel SGX Root CA"))


@dataclass(frozen=True)
class LinkConfig:
    """Mounted at ``sealfeed.link``: who a VM admits as a peer and how often it re-checks
    (docs/link.md; used only with several ``sealfeed.placement`` entries)."""

    measurements: tuple[AllowedMeasurement, ...] = field(default=(), metadata=key(
        "measurements", "The allowed TDs of peer VMs (the measurements JSON of "
        "flashbots/cvm-reverse-proxy); required with several placement entries."))
    accepted_tcb_statuses: tuple[str, ...] = field(default=("UpToDate",), metadata=key(
        "acceptedTcbStatuses", "TCB statuses a peer's platform may have.", kind="strlist"))
    allowed_advisory_ids: tuple[str, ...] = field(default=(), metadata=key(
        "allowedAdvisoryIds", "Intel advisories (INTEL-SA-...) tolerated with a non-UpToDate "
        "status.", kind="strlist"))
    collateral: LinkCollateralConfig = field(default_factory=LinkCollateralConfig,
                                             metadata=mount("collateral", doc="Quote collateral."))
    reattest_seconds: int = field(default=300, metadata=key(
        "reattestSeconds", "Identity rotation and in-tunnel re-attestation period (s).",
        minimum=1))
    probe_seconds: float | None = field(default=None, metadata=key(
        "probeSeconds", "How often every peer is dialled and verified (s).", kind="num",
        minimum=0.1, default_doc="min(30, reattestSeconds)"))
    handshake_timeout_seconds: float = field(default=10.0, metadata=key(
        "handshakeTimeoutSeconds", "Per handshake and re-attestation answer (s).", kind="num",
        minimum=0.1))
    max_quote_age_seconds: int | None = field(default=None, metadata=key(
        "maxQuoteAgeSeconds", "A peer identity older than this is refused as stale (s).",
        minimum=1, default_doc="2 x reattestSeconds + 60"))


@dataclass(frozen=True)
class RestartPolicy:
    JSON_OBJECTS: ClassVar[Mapping[str, str]] = {
        "sealfeed.restart": "Restart budget (maxRestarts is the reference's top-level key).",
    }

    max_restarts: int = field(default=3, metadata=key(  # design §2.5 MAX_RESTARTS
        "maxRestarts", "Restarts allowed per service within the window.", minimum=1))
    window_seconds: int = field(default=300, metadata=key(
        "sealfeed.restart.windowSeconds", "Sliding window of the restart budget (s).", minimum=1))


@dataclass(frozen=True)
class ApplianceConfig:
    """The whole solution object (mounted at the root of ``configuration.json``)."""

    JSON_OBJECTS: ClassVar[Mapping[str, str]] = {
        "priceAggregatorConfig": "Price aggregator (the reference's price-aggregator YAML, "
        "as JSON).",
        "sealfeed": "Everything sealfeed adds to the reference format.",
    }
    JSON_EXTRA: ClassVar[tuple[Extra, ...]] = (
        Extra("signature", s("Reference-scheme signature (base64 DER ECDSA secp256k1).",
                             min_length=1), "signature"),
        Extra("sealfeedSignature", obj(
            {
                "scheme": s("ed25519-jcs", required=True, choices=("ed25519-jcs",)),
                "keyId": s("Key id of the signing key.", required=True),
                "digest": s("sha256 of the signed JCS bytes.", required=True),
                "signature": s("Ed25519 signature, base64.", required=True),
            },
            doc="Embedded ed25519-jcs signature (for platforms that deliver one file).",
            nullable=True,
            default=None,
        ), "signature"),
    )  # fmt: skip

    nodes: NodesConfig = field(metadata=mount())
    chain: ChainConfig = field(metadata=mount())
    postgres: PostgresConfig = field(metadata=mount())
    chainlink: ChainlinkConfig = field(metadata=mount())
    aggregator: AggregatorConfig = field(metadata=mount())
    exporter: ExporterConfig = field(metadata=mount(
        "sealfeed.exporter", doc="Process-metrics exporter."))
    monitoring: MonitoringLabels = field(default_factory=MonitoringLabels, metadata=mount(
        "sealfeed.monitoring", doc="Labels."))
    restart: RestartPolicy = field(default_factory=RestartPolicy, metadata=mount())
    #: several entries: the DON spans VMs (ADR 0140); empty: every node in one VM
    placement: tuple[PlacementEntry, ...] = field(default=(), metadata=key(
        "sealfeed.placement", "Which VM runs which nodes and where its attested link listens "
        "(one DON over several VMs; docs/link.md). Absent: every node in one VM."))
    link: LinkConfig = field(default_factory=LinkConfig, metadata=mount(
        "sealfeed.link", doc="Attested links between the VMs of a placement (docs/link.md)."))
    secrets_dir: str = field(default="/sp/secrets", metadata=key(
        "spSecretsDir", "Secrets directory.", min_length=1))
    log_dir: str = field(default="/var/log/sealfeed", metadata=key(
        "sealfeed.logDir", "Log directory."))
    #: the signed solution object exactly as loaded (without ``signature``) -- for hashing
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the placement entry this view is for (deploy-time, NOT part of the signed
    #: configuration: :func:`sealfeed.config.placement.local_view`); None = the whole DON
    vm: str | None = None


# fmt: on
__all__ = [
    "ADDRESS",
    "DEFAULT_AGGREGATOR_PORT",
    "DEFAULT_API_BASE_PORT",
    "DEFAULT_EXPORTER_PORT",
    "DEFAULT_P2P_BASE_PORT",
    "HOST_PORT",
    "HTTP_URL",
    "LOOPBACK",
    "MEASUREMENT_HEX",
    "REGISTER_INDICES",
    "VM_NAME",
    "WS_URL",
    "AggregatorConfig",
    "AllowedMeasurement",
    "ApplianceConfig",
    "BasicAuth",
    "ChainConfig",
    "ChainlinkConfig",
    "ExporterConfig",
    "FeedConfig",
    "LinkCollateralConfig",
    "LinkConfig",
    "MeasurementValue",
    "MetricsPushConfig",
    "MonitoringLabels",
    "NodeSpec",
    "NodesConfig",
    "PairCleanupConfig",
    "PairTtl",
    "PlacementEntry",
    "PostgresConfig",
    "RefetchConfig",
    "RestartPolicy",
    "SourceConfig",
    "StreamConfig",
]
