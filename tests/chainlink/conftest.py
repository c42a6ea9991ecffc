"""Fixtures for sealfeed.chainlink: typed configs built directly, fast deterministic keys."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sealfeed.chainlink.keys import NodePublicKeys, ensure_node_keys, kinds_for
from sealfeed.chainlink.keystore import ScryptParams
from sealfeed.config.model import (
    AggregatorConfig,
    ApplianceConfig,
    ChainConfig,
    ChainlinkConfig,
    ExporterConfig,
    FeedConfig,
    NodesConfig,
    PostgresConfig,
    SourceConfig,
)
from sealfeed.secret import Secret

GOLDEN = Path(__file__).parent / "golden"
#: low scrypt cost for tests (production uses N=262144)
FAST = ScryptParams(n=1 << 10)
KEYSTORE_PASSWORD = "keystore-password-for-tests-0001"
API_PASSWORD = "api-password-for-tests-00001"

FEEDS = (
    FeedConfig(
        name="BTC/USD",
        base="BTC",
        quote="USD",
        sources=("binance", "coinbase", "kraken"),
        contract_address="0x00000000000000000000000000000000000000b1",
        decimals=8,
    ),
    FeedConfig(
        name="ETH/USD",
        base="ETH",
        quote="USD",
        sources=("binance", "okx"),
        contract_address="0x00000000000000000000000000000000000000e7",
        decimals=8,
    ),
)


#: the reference's feeds are OCR1 contracts; a mixed deployment keeps them beside OCR2 ones
MIXED_FEEDS = (replace(FEEDS[0], ocr_version=1), FEEDS[1])


def make_config(
    tmp: Path,
    *,
    total: int = 5,
    feeds: tuple[FeedConfig, ...] = FEEDS,
    api_base_port: int = 6600,
    gas_price_wei: int | None = None,
    **chainlink: Any,
) -> ApplianceConfig:
    cl = {
        "email": "operator@sealfeed.test",
        "password": Secret(API_PASSWORD),
        "keystore_password": Secret(KEYSTORE_PASSWORD),
        "feeds": feeds,
    }
    cl.update(chainlink)
    return ApplianceConfig(
        nodes=NodesConfig(total=total, api_base_port=api_base_port, workdir_root=str(tmp / "cl")),
        chain=ChainConfig(
            chain_id=5611,
            rpc_http_url="https://opbnb-testnet-rpc.example/",
            rpc_ws_url="wss://opbnb-testnet-rpc.example/",
            gas_price_wei=gas_price_wei,
        ),
        postgres=PostgresConfig(socket_dir="/run/postgresql", port=5432),
        chainlink=ChainlinkConfig(**cl),
        aggregator=AggregatorConfig(
            port=3000,
            sources={n: SourceConfig(name=n) for n in ("binance", "coinbase", "kraken", "okx")},
        ),
        exporter=ExporterConfig(),
        secrets_dir=str(tmp / "secrets"),
    )


def seeded(seed: int) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return rng.randbytes


def make_keys(cfg: ApplianceConfig, seed: int = 7) -> dict[int, NodePublicKeys]:
    out = {}
    for node in cfg.nodes.specs():
        pub, _ = ensure_node_keys(
            cfg.secrets_dir,
            node.index,
            cfg.chainlink.keystore_password,
            params=FAST,
            random=seeded(seed * 100 + node.index),
            kinds=kinds_for(f.ocr_version for f in cfg.chainlink.feeds),
        )
        out[node.index] = pub
    return out


@pytest.fixture
def cl_config(tmp_path: Path) -> ApplianceConfig:
    return make_config(tmp_path)


@pytest.fixture
def cl_keys(cl_config: ApplianceConfig) -> dict[int, NodePublicKeys]:
    return make_keys(cl_config)


def assert_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"golden file {name} missing (UPDATE_GOLDEN=1 to create)"
    assert text == path.read_text(), f"golden file {name} differs (UPDATE_GOLDEN=1 to rewrite)"
