"""The oracle set for an OCR2 aggregator's ``setConfig`` (pure).

OCR2 ``setConfig(address[] signers, address[] transmitters, uint8 f, bytes onchainConfig,
uint64 offchainConfigVersion, bytes offchainConfig)`` takes the signers (each oracle's OCR2
on-chain signing address) and transmitters (each oracle's EVM key) in the same order; the
off-chain config that libocr encodes needs, per oracle, the peer id, the off-chain ed25519
public key and the X25519 config public key. This module lists them in that one order for
every oracle node (bootstrap nodes do not take part in OCR), with ``f`` = floor((n-1)/3) as
libocr requires n > 3f.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealfeed.chainlink.jobs import validate_feeds
from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import InputError

#: libocr: n > 3f and f >= 1, so at least 4 oracles (design §3.1.2).
MIN_ORACLES = 4


def oracle_set(cfg: ApplianceConfig, keys: Mapping[int, NodePublicKeys]) -> dict[str, Any]:
    feeds = validate_feeds(cfg)
    oracles = [n for n in cfg.nodes.specs() if n.role == "oracle"]
    if len(oracles) < MIN_ORACLES:
        raise InputError(
            f"OCR2 needs at least {MIN_ORACLES} oracle nodes (n > 3f, f >= 1); "
            f"this configuration has {len(oracles)}",
            location="nodes",
        )
    entries = []
    for n in oracles:
        k = keys[n.index]
        entries.append(
            {
                "node": n.index,
                "signer": k.ocr2_onchain_address,
                "transmitter": k.evm_address,
                "peer_id": k.peer_id,
                "offchain_public_key": "0x" + k.ocr2_offchain_public_key,
                "config_public_key": "0x" + k.ocr2_config_public_key,
                "ocr2_key_bundle_id": k.ocr2_bundle_id,
            }
        )
    return {
        "chain_id": cfg.chain.chain_id,
        "f": (len(entries) - 1) // 3,
        "signers": [e["signer"] for e in entries],
        "transmitters": [e["transmitter"] for e in entries],
        "offchain_public_keys": [e["offchain_public_key"] for e in entries],
        "config_public_keys": [e["config_public_key"] for e in entries],
        "peer_ids": [e["peer_id"] for e in entries],
        "oracles": entries,
        "feeds": [
            {"name": f.name, "contract_address": f.contract_address, "decimals": f.decimals}
            for f in feeds
        ],
    }


__all__ = ["MIN_ORACLES", "oracle_set"]
