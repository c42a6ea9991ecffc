"""Rendered node files and job specs against Chainlink 2.27's own rules (issue #18).

Every key path of every rendered config.toml/secrets.toml exists in Chainlink's documented
schema (../shared/chainlink-2.27) with the right type; the node's start-up checks pass on the
effective config; every job spec passes what ``POST /v2/jobs`` runs (job.ValidateSpec, the
OCR1/OCR2/bootstrap validators, the ORM's key checks, the feature switches, the pipeline parse,
libocr's local-config sanity check). The helpers live in ``chainlink_rules.py``; the second
half of this file proves they catch the broken documents they exist for.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.config.model import ApplianceConfig, NodesConfig
from tests.chainlink import chainlink_rules as rules
from tests.chainlink.conftest import FEEDS, MIXED_FEEDS, make_config, make_keys
from tests.chainlink.test_render import render_all

pytestmark = pytest.mark.skipif(
    not rules.SHARED.is_dir(), reason=f"SKIPPED LOUDLY: {rules.SHARED} (Chainlink docs) missing"
)

ALL_OCR1 = tuple(replace(f, ocr_version=1) for f in FEEDS)


def _layouts(tmp: Path) -> dict[str, ApplianceConfig]:
    base = make_config(tmp)
    return {
        "one-node": make_config(tmp, total=1),
        "bootstrap-plus-4": base,
        "mixed-ocr1-fixed-gas": replace(
            make_config(tmp, feeds=MIXED_FEEDS, gas_price_wei=10**9),
            chain=replace(base.chain, gas_price_wei=10**9, link_ca="0x" + "ab" * 20),
        ),
        "all-ocr1-zero-gas": make_config(tmp, feeds=ALL_OCR1, gas_price_wei=0),
        # the reference's layout that could not boot: nodes 4 and 5 outside primaryNodes
        "primary-subset": replace(base, nodes=NodesConfig(total=5, primary=(1, 2, 3))),
        "ipv6-announce": replace(
            base, nodes=replace(base.nodes, p2p_listen_host="::", p2p_announce_host="fd00::5")
        ),
        "two-bootstraps": replace(base, nodes=replace(base.nodes, total=6, bootstrap=(1, 2))),
    }


LAYOUTS = list(_layouts(Path("/x")))


@pytest.fixture(scope="module", params=LAYOUTS)
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ApplianceConfig, dict[int, NodePublicKeys], dict[int, dict[str, bytes]]]:
    cfg = _layouts(tmp_path_factory.mktemp(request.param))[request.param]
    keys = make_keys(cfg)
    return cfg, keys, render_all(cfg, keys)


def _toml(files: dict[str, bytes], name: str) -> dict[str, Any]:
    return tomllib.loads(files[name].decode())


def test_every_rendered_key_is_a_chainlink_key(rendered: Any) -> None:
    _, _, files_by_node = rendered
    for index, files in files_by_node.items():
        assert rules.schema_problems(_toml(files, "config.toml"), "config") == [], index
        assert rules.schema_problems(_toml(files, "secrets.toml"), "secrets") == [], index


def test_nodes_start(rendered: Any) -> None:
    _, _, files_by_node = rendered
    for index, files in files_by_node.items():
        assert rules.node_config_problems(_toml(files, "config.toml")) == [], index


def test_every_job_passes_the_validators(rendered: Any) -> None:
    cfg, keys, files_by_node = rendered
    seen = set()
    for index, files in files_by_node.items():
        config = _toml(files, "config.toml")
        k = keys[index]
        jobs = {n: c.decode() for n, c in files.items() if n.startswith("jobs/")}
        assert len(jobs) == len(cfg.chainlink.feeds)
        for name, text in jobs.items():
            problems = rules.job_problems(
                text,
                config,
                evm_keys=[k.evm_address],
                ocr1_bundles=[k.ocr1_bundle_id] if k.ocr1_bundle_id else [],
                ocr2_bundles=[k.ocr2_bundle_id],
            )
            assert problems + rules.start_problems(text) == [], (index, name)
            seen.add(tomllib.loads(text)["type"])
    versions = {f.ocr_version for f in cfg.chainlink.feeds}
    assert ("offchainreporting" in seen) == (1 in versions)
    assert ("bootstrap" in seen) == (2 in versions)


@pytest.mark.parametrize(("chain_id", "price"), [(5611, 10**9), (204, 0), (5611, 1), (1, 7)])
def test_fixed_gas_price_means_what_the_config_says(
    tmp_path: Path, chain_id: int, price: int
) -> None:
    """Issue #18 item 2: on opBNB the chain defaults turn EIP-1559 on (FeeHistory), so a
    block of Mode + PriceDefault alone is overridden; the rendered block must pin it."""
    cfg = make_config(tmp_path, gas_price_wei=price)
    cfg = replace(cfg, chain=replace(cfg.chain, chain_id=chain_id))
    files = render_all(cfg, make_keys(cfg))
    for files_of_node in files.values():
        gas = rules.effective_chain(_toml(files_of_node, "config.toml"))["GasEstimator"]
        assert rules.gas_problems(gas) == []
        assert rules.legacy_fixed_price(gas) == price


def test_without_a_configured_price_the_chain_decides(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    config = _toml(render_all(cfg, make_keys(cfg))[2], "config.toml")
    gas = rules.effective_chain(config)["GasEstimator"]
    assert gas["EIP1559DynamicFees"] is True and rules.legacy_fixed_price(gas) is None


# --- the rules catch what they are for ------------------------------------------------------


def _doc(
    tmp_path: Path, feeds: Any = FEEDS
) -> tuple[dict[str, Any], dict[str, str], NodePublicKeys]:
    cfg = make_config(tmp_path, feeds=feeds)
    keys = make_keys(cfg)
    files = render_all(cfg, keys)[2]
    jobs = {n: c.decode() for n, c in files.items() if n.startswith("jobs/")}
    return _toml(files, "config.toml"), jobs, keys[2]


def test_rules_reject_the_reference_send_only_node(tmp_path: Path) -> None:
    config, _, _ = _doc(tmp_path)
    config["EVM"][0]["Nodes"] = [
        {"Name": "evm-5-sendonly", "HTTPURL": "https://x/", "SendOnly": True}
    ]
    assert rules.node_config_problems(config) == ["EVM.Nodes: must have at least one primary node"]


def test_rules_reject_the_old_gas_block(tmp_path: Path) -> None:
    config, _, _ = _doc(tmp_path)
    config["EVM"][0]["GasEstimator"] = {"Mode": "FixedPrice", "PriceDefault": "5 gwei"}
    gas = rules.effective_chain(config)["GasEstimator"]
    assert gas["EIP1559DynamicFees"] is True  # chain 5611's default wins
    assert rules.legacy_fixed_price(gas) is None
    config["EVM"][0]["GasEstimator"] = {"PriceMax": "1 wei", "PriceDefault": "5 gwei"}
    assert "PriceMax must be greater than or equal to PriceDefault" in rules.gas_problems(
        rules.effective_chain(config)["GasEstimator"]
    )


def test_rules_reject_unknown_keys_and_types(tmp_path: Path) -> None:
    config, _, _ = _doc(tmp_path)
    config["Feature"]["CCIPs"] = False
    config["WebServer"]["HTTPPort"] = "6602"
    config["P2P"]["V2"]["ListenAddresses"] = [9902]
    assert rules.schema_problems(config, "config") == [
        "WebServer.HTTPPort: str, Chainlink documents int",
        "Feature.CCIPs: not a Chainlink 2.27 key",
        "P2P.V2.ListenAddresses: list items must be strings",
    ]
    assert rules.schema_problems({"Password": {"Keystores": "x"}}, "secrets") != []


def test_rules_reject_bad_p2p(tmp_path: Path) -> None:
    config, _, _ = _doc(tmp_path)
    v2 = config["P2P"]["V2"]
    v2["ListenAddresses"] = []
    v2["DefaultBootstrappers"] = ["p2p_12D3KooWabc@127.0.0.1:9901", "12D3KooWabc"]
    problems = rules.node_config_problems(config)
    assert "no P2P.V2.ListenAddresses specified" in problems
    assert len([p for p in problems if "peer id" in p or "expected format" in p]) == 2


@pytest.mark.parametrize(
    ("feeds", "edit", "expected"),
    [
        (
            ALL_OCR1,
            lambda t: t.replace("isBootstrapPeer = false\n", ""),
            "isBootstrapPeer is not defined",
        ),
        (
            ALL_OCR1,
            lambda t: t.replace(
                "0x00000000000000000000000000000000000000B1",
                "0x00000000000000000000000000000000000000b1",
            ),
            "EIP55",
        ),
        (ALL_OCR1, lambda t: t.replace('evmChainID = "5611"', "evmChainID = 5611"), "evm chain id"),
        (ALL_OCR1, lambda t: t.replace('keyBundleID = "', 'keyBundleID = "00'), "no key bundle"),
        (
            ALL_OCR1,
            lambda t: t.replace('maxTaskDuration = "0s"', 'maxTaskDuration = "30s"'),
            "max task duration",
        ),
        (
            ALL_OCR1,
            lambda t: t.replace("answer [type=median];", "answer [type=medain];"),
            "unknown task type",
        ),
        (ALL_OCR1, lambda t: t.replace("-> answer;", "-> answer -> ds1;", 1), "cycle"),
        (FEEDS, lambda t: 'juelsPerFeeCoinSource = "x"\n' + t, "unrecognised key for ocr2 peer"),
        (FEEDS, lambda t: t.replace('relay = "evm"', 'relay = "evmx"'), "no such relay"),
        (FEEDS, lambda t: t.replace("chainID = 5611", "chainID = 97"), "no EVM chain 97"),
        (
            FEEDS,
            lambda t: t.replace('pluginType = "median"', 'pluginType = "mediun"'),
            "invalid pluginType",
        ),
        (
            FEEDS,
            lambda t: t.replace("schemaVersion = 1", "schemaVersion = 2"),
            "invalid schema version",
        ),
        (FEEDS, lambda t: t.replace("@127.0.0.1:9901", "@127.0.0.1"), "not host:port"),
    ],
)
def test_rules_reject_broken_jobs(tmp_path: Path, feeds: Any, edit: Any, expected: str) -> None:
    config, jobs, k = _doc(tmp_path, feeds)
    text = edit(jobs["jobs/btc-usd.toml"])
    assert text != jobs["jobs/btc-usd.toml"]
    problems = rules.job_problems(
        text,
        config,
        evm_keys=[k.evm_address],
        ocr1_bundles=[k.ocr1_bundle_id or ""],
        ocr2_bundles=[k.ocr2_bundle_id],
    )
    assert any(expected in p for p in problems), problems


def test_rules_reject_jobs_whose_feature_is_off(tmp_path: Path) -> None:
    config, jobs, k = _doc(tmp_path, MIXED_FEEDS)
    config["OCR"]["Enabled"] = False
    config["OCR2"]["Enabled"] = False
    ocr1 = rules.job_problems(jobs["jobs/btc-usd.toml"], config, evm_keys=[k.evm_address],
                              ocr1_bundles=[str(k.ocr1_bundle_id)])  # fmt: skip
    ocr2 = rules.job_problems(jobs["jobs/eth-usd.toml"], config, evm_keys=[k.evm_address],
                              ocr2_bundles=[k.ocr2_bundle_id])  # fmt: skip
    assert ocr1 == ["The Offchain Reporting feature is disabled by configuration"]
    assert ocr2 == ["The Offchain Reporting 2 feature is disabled by configuration"]


def test_rules_reject_bootstrap_specs_with_oracle_keys() -> None:
    config = {"OCR2": {"Enabled": True}, "EVM": [{"ChainID": "5611"}]}
    ocr2_bootstrap = (
        'type = "bootstrap"\nschemaVersion = 1\ncontractID = "0x1"\nrelay = "evm"\n'
        'observationSource = "a [type=median];"\n[relayConfig]\nchainID = 5611\n'
    )
    assert "unrecognised key for bootstrap peer: observationSource" in rules.job_problems(
        ocr2_bootstrap, config
    )
    ocr1_bootstrap = (
        'type = "offchainreporting"\nschemaVersion = 1\nisBootstrapPeer = true\n'
        'contractAddress = "0x00000000000000000000000000000000000000B1"\nevmChainID = "5611"\n'
        'observationSource = "a [type=median];"\n'
    )
    config["OCR"] = {"Enabled": True}
    assert "unrecognised key for bootstrap peer: observationSource" in rules.job_problems(
        ocr1_bootstrap, config
    )


def test_rules_reject_an_oracle_without_bootstrappers() -> None:
    text = 'type = "offchainreporting"\nisBootstrapPeer = false\np2pv2Bootstrappers = []\n'
    assert rules.start_problems(text) == ["Need at least one v2 bootstrap peer defined"]


def test_rules_local_config_bounds(tmp_path: Path) -> None:
    config, jobs, k = _doc(tmp_path, ALL_OCR1)
    config["OCR"]["ObservationTimeout"] = "30s"
    config["OCR2"]["BlockchainTimeout"] = "21s"
    problems = rules.job_problems(jobs["jobs/btc-usd.toml"], config, evm_keys=[k.evm_address],
                                  ocr1_bundles=[str(k.ocr1_bundle_id)])  # fmt: skip
    assert any("data source timeout must be between" in p for p in problems)
    assert rules.ocr2_local_config_problems({}, config) == [
        "blockchain timeout must be between 1s and 20s, but is currently 21.0s"
    ]
