"""The oracle set for the feed contracts' ``setConfig`` (pure; OCR1 randomness injected).

Oracle nodes only (bootstrap nodes take no part in OCR) of the whole DON, ordered by node
index (one order used everywhere), with ``f`` = floor((n-1)/3) as libocr requires n > 3f. On
one VM of several (``sealfeed.placement``) the configuration is that VM's view, whose node list
is its own nodes only: the DON's nodes are the placement's (:func:`don_oracles`), and the keys
of the other VMs' nodes come from their ``node-keys`` documents (ADR 0147).

* OCR2 ``setConfig(address[] signers, address[] transmitters, uint8 f, bytes onchainConfig,
  uint64 offchainConfigVersion, bytes offchainConfig)``: signers (OCR2 on-chain signing
  addresses) and transmitters (EVM keys) plus, per oracle, the peer id, the off-chain ed25519
  key and the X25519 config key that libocr's offchain config encodes.
* OCR1 (feeds with ``ocr_version = 1``): signers are the OCR1 bundles' on-chain signing
  addresses; per feed contract the complete ``setConfig`` inputs -- threshold,
  ``encodedConfigVersion``, the encoded config with a fresh encrypted shared secret -- and the
  call data for the standard OCR1 aggregator and for Super Protocol's variant
  (:mod:`sealfeed.chainlink.ocr1_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sealfeed.chainlink.jobs import eip55, validate_feeds
from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.ocr1_config import (
    MAX_ORACLES,
    OCR1Oracle,
    OCR1Params,
    RandomBytes,
    check_params,
    set_config_inputs,
)
from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.errors import InputError

#: libocr: n > 3f and f >= 1, so at least 4 oracles (design §3.1.2).
MIN_ORACLES = 4


def don_oracles(cfg: ApplianceConfig) -> list[NodeSpec]:
    """The DON's oracle nodes by index: the placement's nodes when there is one (every node
    of the DON is placed exactly once; a VM's own view lists only its nodes), else the
    configuration's node list."""
    if cfg.placement:
        indices = sorted({n for e in cfg.placement for n in e.nodes})
    else:
        indices = sorted(s.index for s in cfg.nodes.specs())
    return [n for n in map(cfg.nodes.node, indices) if n.role == "oracle"]


def _key_file(node: int, kind: str) -> str:
    return f"chainlink/node-{node}/{kind}_key.json"


def oracle_set(
    cfg: ApplianceConfig,
    keys: Mapping[int, NodePublicKeys],
    *,
    ocr1: OCR1Params | None = None,
    random: RandomBytes = os.urandom,
    sources: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The ``setConfig`` inputs (see the module doc). ``keys``: every oracle's public keys;
    ``sources``: where a node's keys were read when not from its own key files (another
    VM's ``node-keys`` document), for the error location."""
    feeds = validate_feeds(cfg)
    oracles = don_oracles(cfg)
    sources = sources or {}
    if len(oracles) < MIN_ORACLES:
        raise InputError(
            f"OCR needs at least {MIN_ORACLES} oracle nodes (n > 3f, f >= 1); "
            f"this configuration has {len(oracles)}",
            location="nodes",
        )
    if len(oracles) > MAX_ORACLES:
        raise InputError(
            f"OCR takes at most {MAX_ORACLES} oracles (libocr MaxOracles); "
            f"this configuration has {len(oracles)}",
            location="nodes",
        )
    f = (len(oracles) - 1) // 3
    ocr1_feeds = [x for x in feeds if x.ocr_version == 1]
    ocr2_feeds = [x for x in feeds if x.ocr_version == 2]
    entries = []
    for n in oracles:
        k = keys.get(n.index)
        if k is None:
            raise InputError(
                f"no public keys for node {n.index}",
                location=sources.get(n.index, _key_file(n.index, "evm")),
            )
        entry: dict[str, Any] = {
            "node": n.index,
            "transmitter": k.evm_address,
            "peer_id": k.peer_id,
            "ocr2": {
                "signer": k.ocr2_onchain_address,
                "offchain_public_key": "0x" + k.ocr2_offchain_public_key,
                "config_public_key": "0x" + k.ocr2_config_public_key,
                "key_bundle_id": k.ocr2_bundle_id,
            },
        }
        if ocr1_feeds:
            if not k.ocr1_bundle_id:
                where = sources.get(n.index)
                raise InputError(
                    f"node {n.index} has no OCR1 key bundle "
                    + ("in its VM's node-keys document (published before a feed used OCR1? "
                       "that VM's 'sealfeed chainlink render' publishes a new one)"
                       if where else "(run 'sealfeed chainlink keys')"),
                    location=where or _key_file(n.index, "ocr"),
                )  # fmt: skip
            entry["ocr1"] = {
                "signer": k.ocr1_onchain_signing_address,
                "offchain_public_key": "0x" + str(k.ocr1_offchain_public_key),
                "config_public_key": "0x" + str(k.ocr1_config_public_key),
                "key_bundle_id": k.ocr1_bundle_id,
            }
        entries.append(entry)
    doc: dict[str, Any] = {"chain_id": cfg.chain.chain_id, "f": f, "oracles": entries}
    if ocr2_feeds:
        doc["ocr2"] = {
            "f": f,
            "signers": [e["ocr2"]["signer"] for e in entries],
            "transmitters": [e["transmitter"] for e in entries],
            "offchain_public_keys": [e["ocr2"]["offchain_public_key"] for e in entries],
            "config_public_keys": [e["ocr2"]["config_public_key"] for e in entries],
            "peer_ids": [e["peer_id"] for e in entries],
            "feeds": [
                {"name": x.name, "contract_address": x.contract_address, "decimals": x.decimals}
                for x in ocr2_feeds
            ],
        }
    if ocr1_feeds:
        params = ocr1 or OCR1Params()
        check_params(params, n=len(entries), f=f, chain_id=cfg.chain.chain_id)
        identities = [
            OCR1Oracle(
                signer=e["ocr1"]["signer"],
                transmitter=e["transmitter"],
                offchain_public_key=bytes.fromhex(e["ocr1"]["offchain_public_key"][2:]),
                config_public_key=bytes.fromhex(e["ocr1"]["config_public_key"][2:]),
                peer_id=e["peer_id"],
            )
            for e in entries
        ]
        doc["ocr1"] = {
            "threshold": f,
            "encoded_config_version": 1,
            "signers": [o.signer for o in identities],
            "transmitters": [o.transmitter for o in identities],
            "offchain_public_keys": [e["ocr1"]["offchain_public_key"] for e in entries],
            "config_public_keys": [e["ocr1"]["config_public_key"] for e in entries],
            "peer_ids": [o.peer_id for o in identities],
            "offchain_config": params.to_dict(len(identities)),
            "feeds": [
                {
                    "name": x.name,
                    "contract_address": eip55(x.contract_address),
                    "decimals": x.decimals,
                    "set_config": set_config_inputs(
                        identities, params, f=f, chain_id=cfg.chain.chain_id, random=random
                    ),
                }
                for x in ocr1_feeds
            ],
        }
    return doc


__all__ = ["MIN_ORACLES", "don_oracles", "oracle_set"]
