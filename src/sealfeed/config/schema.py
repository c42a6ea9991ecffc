"""The schema of ``configuration.json`` and its translation into :mod:`sealfeed.config.model`.

Compatibility: every key of the reference's solution schema (Super-Protocol/chainlink
``scripts/configuration/configuration-schema.js``) and of its price-aggregator YAML schema
(``price-aggregator/src/config/schema/*.schema.ts``, carried as ``priceAggregatorConfig``) is
accepted with the reference's types and bounds, so existing signed files load unchanged
(``"totalNodes": "5"`` included). Everything sealfeed adds lives under the ``sealfeed`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from sealfeed.config import model as m
from sealfeed.config.spec import Node, Problem, SecretRef, b, i, n, obj, s, secret, validate
from sealfeed.errors import InputError
from sealfeed.secret import Secret

ADDRESS = r"0x[0-9a-fA-F]{40}"
HTTP_URL = r"https?://.+"
WS_URL = r"wss?://.+"

#: The 13 REST sources of design §3.3.2 with the reference's per-source defaults:
#: (rps, maxBatchSize, API key required, default base URL).
SOURCES: dict[str, tuple[float | None, int | None, bool]] = {
    "binance": (100, 500, False),
    "okx": (10, 200, False),
    "coingecko": (1, 100, False),
    "kraken": (1, 50, False),
    "coinbase": (2.8, None, False),
    "cryptocompare": (25, 50, True),
    "finnhub": (1, None, True),
    "alphavantage": (1, None, True),
    "exchangeratehost": (1, None, False),
    "frankfurter": (10, None, False),
    "yahoofinance": (10, None, False),
    "kucoin": (30, None, False),
    "bybit": (120, None, False),
}
STREAMING_SOURCES = ("binance", "okx", "kraken", "coinbase", "cryptocompare", "finnhub")


def _push_fields(job: str, interval: int) -> dict[str, Node]:
    return {
        "enabled": b("Push metrics at all.", default=False),
        "url": s(
            "Pushgateway base URL, or a VictoriaMetrics /api/v1/import/prometheus URL.",
            pattern=HTTP_URL,
        ),
        "intervalMs": i("Push interval in ms.", minimum=1000, default=interval),
        "jobName": s("Prometheus job label.", min_length=1, default=job),
        "groupingLabels": Node(
            "map", doc="Extra grouping labels (service, instance, environment...).",
            item=s("label value"), default={},
        ),
        "basicAuth": obj(
            {
                "username": s("Basic-auth user.", required=True),
                "password": secret("Basic-auth password.", required=True),
            },
            doc="Basic authentication for the push endpoint.",
            nullable=True,
            default=None,
        ),
        "headers": Node("map", doc="Extra HTTP headers.", item=s("header value"), default={}),
        "timeoutMs": i("Per-push HTTP timeout in ms.", minimum=100, default=5000),
        "batchSize": i("Reference compatibility; samples per push batch.", minimum=1, default=100),
    }  # fmt: skip


def _push_extras() -> dict[str, Node]:
    return {
        "kind": s(
            "pushgateway or victoriametrics; derived from the URL when absent.",
            choices=("pushgateway", "victoriametrics"),
        ),
        "ttlSeconds": i("TTL sent as label and query parameter (design §3.4).", minimum=0),
        "bearerToken": secret("Bearer token for the push endpoint."),
        "deleteOnShutdown": b("Delete the pushed group on clean shutdown.", default=False),
    }


_STREAM = obj(
    {
        "autoReconnect": b("Reference compatibility (sealfeed always reconnects).", default=True),
        "reconnectInterval": i("First reconnect backoff in ms.", minimum=1000, default=5000),
        "maxReconnectAttempts": i(
            "Reference compatibility; ignored: sealfeed never gives up.", minimum=0, maximum=100,
            default=10,
        ),
        "heartbeatInterval": i("Heartbeat/ping interval in ms.", minimum=5000, default=30000),
        "wsUrl": s("WebSocket URL (default: the exchange's public stream).", pattern=WS_URL),
        "batchSize": i("Pairs per subscribe/unsubscribe message.", minimum=1, maximum=500),
        "rateLimit": i("Minimum ms between subscription messages.", minimum=10, maximum=10000),
    },
    doc="WebSocket streaming (Binance, OKX, Kraken, Coinbase, CryptoCompare, Finnhub).",
    nullable=True,
    default=None,
)  # fmt: skip


def _sources_rule(sources: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name, v in sources.items():
        # Reference sources.schema.ts Decode(): an enabled keyed source needs its API key.
        if SOURCES[name][2] and v.get("enabled") and v.get("apiKey") is None:
            problems.append((f"{name}.apiKey", f"is required when source {name} is enabled"))
        if v.get("stream") is not None and name not in STREAMING_SOURCES:
            only = ", ".join(STREAMING_SOURCES)
            problems.append((f"{name}.stream", f"{name} has no streaming API (only {only})"))
    return problems


_SOURCE = obj(
    {
        "enabled": b("Use this source.", default=True),
        "apiKey": secret("API key.", min_length=1),
        "ttl": i("Cache TTL of this source's prices in ms.", minimum=1000, default=300_000),
        "maxConcurrent": i("Concurrent upstream requests.", minimum=1, default=10),
        "timeoutMs": i("Upstream request timeout in ms.", minimum=1000, default=10_000),
        "rps": n("Requests/second budget (null: unlimited).", minimum=0.0001, maximum=1000,
                 nullable=True),
        "useProxy": Node("boolorurl", doc="false: direct; true: global proxy; or a proxy URL.",
                         default=False),
        "maxRetries": i("Retries with jittered exponential backoff.", minimum=0, maximum=10,
                        default=3),
        "refetch": b("Refresh tracked pairs before they expire.", default=True),
        "staleTriggerBeforeExpiry": i("Override of refetch.staleTriggerBeforeExpiry (ms).",
                                      minimum=100, maximum=60_000),
        "stream": _STREAM,
        "baseUrl": s("REST base URL (default: the exchange's public API).", pattern=HTTP_URL),
        "maxBatchSize": i("Pairs per batched upstream call.", minimum=1, maximum=1000),
    },
    doc="One price source.",
)  # fmt: skip

PRICE_AGGREGATOR = obj(
    {
        "port": i("HTTP port of the aggregator.", minimum=1, maximum=65535,
                  default=m.DEFAULT_AGGREGATOR_PORT),
        "environment": s("Environment name.", choices=("development", "production", "test"),
                         default="production"),
        "pairsFilePath": s("JSON file of pairs to preload at start."),
        "logger": obj(
            {
                "level": s("Log level.", choices=("error", "warn", "info", "debug", "verbose"),
                           default="info"),
                "isPrettyEnabled": b("Reference compatibility (ignored).", default=False),
            },
            doc="Logging.",
        ),
        "metricsPush": obj(_push_fields("price-aggregator", 15_000), doc="Metrics push."),
        "sources": Node(
            "map", doc="Per-source settings, keyed by source name.", item=_SOURCE,
            keys=tuple(SOURCES), default={}, rule=_sources_rule,
        ),
        "proxy": secret("Global HTTP(S) proxy URL (may carry credentials).", pattern=HTTP_URL),
        "refetch": obj(
            {
                "enabled": b("Background refresh before expiry.", default=True),
                "staleTriggerBeforeExpiry": i("Refresh this many ms before expiry.",
                                              minimum=100, maximum=60_000, default=5000),
                "batchInterval": i("Coalescing window for refreshes (ms).", minimum=100,
                                   maximum=10_000, default=1000),
                "minTimeBetweenRefreshes": i("Minimum ms between refreshes of one pair.",
                                             minimum=100, maximum=60_000, default=2000),
                "failedPairsRetry": obj(
                    {
                        "enabled": b("Retry pairs that failed.", default=True),
                        "maxAttempts": i("Attempts.", minimum=1, maximum=1000, default=50),
                        "retryDelay": i("Delay (ms).", minimum=1000, maximum=3_600_000,
                                        default=10_000),
                        "checkInterval": i("Check interval (ms).", minimum=5000,
                                           maximum=300_000, default=30_000),
                    },
                    doc="Reference compatibility: retry of failed pairs.",
                ),
            },
            doc="Cache refresh (design §3.3.1).",
        ),
        "quotes": obj(
            {"requestTimeoutMs": i("Quote request timeout (ms).", minimum=1000, maximum=60_000,
                                   default=10_000)},
            doc="Quote requests.",
        ),
        "pairCleanup": obj(
            {
                "enabled": b("Drop pairs nobody asked for.", default=True),
                "inactiveTimeoutMs": i("Inactivity before a pair is dropped (ms).",
                                       minimum=10_000, maximum=86_400_000, default=600_000),
                "cleanupIntervalMs": i("Cleanup period (ms).", minimum=1000,
                                       maximum=3_600_000, default=20_000),
            },
            doc="Inactive pair cleanup (design §3.3.1).",
        ),
        "pairsTtl": Node(
            "list", doc="Per-pair TTL overrides.", default=(),
            item=obj(
                {
                    "pair": Node("list", doc="[base, quote]", item=s("symbol", min_length=1),
                                 minimum=2, maximum=2, required=True),
                    "source": s("Only for this source (default: all).", choices=tuple(SOURCES)),
                    "ttl": i("TTL in ms.", minimum=1000, required=True),
                },
                doc="One TTL override.",
            ),
        ),
        "marketData": obj(
            {
                "coingeckoGlobal": obj(
                    {
                        "enabled": b("Fetch global market data.", default=True),
                        "refreshIntervalMs": i("Refresh (ms).", minimum=10_000, default=60_000),
                        "useProxy": b("Use the proxy.", default=False),
                    },
                    doc="Reference compatibility: CoinGecko global market data.",
                )
            },
            doc="Reference compatibility.",
        ),
    },
    doc="Price aggregator (the reference's price-aggregator YAML, as JSON).",
)  # fmt: skip

SEALFEED = obj(
    {
        "nodes": obj(
            {
                "apiHost": s("Bind address of the node APIs.", default=m.LOOPBACK),
                "apiBasePort": i("Node N's API port is this + N.", minimum=1, maximum=65000,
                                 default=m.DEFAULT_API_BASE_PORT),
                "p2pBasePort": i("Node N's P2P port is this + N.", minimum=1, maximum=65000,
                                 default=m.DEFAULT_P2P_BASE_PORT),
                "p2pListenHost": s("P2P bind address of every node (P2P.V2.ListenAddresses).",
                                   default=m.LOOPBACK, min_length=1),
                "p2pAnnounceHost": s("Address peers dial: P2P.V2.AnnounceAddresses and the "
                                     "bootstrappers (a deployment across VMs sets it).",
                                     default=m.LOOPBACK, min_length=1),
                "workdirRoot": s("Node N works in <root>/node-N.", default="/chainlink"),
                "osUserPrefix": s("Node N runs as user <prefix>-N.", default="chainlink",
                                  pattern=r"[a-z_][a-z0-9_-]{0,20}"),
            },
            doc="Node layout.",
        ),
        "postgres": obj(
            {
                "listenTcp": b("Also listen on TCP (default: unix socket only).", default=False),
                "host": s("TCP bind address when listenTcp.", default=m.LOOPBACK),
                "dataDir": s("Cluster data directory.", default="/sp/postgresql/data"),
                "socketDir": s("Unix socket directory.", default="/run/postgresql"),
                "maxOpenConnsPerNode": i("Chainlink Database.MaxOpenConns per node.", minimum=1,
                                         maximum=1000, default=20),
                "memoryLimitMb": i("Memory to size for (default: cgroup limit).", minimum=256),
                "cpuLimit": n("CPUs to size for (default: cgroup limit).", minimum=0.1),
            },
            doc="PostgreSQL.",
        ),
        "aggregator": obj(
            {
                "host": s("Bind address.", default=m.LOOPBACK),
                "server": s("ASGI server.", choices=("auto", "hypercorn", "uvicorn", "granian"),
                            default="auto"),
                "metricsPush": obj(_push_extras(), doc="Push settings beyond the reference's."),
            },
            doc="Aggregator additions.",
        ),
        "exporter": obj(
            {
                "host": s("Bind address.", default=m.LOOPBACK),
                "port": i("HTTP port.", minimum=1, maximum=65535,
                          default=m.DEFAULT_EXPORTER_PORT),
                "intervalMs": i("Sampling interval (ms).", minimum=500, default=5000),
                "discoveryIntervalMs": i("Service discovery refresh (ms).", minimum=1000,
                                         default=60_000),
                "maxConsecutiveFailures": i("Exit after this many failed samples.", minimum=1,
                                            default=12),
                "metricsPush": obj(
                    {**_push_fields("process-metrics", 5000), **_push_extras()},
                    doc="Metrics push of the exporter.",
                ),
            },
            doc="Process-metrics exporter.",
        ),
        "monitoring": obj(
            {
                "instance": s("instance label on every metric.", default="sealfeed",
                              min_length=1),
                "environment": s("environment label on every metric.", default="production",
                                 min_length=1),
            },
            doc="Labels.",
        ),
        "restart": obj(
            {"windowSeconds": i("Sliding window of the restart budget (s).", minimum=1,
                                default=300)},
            doc="Restart budget (maxRestarts is the reference's top-level key).",
        ),
        "feeds": Node(
            "list", doc="Data feeds published as OCR2 jobs.", default=(),
            item=obj(
                {
                    "name": s("Feed name, e.g. BTC/USD.", required=True, min_length=1),
                    "base": s("Base symbol.", required=True, min_length=1),
                    "quote": s("Quote symbol.", required=True, min_length=1),
                    "sources": Node("strlist", doc="Sources to take the median of.",
                                    required=True),
                    "contractAddress": s("Feed aggregator contract.", required=True,
                                         pattern=ADDRESS),
                    "decimals": i("Answer decimals.", minimum=0, maximum=36, default=8),
                    "ocrVersion": i("OCR version of the feed's contract: 1 (OCR1 "
                                    "AccessControlledOffchainAggregator, as the reference "
                                    "deploys) or 2 (OCR2).", minimum=1, maximum=2, default=2),
                },
                doc="One feed.",
            ),
        ),
        "logDir": s("Log directory.", default="/var/log/sealfeed"),
    },
    doc="Everything sealfeed adds to the reference format.",
)  # fmt: skip


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
    for k, feed in enumerate(((v.get("sealfeed") or {}).get("feeds")) or ()):
        for src in feed.get("sources") or ():
            if src not in SOURCES:
                problems.append((f"sealfeed.feeds[{k}].sources", f"unknown source {src!r}"))
    return problems


SOLUTION = obj(
    {
        "pgUser": s("PostgreSQL superuser.", min_length=1, default="postgres"),
        "pgPassword": secret("Legacy shared DB password (sealfeed uses per-node secrets).",
                             min_length=1),
        "pgDatabase": s("Database name prefix: node N uses <prefix>_N.", min_length=1,
                        default="chainlink_node", pattern=r"[a-z_][a-z0-9_]{0,40}"),
        "pgPort": i("PostgreSQL port.", minimum=1, maximum=65535, default=5432),
        "chainlinkEmail": s("Chainlink API user (email).", required=True, min_length=1),
        "chainlinkPassword": secret("Chainlink API password (>15 chars).", required=True,
                                    min_length=16),
        "maxRestarts": i("Restarts allowed per service within the window.", minimum=1, default=3),
        "setConfigBatchSize": i("Feeds per setConfig batch.", minimum=1, default=10),
        "chainlinkKeystorePassword": secret("Chainlink keystore password (>15 chars).",
                                            required=True, min_length=16),
        "chainlinkChainId": i("EVM chain id.", minimum=1, required=True),
        "chainlinkNodeName": s("EVM node name.", min_length=1, default="evm"),
        "chainlinkRpcWsUrl": s("RPC WebSocket URL.", required=True, pattern=WS_URL),
        "chainlinkRpcHttpUrl": s("RPC HTTP URL.", required=True, pattern=HTTP_URL),
        "chainlinkGasPrice": n("Gas price (wei).", minimum=0),
        "chainlinkNodeScAddress": s("Node smart contract address.", pattern=ADDRESS),
        "spSecretsDir": s("Secrets directory.", min_length=1, default="/sp/secrets"),
        "totalNodes": Node("intstr", doc="Number of Chainlink nodes.", required=True, minimum=1,
                           maximum=64),
        "bootstrapNodes": Node("intstr", doc="Number of bootstrap nodes (nodes 1..k).",
                               minimum=1, default=1),
        "nodesList": Node("nodelist", doc="Nodes to run (default: 1..totalNodes)."),
        "primaryNodes": Node("nodelist", doc="Nodes in the OCR committee (default: nodesList)."),
        "bootstrapNodeAddresses": Node("strlist", doc="host:port of bootstrap peers."),
        "linkCa": s("LINK token address.", pattern=ADDRESS),
        "signature": s("Reference-scheme signature (base64 DER ECDSA secp256k1).",
                       min_length=1),
        "sealfeedSignature": obj(
            {
                "scheme": s("ed25519-jcs", required=True, choices=("ed25519-jcs",)),
                "keyId": s("Key id of the signing key.", required=True),
                "digest": s("sha256 of the signed JCS bytes.", required=True),
                "signature": s("Ed25519 signature, base64.", required=True),
            },
            doc="Embedded ed25519-jcs signature (for platforms that deliver one file).",
            nullable=True,
            default=None,
        ),
        "adminContractAddress": s("Admin contract address.", pattern=ADDRESS),
        "diamondContractAddress": s("Diamond contract address.", pattern=ADDRESS),
        "chainlinkFeedTemplatesDir": s("Reference job templates dir.", min_length=1),
        "faucetPrivateKey": secret("Faucet key (hex).", min_length=64),
        "balanceTopupCheckIntervalMs": i("Top-up check interval (ms).", minimum=5000),
        "faucetMinWei": n("Top-up threshold (wei).", minimum=1),
        "faucetTopupWei": n("Top-up amount (wei).", minimum=1),
        "balanceTopupRequired": b("Fail fast on top-up failures."),
        "priceAggregatorConfig": PRICE_AGGREGATOR,
        "sealfeed": SEALFEED,
    },
    doc="The solution configuration.",
    rule=_root_rule,
)  # fmt: skip


# ---------------------------------------------------------------------------------------
# JSON (validated) -> typed model


SecretResolver = Callable[[SecretRef, str], Secret]


def _secret(value: Any, resolve: SecretResolver, path: str) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    assert isinstance(value, SecretRef)
    return resolve(value, path)


def _push(
    ref: Mapping[str, Any], extra: Mapping[str, Any], resolve: SecretResolver, path: str
) -> m.MetricsPushConfig:
    url = ref.get("url")
    kind: Literal["pushgateway", "victoriametrics"] = extra.get("kind") or (
        "victoriametrics" if url and "/api/v1/import" in url else "pushgateway"
    )
    auth = ref.get("basicAuth")
    basic = None
    if auth:
        pw = _secret(auth["password"], resolve, f"{path}.basicAuth.password")
        assert pw is not None
        basic = m.BasicAuth(username=auth["username"], password=pw)
    ttl = extra.get("ttlSeconds")
    return m.MetricsPushConfig(
        enabled=bool(ref["enabled"]) and bool(url),
        url=url,
        kind=kind,
        interval_ms=ref["intervalMs"],
        job_name=ref["jobName"],
        grouping_labels=dict(ref["groupingLabels"]),
        basic_auth=basic,
        bearer_token=_secret(extra.get("bearerToken"), resolve, f"{path}.bearerToken"),
        headers=dict(ref["headers"]),
        timeout_ms=ref["timeoutMs"],
        ttl_seconds=3600 if ttl is None else ttl,
        delete_on_shutdown=bool(extra.get("deleteOnShutdown")),
    )


def _source(name: str, raw: Mapping[str, Any] | None, resolve: SecretResolver) -> m.SourceConfig:
    rps_default, batch_default, key_required = SOURCES[name]
    path = f"priceAggregatorConfig.sources.{name}"
    if raw is None:  # not configured: keyless sources on with defaults, keyed ones off
        return m.SourceConfig(
            name=name,
            enabled=not key_required,
            rps=rps_default,
            max_batch_size=batch_default,
        )
    stream_raw = raw.get("stream")
    stream = None
    if stream_raw is not None:
        stream = m.StreamConfig(
            ws_url=stream_raw.get("wsUrl"),
            heartbeat_interval_ms=stream_raw["heartbeatInterval"],
            batch_size=stream_raw.get("batchSize") or 50,
            rate_limit_ms=stream_raw.get("rateLimit") or 100,
            reconnect_interval_ms=stream_raw["reconnectInterval"],
            unresponsive_timeout_ms=max(60_000, 2 * stream_raw["heartbeatInterval"]),
        )
    use_proxy = raw["useProxy"]
    return m.SourceConfig(
        name=name,
        enabled=raw["enabled"],
        base_url=raw.get("baseUrl"),
        ttl_ms=raw["ttl"],
        timeout_ms=raw["timeoutMs"],
        rps=raw.get("rps", rps_default),
        max_concurrent=raw["maxConcurrent"],
        api_key=_secret(raw.get("apiKey"), resolve, f"{path}.apiKey"),
        use_proxy=use_proxy,
        refetch=raw["refetch"],
        stale_trigger_before_expiry_ms=raw.get("staleTriggerBeforeExpiry"),
        max_batch_size=raw.get("maxBatchSize") or batch_default,
        max_retries=raw["maxRetries"],
        stream=stream,
    )


def build_config(
    v: Mapping[str, Any], raw: Mapping[str, Any], resolve: SecretResolver
) -> m.ApplianceConfig:
    """Typed config from a *validated* solution object (see :func:`parse_solution`)."""
    sf = v["sealfeed"]
    pa = v["priceAggregatorConfig"]
    total = v["totalNodes"]
    boot = v["bootstrapNodes"]
    nodes_list = v.get("nodesList") or tuple(range(1, total + 1))
    sfn = sf["nodes"]
    nodes = m.NodesConfig(
        total=total,
        bootstrap=tuple(range(1, boot + 1)),
        nodes_list=nodes_list,
        primary=v.get("primaryNodes") or nodes_list,
        bootstrap_addresses=v.get("bootstrapNodeAddresses") or (),
        api_host=sfn["apiHost"],
        api_base_port=sfn["apiBasePort"],
        p2p_base_port=sfn["p2pBasePort"],
        p2p_listen_host=sfn["p2pListenHost"],
        p2p_announce_host=sfn["p2pAnnounceHost"],
        database_prefix=v["pgDatabase"],
        workdir_root=sfn["workdirRoot"],
        os_user_prefix=sfn["osUserPrefix"],
    )
    gas = v.get("chainlinkGasPrice")
    chain = m.ChainConfig(
        chain_id=v["chainlinkChainId"],
        rpc_http_url=v["chainlinkRpcHttpUrl"],
        rpc_ws_url=v["chainlinkRpcWsUrl"],
        node_name=v["chainlinkNodeName"],
        gas_price_wei=int(gas) if gas is not None else None,
        node_sc_address=v.get("chainlinkNodeScAddress"),
        link_ca=v.get("linkCa"),
        admin_contract_address=v.get("adminContractAddress"),
        diamond_contract_address=v.get("diamondContractAddress"),
    )
    sfp = sf["postgres"]
    postgres = m.PostgresConfig(
        superuser=v["pgUser"],
        password=_secret(v.get("pgPassword"), resolve, "pgPassword"),
        port=v["pgPort"],
        listen_tcp=sfp["listenTcp"],
        host=sfp["host"],
        data_dir=sfp["dataDir"],
        socket_dir=sfp["socketDir"],
        max_open_conns_per_node=sfp["maxOpenConnsPerNode"],
        memory_limit_mb=sfp.get("memoryLimitMb"),
        cpu_limit=sfp.get("cpuLimit"),
    )
    password = _secret(v["chainlinkPassword"], resolve, "chainlinkPassword")
    keystore = _secret(v["chainlinkKeystorePassword"], resolve, "chainlinkKeystorePassword")
    assert password is not None and keystore is not None
    feeds = tuple(
        m.FeedConfig(
            name=f["name"],
            base=f["base"].upper(),
            quote=f["quote"].upper(),
            sources=tuple(f["sources"]),
            contract_address=f["contractAddress"],
            decimals=f["decimals"],
            ocr_version=f["ocrVersion"],
        )
        for f in sf["feeds"]
    )
    chainlink = m.ChainlinkConfig(
        email=v["chainlinkEmail"],
        password=password,
        keystore_password=keystore,
        feed_templates_dir=v.get("chainlinkFeedTemplatesDir"),
        set_config_batch_size=v["setConfigBatchSize"],
        feeds=feeds,
        faucet_private_key=_secret(v.get("faucetPrivateKey"), resolve, "faucetPrivateKey"),
    )
    sources = {name: _source(name, pa["sources"].get(name), resolve) for name in SOURCES}
    refetch = pa["refetch"]
    cleanup = pa["pairCleanup"]
    sfa = sf["aggregator"]
    aggregator = m.AggregatorConfig(
        host=sfa["host"],
        port=pa["port"],
        environment=pa["environment"],
        pairs_file=pa.get("pairsFilePath"),
        proxy=_secret(pa.get("proxy"), resolve, "priceAggregatorConfig.proxy"),
        sources=sources,
        refetch=m.RefetchConfig(
            enabled=refetch["enabled"],
            stale_trigger_before_expiry_ms=refetch["staleTriggerBeforeExpiry"],
            batch_interval_ms=refetch["batchInterval"],
            min_time_between_refreshes_ms=refetch["minTimeBetweenRefreshes"],
        ),
        pair_cleanup=m.PairCleanupConfig(
            enabled=cleanup["enabled"],
            inactive_timeout_ms=cleanup["inactiveTimeoutMs"],
            cleanup_interval_ms=cleanup["cleanupIntervalMs"],
        ),
        quotes_request_timeout_ms=pa["quotes"]["requestTimeoutMs"],
        pairs_ttl=tuple(
            m.PairTtl(
                base=t["pair"][0].upper(),
                quote=t["pair"][1].upper(),
                ttl_ms=t["ttl"],
                source=t.get("source"),
            )
            for t in pa["pairsTtl"]
        ),
        metrics_push=_push(
            pa["metricsPush"], sfa["metricsPush"], resolve, "priceAggregatorConfig.metricsPush"
        ),
        log_level=pa["logger"]["level"],
        server=sfa["server"],
    )
    sfe = sf["exporter"]
    exporter = m.ExporterConfig(
        host=sfe["host"],
        port=sfe["port"],
        interval_ms=sfe["intervalMs"],
        discovery_interval_ms=sfe["discoveryIntervalMs"],
        max_consecutive_failures=sfe["maxConsecutiveFailures"],
        push=_push(
            sfe["metricsPush"], sfe["metricsPush"], resolve, "sealfeed.exporter.metricsPush"
        ),
    )
    mon = sf["monitoring"]
    return m.ApplianceConfig(
        nodes=nodes,
        chain=chain,
        postgres=postgres,
        chainlink=chainlink,
        aggregator=aggregator,
        exporter=exporter,
        monitoring=m.MonitoringLabels(instance=mon["instance"], environment=mon["environment"]),
        restart=m.RestartPolicy(
            max_restarts=v["maxRestarts"], window_seconds=sf["restart"]["windowSeconds"]
        ),
        secrets_dir=v["spSecretsDir"],
        log_dir=sf["logDir"],
        raw=raw,
    )


class ConfigInvalid(InputError):
    """Schema validation failed: one :class:`Problem` per issue, each with its JSON path."""

    def __init__(self, problems: list[Problem], *, location: str | None = None) -> None:
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
    "PRICE_AGGREGATOR",
    "SEALFEED",
    "SOLUTION",
    "SOURCES",
    "STREAMING_SOURCES",
    "ConfigInvalid",
    "SecretResolver",
    "build_config",
    "no_secret_files",
    "parse_solution",
]
