"""Key files in the secrets dir: generated once, reused, 0600, public parts only."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sealfeed.chainlink.keys import (
    BASE_KINDS,
    KEY_FILES,
    ensure_node_keys,
    key_path,
    kinds_for,
    load_public_keys,
    node_key_dir,
    verify_node_keys,
)
from sealfeed.chainlink.keystore import OCR1KeyBundle
from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import InputError
from sealfeed.secret import Secret
from tests.chainlink.conftest import FAST, seeded


def test_generate_once_then_reuse(cl_config: ApplianceConfig) -> None:
    pw = cl_config.chainlink.keystore_password
    pub, created = ensure_node_keys(cl_config.secrets_dir, 2, pw, params=FAST)
    assert created == ["evm", "p2p", "ocr2"]
    d = node_key_dir(cl_config.secrets_dir, 2)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(d.parent.stat().st_mode) == 0o700
    names = [KEY_FILES[k] for k in BASE_KINDS]
    assert sorted(p.name for p in d.iterdir()) == sorted(names)  # no OCR1 bundle unless asked
    for name in names:
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600
    before = {n: (d / n).read_bytes() for n in names}
    again, created2 = ensure_node_keys(cl_config.secrets_dir, 2, pw, params=FAST, verify=True)
    assert created2 == [] and again == pub
    assert {n: (d / n).read_bytes() for n in names} == before
    assert load_public_keys(cl_config.secrets_dir, 2) == pub
    assert pub.peer_id.startswith("12D3KooW") and pub.evm_address.startswith("0x")


def test_missing_file_is_regenerated_alone(cl_config: ApplianceConfig) -> None:
    pw = cl_config.chainlink.keystore_password
    first, _ = ensure_node_keys(cl_config.secrets_dir, 1, pw, params=FAST)
    key_path(cl_config.secrets_dir, 1, "ocr2").unlink()
    second, created = ensure_node_keys(cl_config.secrets_dir, 1, pw, params=FAST)
    assert created == ["ocr2"]
    assert second.peer_id == first.peer_id and second.evm_address == first.evm_address
    assert second.ocr2_bundle_id != first.ocr2_bundle_id


def test_verify_with_wrong_password_fails(cl_config: ApplianceConfig) -> None:
    ensure_node_keys(cl_config.secrets_dir, 3, cl_config.chainlink.keystore_password, params=FAST)
    with pytest.raises(InputError, match="MAC mismatch") as exc:
        verify_node_keys(cl_config.secrets_dir, 3, Secret("some-other-password-xx"))
    assert "evm_key.json" in (exc.value.location or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "unreadable"), ("[]", "not a JSON object"), ('{"address": "12"}', "20 bytes")],
)
def test_corrupt_key_file_names_the_file(
    cl_config: ApplianceConfig, content: str, message: str
) -> None:
    ensure_node_keys(cl_config.secrets_dir, 4, cl_config.chainlink.keystore_password, params=FAST)
    path = key_path(cl_config.secrets_dir, 4, "evm")
    path.write_text(content)
    with pytest.raises(InputError, match=message) as exc:
        load_public_keys(cl_config.secrets_dir, 4)
    assert exc.value.location == str(path)


def test_missing_keys_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_public_keys(tmp_path, 1)


def test_peer_id_must_match_public_key(cl_config: ApplianceConfig) -> None:
    pw = cl_config.chainlink.keystore_password
    ensure_node_keys(cl_config.secrets_dir, 5, pw, params=FAST, random=seeded(1))
    path = key_path(cl_config.secrets_dir, 5, "p2p")
    doc = json.loads(path.read_text())
    doc["publicKey"] = "11" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="peerID does not match"):
        load_public_keys(cl_config.secrets_dir, 5)


def test_ocr1_bundle_on_demand(cl_config: ApplianceConfig) -> None:
    """ADR 0117: the OCR1 bundle (ocr_key.json) is made when a feed is OCR1, then kept."""
    pw = cl_config.chainlink.keystore_password
    plain, _ = ensure_node_keys(cl_config.secrets_dir, 2, pw, params=FAST)
    assert plain.ocr1_bundle_id is None
    assert kinds_for([2, 2]) == BASE_KINDS and kinds_for([2, 1]) == (*BASE_KINDS, "ocr")
    pub, created = ensure_node_keys(
        cl_config.secrets_dir, 2, pw, params=FAST, kinds=kinds_for([1]), verify=True
    )
    assert created == ["ocr"]
    assert pub.peer_id == plain.peer_id and pub.ocr2_bundle_id == plain.ocr2_bundle_id
    path = key_path(cl_config.secrets_dir, 2, "ocr")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bundle = OCR1KeyBundle.from_export(json.loads(path.read_text()), pw)
    assert pub.ocr1_bundle_id == bundle.id
    assert pub.ocr1_onchain_signing_address == bundle.onchain_signing_address
    assert pub.ocr1_offchain_public_key == bundle.offchain_public_key
    assert pub.ocr1_config_public_key == bundle.config_public_key
    # later runs without OCR1 feeds keep (and verify) the file
    again, created2 = ensure_node_keys(cl_config.secrets_dir, 2, pw, params=FAST, verify=True)
    assert created2 == [] and again == pub
    with pytest.raises(InputError, match="MAC mismatch") as exc:
        verify_node_keys(cl_config.secrets_dir, 2, Secret("some-other-password-xx"), kinds=["ocr"])
    assert str(path) in (exc.value.location or "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("keyType", "OCR2", "keyType"),
        ("onChainSigningAddress", "0x" + "11" * 20, "must start with 'ocrsad_'"),
        ("configPublicKey", "ocrcfg_1234", "32 bytes"),
        ("id", "zz", "not hex"),
    ],
)
def test_corrupt_ocr1_file_names_the_file(
    cl_config: ApplianceConfig, field: str, value: str, message: str
) -> None:
    pw = cl_config.chainlink.keystore_password
    ensure_node_keys(cl_config.secrets_dir, 3, pw, params=FAST, kinds=kinds_for([1]))
    path = key_path(cl_config.secrets_dir, 3, "ocr")
    doc = json.loads(path.read_text())
    doc[field] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message) as exc:
        load_public_keys(cl_config.secrets_dir, 3)
    assert exc.value.location == str(path)
