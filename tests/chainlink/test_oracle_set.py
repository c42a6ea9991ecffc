"""oracle-set: OCR2 lists, OCR1 setConfig inputs (ABI encoding checked with eth-abi, the
shared secret decrypted the way each libocr oracle does), parameter limits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import eth_abi
import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from eth_utils import function_signature_to_4byte_selector, keccak
from hypothesis import given
from hypothesis import strategies as st

from sealfeed.chainlink import abi
from sealfeed.chainlink.keys import key_path
from sealfeed.chainlink.keystore import OCR1KeyBundle
from sealfeed.chainlink.ocr1_config import (
    DON_CONFIG,
    ENCODED_COMPONENTS,
    HOUR,
    MINUTE,
    SECOND,
    OCR1Params,
    check_params,
    format_duration,
    parse_duration,
)
from sealfeed.chainlink.oracle_set import oracle_set
from sealfeed.config.model import NodesConfig
from sealfeed.errors import InputError
from tests.chainlink.conftest import FEEDS, MIXED_FEEDS, make_config, make_keys, seeded

# --- ABI encoder ----------------------------------------------------------------------------

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@given(
    st.lists(ADDRESSES, max_size=4),
    st.integers(0, 255),
    st.integers(-(2**63), 2**63 - 1),
    st.lists(st.binary(min_size=16, max_size=16), max_size=3),
    st.text(max_size=40),
    st.binary(max_size=70),
)
def test_abi_matches_eth_abi(
    addrs: list[str], u8: int, i64: int, b16: list[bytes], text: str, blob: bytes
) -> None:
    types = ["address[]", "uint8", "int64", "(bytes16[],string)", "bytes", "bool", "bytes32"]
    values = [addrs, u8, i64, (b16, text), blob, True, b"\x07" * 32]
    assert abi.encode_tuple(types, values) == eth_abi.encode(types, values)


def test_abi_refuses_values_that_do_not_fit() -> None:
    for t, v in (("uint8", 256), ("int64", 2**63), ("bytes16", b"x"), ("address", "0x12")):
        with pytest.raises(abi.AbiError):
            abi.encode(t, v)
    with pytest.raises(abi.AbiError):
        abi.parse_type("fixed128x18")
    assert abi.selector("transfer(address,uint256)").hex() == "a9059cbb"  # ERC-20


# --- durations and limits -------------------------------------------------------------------


def test_go_durations() -> None:
    assert parse_duration("1h30m", location="x") == 90 * MINUTE
    assert parse_duration("35s", location="x") == 35 * SECOND
    assert parse_duration("500ms", location="x") == SECOND // 2
    assert parse_duration("0", location="x") == 0
    for bad in ("", "10", "1d", "-5s", "5 s"):
        with pytest.raises(InputError) as exc:
            parse_duration(bad, location="--delta-c")
        assert exc.value.location == "--delta-c"
    assert [format_duration(x) for x in (HOUR, 35 * SECOND, 90 * MINUTE, SECOND // 2)] == [
        "1h0m0s",
        "35s",
        "1h30m0s",
        "500ms",
    ]


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"delta_c": 5 * MINUTE}, "ocr1.deltaC"),
        # libocr: deltaRound >= 20s on chains it does not list
        ({"delta_round": 15 * SECOND, "delta_grace": 5 * SECOND}, "ocr1.deltaRound"),
        ({"delta_grace": 30 * SECOND}, "ocr1.deltaGrace"),  # must be < deltaRound
        ({"delta_progress": 30 * SECOND}, "ocr1.deltaRound"),  # deltaRound < deltaProgress
        ({"r_max": 0}, "ocr1.rMax"),
        ({"s": (32,)}, "ocr1.s"),
        ({"delta_resend": -1}, "ocr1.deltaResend"),
    ],
)
def test_ocr1_parameter_limits(change: dict[str, Any], location: str) -> None:
    check_params(OCR1Params(), n=4, f=1, chain_id=5611)
    with pytest.raises(InputError) as exc:
        check_params(replace(OCR1Params(), **change), n=4, f=1, chain_id=5611)
    assert exc.value.location == location


def test_private_testnets_have_no_chain_limits() -> None:
    check_params(replace(OCR1Params(), delta_c=SECOND), n=4, f=1, chain_id=1337)
    with pytest.raises(InputError, match="less than n/3"):
        check_params(OCR1Params(), n=3, f=1, chain_id=1337)
    with pytest.raises(InputError, match="at most 31"):
        check_params(OCR1Params(), n=32, f=1, chain_id=1337)


# --- the document ---------------------------------------------------------------------------


def test_ocr2_only_has_no_ocr1_section(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    keys = make_keys(cfg)
    doc = oracle_set(cfg, keys)
    assert "ocr1" not in doc and doc["f"] == 1
    o = doc["ocr2"]
    assert o["signers"] == [keys[i].ocr2_onchain_address for i in (2, 3, 4, 5)]
    assert o["transmitters"] == [keys[i].evm_address for i in (2, 3, 4, 5)]
    assert [f["name"] for f in o["feeds"]] == ["BTC/USD", "ETH/USD"]


def _ocr1_doc(tmp_path: Path) -> tuple[Any, dict[int, Any], dict[str, Any]]:
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    keys = make_keys(cfg)
    return cfg, keys, oracle_set(cfg, keys, random=seeded(99))


def test_ocr1_section(tmp_path: Path) -> None:
    _, keys, doc = _ocr1_doc(tmp_path)
    assert [f["name"] for f in doc["ocr2"]["feeds"]] == ["ETH/USD"]
    o = doc["ocr1"]
    oracles = (2, 3, 4, 5)
    assert o["threshold"] == 1 and o["encoded_config_version"] == 1
    assert o["signers"] == [keys[i].ocr1_onchain_signing_address for i in oracles]
    assert o["signers"] != doc["ocr2"]["signers"]  # OCR1 bundles sign, not the OCR2 ones
    assert o["transmitters"] == [keys[i].evm_address for i in oracles]
    assert o["peer_ids"] == [keys[i].peer_id for i in oracles]
    assert o["offchain_config"] == {
        "deltaProgress": "35s",
        "deltaResend": "17s",
        "deltaRound": "30s",
        "deltaGrace": "12s",
        "deltaC": "1h0m0s",
        "alphaPPB": 5_000_000,
        "deltaStage": "1m0s",
        "rMax": 6,
        "s": [1, 2, 2, 2],
    }
    (feed,) = o["feeds"]
    assert feed["contract_address"] == "0x00000000000000000000000000000000000000B1"
    sc = feed["set_config"]
    encoded = bytes.fromhex(sc["encoded"][2:])
    (components,) = eth_abi.decode([ENCODED_COMPONENTS], encoded)
    (dp, dr, drd, dg, dc, alpha, ds, rmax, s, offkeys, peers, sse) = components
    assert (dp, dr, drd, dg, dc) == (35e9, 17e9, 30e9, 12e9, 3600e9)
    assert (alpha, ds, rmax, list(s)) == (5_000_000, 60e9, 6, [1, 2, 2, 2])
    assert ["0x" + k.hex() for k in offkeys] == o["offchain_public_keys"]
    assert peers == ",".join(o["peer_ids"])
    assert "0x" + sse[0].hex() == sc["sharedSecretEncryptions"]["diffieHellmanPoint"]
    # the standard OCR1 aggregator call
    data = bytes.fromhex(sc["calldata"][2:])
    assert data[:4] == function_signature_to_4byte_selector(
        "setConfig(address[],address[],uint8,uint64,bytes)"
    )
    signers, transmitters, threshold, version, blob = eth_abi.decode(
        ["address[]", "address[]", "uint8", "uint64", "bytes"], data[4:]
    )
    assert [a.lower() for a in signers] == [a.lower() for a in o["signers"]]
    assert [a.lower() for a in transmitters] == [a.lower() for a in o["transmitters"]]
    assert (threshold, version, blob) == (1, 1, encoded)
    # Super Protocol's aggregator (the reference's set-config.js ABI)
    data = bytes.fromhex(sc["superProtocolCalldata"][2:])
    assert data[:4] == function_signature_to_4byte_selector(f"setConfig({DON_CONFIG})")
    ((s2, t2, th2, sched2, keys2, peers2, sse2),) = eth_abi.decode([DON_CONFIG], data[4:])
    assert [a.lower() for a in s2] == [a.lower() for a in signers] and th2 == 1
    assert [a.lower() for a in t2] == [a.lower() for a in transmitters]
    assert list(sched2) == [1, 2, 2, 2] and keys2 == offkeys and peers2 == peers
    assert sse2 == sse


def test_every_oracle_recovers_the_shared_secret(tmp_path: Path) -> None:
    """libocr SharedSecretEncryptions.Decrypt with each oracle's own OCR1 key: all get the
    same 16 bytes and its keccak is the published hash."""
    cfg, _, doc = _ocr1_doc(tmp_path)
    sse = doc["ocr1"]["feeds"][0]["set_config"]["sharedSecretEncryptions"]
    point = x25519.X25519PublicKey.from_public_bytes(bytes.fromhex(sse["diffieHellmanPoint"][2:]))
    secrets = set()
    for i, node in enumerate((2, 3, 4, 5)):
        path = key_path(cfg.secrets_dir, node, "ocr")
        bundle = OCR1KeyBundle.from_export(
            json.loads(path.read_text()), cfg.chainlink.keystore_password
        )
        dh = x25519.X25519PrivateKey.from_private_bytes(bundle.encryption_scalar).exchange(point)
        dec = Cipher(algorithms.AES(keccak(dh)[:16]), modes.ECB()).decryptor()
        secret = dec.update(bytes.fromhex(sse["encryptions"][i][2:])) + dec.finalize()
        assert "0x" + keccak(secret).hex() == sse["sharedSecretHash"]
        secrets.add(secret)
    assert secrets == {seeded(99)(16)}  # the injected randomness; never printed
    assert seeded(99)(16).hex() not in json.dumps(doc)


def test_each_ocr1_contract_gets_its_own_secret(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, feeds=tuple(replace(f, ocr_version=1) for f in FEEDS))
    doc = oracle_set(cfg, make_keys(cfg))
    hashes = {
        f["set_config"]["sharedSecretEncryptions"]["sharedSecretHash"] for f in doc["ocr1"]["feeds"]
    }
    assert len(hashes) == 2 and "ocr2" not in doc


def test_ocr1_needs_ocr1_keys_and_enough_oracles(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, feeds=MIXED_FEEDS)
    plain = make_keys(make_config(tmp_path))  # OCR2-only keys
    with pytest.raises(InputError, match="no OCR1 key bundle") as exc:
        oracle_set(cfg, plain)
    assert "ocr_key.json" in (exc.value.location or "")
    few = replace(cfg, nodes=NodesConfig(total=4))
    with pytest.raises(InputError, match="at least 4 oracle nodes"):
        oracle_set(few, make_keys(few))
    with pytest.raises(InputError) as exc:
        oracle_set(cfg, make_keys(cfg), ocr1=replace(OCR1Params(), delta_c=MINUTE))
    assert exc.value.location == "ocr1.deltaC"
