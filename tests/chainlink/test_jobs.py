"""Job specs: feed validation with precise locations, pipeline shape, content ids, golden TOML."""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from sealfeed.chainlink.jobs import (
    desired_jobs,
    job_file_name,
    median_job,
    ocr1_bootstrap_job,
    ocr1_job,
    validate_feeds,
)
from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.render import bootstrappers
from sealfeed.config.model import AggregatorConfig, ApplianceConfig, FeedConfig
from sealfeed.errors import InputError
from tests.chainlink.conftest import FEEDS, MIXED_FEEDS, assert_golden, make_config, make_keys

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
GOOD = FEEDS[0]


@pytest.mark.parametrize(
    ("feed", "location", "message"),
    [
        (replace(GOOD, contract_address="0x123"), "contract_address", "20-byte"),
        (
            replace(GOOD, contract_address="0x" + "g" * 40),
            "contract_address",
            "20-byte",
        ),
        (
            replace(GOOD, contract_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            "contract_address",
            "EIP-55",
        ),
        (replace(GOOD, sources=()), "sources", "at least one"),
        (replace(GOOD, sources=("binance", "nope")), "sources[1]", "not an enabled"),
        (replace(GOOD, sources=("binance", "binance")), "sources[1]", "duplicate"),
        (replace(GOOD, sources=("Bin/ance",)), "sources[0]", "not a source name"),
        (replace(GOOD, base="BTC/X"), "base", "not a symbol"),
        (replace(GOOD, quote=""), "quote", "not a symbol"),
        (replace(GOOD, decimals=37), "decimals", "0..36"),
        (replace(GOOD, decimals=True), "decimals", "0..36"),
        (replace(GOOD, name='evil"name'), "name", "must be"),
        (replace(GOOD, ocr_version=3), "ocr_version", "must be 1"),
        (replace(GOOD, ocr_version=True), "ocr_version", "must be 1"),
        # another feed's job file: "ETH/USD" and "ETH USD" both become eth-usd.toml
        (replace(GOOD, name="ETH USD", contract_address="0x" + "2" * 40), "name", "eth-usd.toml"),
    ],
)
def test_malformed_feed_is_precise(
    tmp_path: Path, feed: FeedConfig, location: str, message: str
) -> None:
    cfg = make_config(tmp_path, feeds=(FEEDS[1], feed))
    with pytest.raises(InputError, match=message) as exc:
        validate_feeds(cfg)
    assert exc.value.location == f"chainlink.feeds[1].{location}"


def test_duplicates_across_feeds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="duplicate feed name") as exc:
        validate_feeds(
            make_config(tmp_path, feeds=(GOOD, replace(GOOD, contract_address="0x" + "1" * 40)))
        )
    assert exc.value.location == "chainlink.feeds[1].name"
    with pytest.raises(InputError, match="duplicate contract"):
        validate_feeds(make_config(tmp_path, feeds=(GOOD, replace(GOOD, name="other"))))
    with pytest.raises(InputError, match="no feeds"):
        validate_feeds(make_config(tmp_path, feeds=()))


def test_sources_unchecked_without_aggregator_sources(tmp_path: Path) -> None:
    cfg = replace(
        make_config(tmp_path, feeds=(replace(GOOD, sources=("anything",)),)),
        aggregator=AggregatorConfig(),
    )
    assert validate_feeds(cfg)[0].sources == ("anything",)


def test_median_pipeline(cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]) -> None:
    spec = median_job(
        cl_config.nodes.node(2),
        GOOD,
        chain_id=5611,
        ocr_key_bundle_id=cl_keys[2].ocr2_bundle_id,
        transmitter=cl_keys[2].evm_address,
        bootstrappers=["12D3KooWabc@127.0.0.1:9901"],
        aggregator_url="http://127.0.0.1:3000",
    )
    doc = tomllib.loads(spec.toml)
    assert doc["type"] == "offchainreporting2" and doc["pluginType"] == "median"
    assert doc["relay"] == "evm" and doc["relayConfig"] == {"chainID": 5611}
    assert doc["externalJobID"] == spec.external_job_id
    src = doc["observationSource"]
    for i, name in enumerate(GOOD.sources, start=1):
        url = f"http://127.0.0.1:3000/quote/{name}/BTC/USD"
        assert f'ds{i} [type=http method=GET url="{url}"];' in src
        assert f"ds{i}_parse [type=jsonparse path=price];" in src
        assert f"ds{i}_multiply [type=multiply times=100000000];" in src
        assert f"ds{i} -> ds{i}_parse -> ds{i}_multiply -> answer;" in src
    assert "answer [type=median];" in src
    assert "juelsPerFeeCoinSource" in doc["pluginConfig"]
    # content-derived id: stable for the same spec, different when anything changes
    again = median_job(
        cl_config.nodes.node(2),
        GOOD,
        chain_id=5611,
        ocr_key_bundle_id=cl_keys[2].ocr2_bundle_id,
        transmitter=cl_keys[2].evm_address,
        bootstrappers=["12D3KooWabc@127.0.0.1:9901"],
        aggregator_url="http://127.0.0.1:3000",
    )
    assert again == spec
    changed = median_job(
        cl_config.nodes.node(2),
        replace(GOOD, decimals=6),
        chain_id=5611,
        ocr_key_bundle_id=cl_keys[2].ocr2_bundle_id,
        transmitter=cl_keys[2].evm_address,
        bootstrappers=["12D3KooWabc@127.0.0.1:9901"],
        aggregator_url="http://127.0.0.1:3000",
    )
    assert changed.name == spec.name and changed.external_job_id != spec.external_job_id


def test_golden_jobs(tmp_path: Path) -> None:
    cfg = make_config(Path("/golden"), total=5)
    cfg = replace(cfg, secrets_dir=str(tmp_path / "secrets"))
    keys = make_keys(cfg, seed=42)
    peers = bootstrappers(cfg, {i: k.peer_id for i, k in keys.items()})
    jobs = desired_jobs(cfg, bootstrappers=peers, keys=keys)
    assert [j.type for j in jobs[1]] == ["bootstrap", "bootstrap"]
    assert all(j.type == "offchainreporting2" for n in (2, 3, 4, 5) for j in jobs[n])
    for node in (1, 2):
        for job in jobs[node]:
            slug = job.feed.replace("/", "-").lower()
            assert_golden(f"jobs/node-{node}/{slug}.toml", job.toml, UPDATE)


def test_job_file_names() -> None:
    assert job_file_name("BTC/USD") == "btc-usd.toml"
    assert job_file_name("AAVE Network Emergency Count (BNB Chain)") == (
        "aave-network-emergency-count-bnb-chain.toml"
    )
    assert job_file_name("wstETH / stETH Exchange Rate") == "wsteth-steth-exchange-rate.toml"
    assert job_file_name("../..") == "feed.toml"  # never a path outside jobs/


def test_ocr1_jobs(cl_config: ApplianceConfig, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    keys = make_keys(cfg)
    feed = MIXED_FEEDS[0]
    boot = ocr1_bootstrap_job(cfg.nodes.node(1), feed, 5611)
    doc = tomllib.loads(boot.toml)
    assert doc == {
        "type": "offchainreporting",
        "schemaVersion": 1,
        "name": "sealfeed BTC/USD bootstrap",
        "externalJobID": boot.external_job_id,
        "contractAddress": "0x00000000000000000000000000000000000000B1",  # EIP-55
        "evmChainID": "5611",
        "isBootstrapPeer": True,
    }
    job = ocr1_job(
        cfg.nodes.node(3),
        feed,
        chain_id=5611,
        ocr_key_bundle_id=str(keys[3].ocr1_bundle_id),
        transmitter=keys[3].evm_address.lower(),
        bootstrappers=["12D3KooWabc@127.0.0.1:9901"],
        aggregator_url="http://127.0.0.1:3000",
    )
    doc = tomllib.loads(job.toml)
    assert doc["isBootstrapPeer"] is False and doc["keyBundleID"] == keys[3].ocr1_bundle_id
    assert doc["transmitterAddress"] == keys[3].evm_address  # re-checksummed
    assert doc["p2pv2Bootstrappers"] == ["12D3KooWabc@127.0.0.1:9901"]
    assert "answer [type=median];" in doc["observationSource"]
    assert job.file_name == "btc-usd.toml" and job.type == "offchainreporting"
    jobs = desired_jobs(cfg, bootstrappers=["12D3KooWabc@127.0.0.1:9901"], keys=keys)
    assert [j.type for j in jobs[1]] == ["offchainreporting", "bootstrap"]
    assert [j.type for j in jobs[2]] == ["offchainreporting", "offchainreporting2"]


def test_ocr1_feed_without_ocr1_keys(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    keys = make_keys(make_config(tmp_path))  # no OCR1 bundles
    with pytest.raises(InputError, match="no OCR1 key bundle") as exc:
        desired_jobs(cfg, bootstrappers=["12D3KooWabc@127.0.0.1:9901"], keys=keys)
    assert exc.value.location == "chainlink/node-2/ocr_key.json"
