"""Embedded defaults: a complete, valid solution object (used by the demo, `up` and tests)."""

from __future__ import annotations

from typing import Any


def example_solution(total_nodes: int = 5, *, secrets_dir: str = "/sp/secrets") -> dict[str, Any]:
    """A reference-shaped solution for a local appliance: opBNB testnet, BTC and ETH feeds.

    Passwords here are placeholders for local runs only; real deployments keep them out of
    the file (``{"secretFile": "..."}``) and in ``/sp/secrets``.
    """
    return {
        "pgUser": "postgres",
        "pgDatabase": "chainlink_node",
        "pgPort": 5432,
        "chainlinkEmail": "admin@example.com",
        "chainlinkPassword": "local-demo-api-password",
        "chainlinkKeystorePassword": "local-demo-keystore-password",
        "maxRestarts": 3,
        "setConfigBatchSize": 10,
        "chainlinkChainId": 5611,
        "chainlinkNodeName": "opbnb-testnet",
        "chainlinkRpcWsUrl": "wss://opbnb-testnet-rpc.publicnode.com/",
        "chainlinkRpcHttpUrl": "https://opbnb-testnet-rpc.publicnode.com/",
        "chainlinkGasPrice": 10000000000,
        "spSecretsDir": secrets_dir,
        "totalNodes": str(total_nodes),
        "bootstrapNodes": "1",
        "nodesList": " ".join(str(n) for n in range(1, total_nodes + 1)),
        "primaryNodes": " ".join(str(n) for n in range(1, total_nodes + 1)),
        "bootstrapNodeAddresses": "chainlink-node-1:9901",
        "adminContractAddress": "0x070512240f52F6B5B4EeE9C89A9E3f48486954CE",
        "diamondContractAddress": "0x9CcBf0aABa30404B812414081c3F3789aa17E4eC",
        "priceAggregatorConfig": {
            "port": 3000,
            "environment": "production",
            "refetch": {"enabled": True, "staleTriggerBeforeExpiry": 5000},
            "pairCleanup": {"enabled": True, "inactiveTimeoutMs": 600000},
            "sources": {
                "binance": {
                    "enabled": True,
                    "ttl": 10000,
                    "rps": 100,
                    "maxBatchSize": 500,
                    "stream": {"heartbeatInterval": 30000},
                },
                "okx": {"enabled": True, "ttl": 10000},
                "kraken": {"enabled": True, "ttl": 10000},
                "coinbase": {"enabled": True, "ttl": 15000},
            },
            "metricsPush": {"enabled": False},
        },
        "sealfeed": {
            "monitoring": {"instance": "local", "environment": "development"},
            "feeds": [
                {
                    "name": "BTC/USD",
                    "base": "BTC",
                    "quote": "USD",
                    "sources": ["binance", "kraken", "coinbase"],
                    "contractAddress": "0x0000000000000000000000000000000000000001",
                },
                {
                    "name": "ETH/USD",
                    "base": "ETH",
                    "quote": "USD",
                    "sources": ["binance", "okx", "coinbase"],
                    "contractAddress": "0x0000000000000000000000000000000000000002",
                },
            ],
        },
    }


__all__ = ["example_solution"]
