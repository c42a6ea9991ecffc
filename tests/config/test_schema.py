"""Schema: reference files load unchanged; every problem is reported with its JSON path."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import loader
from sealfeed.config.schema import ConfigInvalid, no_secret_files, parse_solution
from sealfeed.config.spec import ConfigProblem
from sealfeed.secret import Secret


def problems_of(solution: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigInvalid) as exc:
        parse_solution(solution, no_secret_files)
    return [str(p) for p in exc.value.problems]


def reference_solution() -> dict[str, Any]:
    """Every key of Super-Protocol/chainlink configuration-schema.js, reference-typed."""
    return {
        "pgUser": "postgres",
        "pgPassword": "mysecretpassword",
        "pgDatabase": "chainlink_node",
        "pgPort": 5432,
        "chainlinkEmail": "admin@example.com",
        "chainlinkPassword": "your_chainlink_super_password",
        "maxRestarts": 3,
        "setConfigBatchSize": 10,
        "chainlinkKeystorePassword": "your_keystore_password",
        "chainlinkChainId": 5611,
        "chainlinkNodeName": "opbnb-testnet",
        "chainlinkRpcWsUrl": "wss://opbnb-testnet-rpc.publicnode.com/",
        "chainlinkRpcHttpUrl": "https://opbnb-testnet-rpc.publicnode.com/",
        "chainlinkGasPrice": 10000000000,
        "chainlinkNodeScAddress": "0x070512240f52F6B5B4EeE9C89A9E3f48486954CE",
        "spSecretsDir": "/sp/secrets",
        "totalNodes": "5",
        "bootstrapNodes": "1",
        "nodesList": "1 2 3 4 5",
        "primaryNodes": "1 2 3 4 5",
        "linkCa": "0xDA333D0d8DD0cC7a8cE0a6D5bd3a4E5f1f2a3B4c",
        "signature": "MEUCIQ==",
        "adminContractAddress": "0x070512240f52F6B5B4EeE9C89A9E3f48486954CE",
        "diamondContractAddress": "0x9CcBf0aABa30404B812414081c3F3789aa17E4eC",
        "chainlinkFeedTemplatesDir": "/templates",
        "faucetPrivateKey": "ab" * 32,
        "balanceTopupCheckIntervalMs": 60000,
        "faucetMinWei": 1000000,
        "faucetTopupWei": 5000000,
        "balanceTopupRequired": False,
        "bootstrapNodeAddresses": "chainlink-node-1:9901",
        "priceAggregatorConfig": {
            "port": 3000,
            "environment": "production",
            "pairsFilePath": "./pairs.json",
            "logger": {"level": "info", "isPrettyEnabled": False},
            "metricsPush": {
                "enabled": True,
                "url": "https://metrics-receiver.example.com/api/v1/import/prometheus",
                "intervalMs": 15000,
                "jobName": "price-aggregator",
                "groupingLabels": {"service": "price-aggregator"},
                "basicAuth": {"username": "vmagent", "password": "pwd-123"},
                "headers": {"X-Scope-OrgID": "tenant-1"},
                "timeoutMs": 5000,
                "batchSize": 100,
            },
            "refetch": {
                "enabled": True,
                "staleTriggerBeforeExpiry": 3000,
                "batchInterval": 1000,
                "minTimeBetweenRefreshes": 2000,
                "failedPairsRetry": {"enabled": True, "maxAttempts": 50, "retryDelay": 10000, "checkInterval": 30000},
            },
            "quotes": {"requestTimeoutMs": 10000},
            "pairCleanup": {"enabled": True, "inactiveTimeoutMs": 600000, "cleanupIntervalMs": 20000},
            "pairsTtl": [
                {"pair": ["BTC", "USDT"], "source": "binance", "ttl": 15000},
                {"pair": ["DOGE", "USD"], "ttl": 45000},
            ],
            "proxy": "https://user:pass@proxy.example.com:8080",
            "sources": {
                "binance": {
                    "enabled": True, "baseUrl": "https://api.binance.us", "ttl": 10000,
                    "timeoutMs": 10000, "rps": 100, "maxConcurrent": 10, "apiKey": "optional-api-key",
                    "useProxy": False, "refetch": True, "staleTriggerBeforeExpiry": 5000,
                    "maxBatchSize": 500,
                    "stream": {
                        "autoReconnect": True, "reconnectInterval": 5000, "maxReconnectAttempts": 10,
                        "heartbeatInterval": 30000, "wsUrl": "wss://stream.binance.us:9443/ws",
                        "batchSize": 50, "rateLimit": 50,
                    },
                },
                "frankfurter": {"enabled": True, "ttl": 60000, "timeoutMs": 10000, "rps": None,
                                "maxConcurrent": 10, "useProxy": False, "refetch": True},
                "yahoofinance": {"enabled": True, "useProxy": True},
                "finnhub": {"enabled": True, "apiKey": "required-finnhub-api-key"},
            },
            "marketData": {"coingeckoGlobal": {"enabled": True, "refreshIntervalMs": 60000, "useProxy": True}},
        },
    }  # fmt: skip


def test_reference_shaped_solution_loads() -> None:
    cfg = parse_solution(reference_solution(), no_secret_files)
    assert cfg.nodes.total == 5 and cfg.nodes.bootstrap == (1,)
    assert [n.api_port for n in cfg.nodes.specs()] == [6601, 6602, 6603, 6604, 6605]
    assert [n.p2p_port for n in cfg.nodes.specs()] == [9901, 9902, 9903, 9904, 9905]
    assert cfg.aggregator.port == 3000 and cfg.aggregator.host == "127.0.0.1"
    assert cfg.aggregator.sources["frankfurter"].rps is None  # explicit null: unlimited
    assert cfg.aggregator.sources["kraken"].rps == 1  # design default
    assert cfg.aggregator.sources["cryptocompare"].enabled is False  # keyed, not configured
    assert cfg.aggregator.sources["binance"].stream is not None
    assert cfg.aggregator.metrics_push.kind == "victoriametrics"
    assert isinstance(cfg.aggregator.proxy, Secret)
    assert cfg.aggregator.pairs_ttl[1].source is None
    assert cfg.restart.max_restarts == 3


def test_secrets_never_in_repr_or_errors() -> None:
    cfg = parse_solution(reference_solution(), no_secret_files)
    text = repr(cfg)
    for secret in ("mysecretpassword", "your_chainlink_super_password", "pwd-123", "user:pass",
                   "optional-api-key", "ab" * 32):  # fmt: skip
        assert secret not in text
    bad = reference_solution()
    bad["chainlinkPassword"] = "short-secret"
    msgs = problems_of(bad)
    assert msgs == ["chainlinkPassword: must be at least 16 characters, got 12"]
    assert "short-secret" not in " ".join(msgs)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["priceAggregatorConfig"]["sources"]["binance"].update(ttl=-5),
         "priceAggregatorConfig.sources.binance.ttl: must be >= 1000, got -5"),
        (lambda s: s.update(pgPortt=1), "pgPortt: unknown key (did you mean 'pgPort'?)"),
        (lambda s: s["priceAggregatorConfig"]["sources"].update(krakn={}),
         "priceAggregatorConfig.sources.krakn: unknown key (did you mean 'kraken'?)"),
        (lambda s: s.update(totalNodes="five"), 'totalNodes: must be a whole number (digits), got "five"'),
        (lambda s: s.pop("chainlinkChainId"), "chainlinkChainId: is required (evm chain id)"),
        (lambda s: s.update(chainlinkRpcHttpUrl="ftp://x"),
         'chainlinkRpcHttpUrl: must match https?://.+, got "ftp://x"'),
        (lambda s: s.update(nodesList="1 2 2"), 'nodesList: lists a node twice: "1 2 2"'),
        (lambda s: s.update(primaryNodes="1 9"), "primaryNodes: names node 9 but totalNodes is 5"),
        (lambda s: s["priceAggregatorConfig"]["sources"].update(finnhub={"enabled": True}),
         "priceAggregatorConfig.sources.finnhub.apiKey: is required when source finnhub is enabled"),
        (lambda s: s["priceAggregatorConfig"]["sources"].update(bybit={"stream": {}}),
         "priceAggregatorConfig.sources.bybit.stream: bybit has no streaming API (only binance, okx, kraken, coinbase, cryptocompare, finnhub)"),
        (lambda s: s["priceAggregatorConfig"].update(environment="prod"),
         'priceAggregatorConfig.environment: must be one of development, production, test, got "prod" (did you mean \'production\'?)'),
        (lambda s: s.update(chainlinkChainId=1.5), "chainlinkChainId: must be an integer, got 1.5"),
        (lambda s: s.update(balanceTopupRequired="yes"), 'balanceTopupRequired: must be true or false, got string "yes"'),
        (lambda s: s["priceAggregatorConfig"]["pairsTtl"].append({"pair": ["BTC"], "ttl": 1000}),
         "priceAggregatorConfig.pairsTtl[2].pair: must have at least 2 items, got 1"),
    ],
)  # fmt: skip
def test_one_problem_one_precise_message(edit: Any, expected: str) -> None:
    solution = reference_solution()
    edit(solution)
    assert problems_of(solution) == [expected]


def test_all_problems_reported_at_once() -> None:
    solution = reference_solution()
    solution["pgPort"] = 0
    solution["chainlinkEmail"] = 5
    solution["priceAggregatorConfig"]["refetch"]["batchInterval"] = 1
    solution["sealfeed"] = {"nodez": {}}
    msgs = problems_of(solution)
    assert len(msgs) == 4
    assert any(m.startswith("sealfeed.nodez: unknown key (did you mean 'nodes'?)") for m in msgs)


def test_secret_file_references(tmp_path: Path) -> None:
    (tmp_path / "cl.password").write_text("from-a-file-0123456789\n")
    os.chmod(tmp_path / "cl.password", 0o600)
    solution = reference_solution()
    solution["chainlinkPassword"] = {"secretFile": "cl.password"}
    cfg = parse_solution(solution, loader.secret_resolver(tmp_path))
    assert cfg.chainlink.password.reveal() == "from-a-file-0123456789"
    solution["chainlinkPassword"] = {"secretFile": "../etc/passwd"}
    assert problems_of(solution) == [
        "chainlinkPassword.secretFile: must be a relative path inside the secrets dir"
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"{", "invalid JSON at line 1 column 2"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"[1]", "top level must be a JSON object"),
        (b'{"solution": {}, "x": 1}', 'exactly {"solution": {...}}'),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_files_are_input_errors(tmp_path: Path, text: bytes, fragment: str) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(text)
    with pytest.raises(loader.InputError) as exc:
        loader.read_config_document(path)
    assert fragment in exc.value.message
    assert exc.value.location == str(path)


def test_problem_str() -> None:
    assert str(ConfigProblem("a.b", "bad")) == "a.b: bad"


def test_unsigned_loads_only_via_check(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(reference_solution()))
    assert loader.load_config_unverified(path).nodes.total == 5


def test_generated_secret_files(tmp_path: Path) -> None:
    solution = reference_solution()
    solution["chainlinkKeystorePassword"] = {"secretFile": "chainlink/keystore", "generate": True}
    first = parse_solution(solution, loader.secret_resolver(tmp_path)).chainlink.keystore_password
    again = parse_solution(solution, loader.secret_resolver(tmp_path)).chainlink.keystore_password
    assert first == again and len(first.reveal()) >= 16
    assert oct((tmp_path / "chainlink" / "keystore").stat().st_mode & 0o777) == "0o600"
    solution["chainlinkKeystorePassword"] = {"secretFile": "x", "generate": "yes"}
    assert problems_of(solution)[0].startswith(
        "chainlinkKeystorePassword: a secret reference must be"
    )
