"""Both signature schemes: interop with node crypto, and every way a signature can be wrong."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sealfeed.config import signing
from sealfeed.config.loader import Trust, load_and_verify, load_verified_config
from sealfeed.config.signing import Scheme
from sealfeed.errors import InputError, VerificationError
from tests.fixtures.node_objecthash import NodeOracle


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def _trust(key: signing.PrivateKey) -> Trust:
    return Trust(key.public(), "test")


@pytest.fixture
def ref_key() -> signing.PrivateKey:
    return signing.generate_key(Scheme.REFERENCE)


@pytest.fixture
def ed_key() -> signing.PrivateKey:
    return signing.generate_key(Scheme.MODERN)


def test_node_signed_config_verifies_in_python(
    node_objecthash: NodeOracle, solution: dict[str, Any], tmp_path: Path
) -> None:
    keys = node_objecthash.call(op="keygen")
    signed = node_objecthash.call(op="sign", json=json.dumps(solution), priv=keys["priv"])
    solution["signature"] = signed["signature"]
    assert signing.reference_digest(solution) == signed["hash"]
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    trust = Trust(signing.load_public_key(keys["pub"].encode()), "node")
    cfg, sig = load_and_verify(path, trust)
    assert sig.digest == signed["hash"] and sig.scheme is Scheme.REFERENCE
    assert cfg.nodes.total == 5


def test_python_signed_config_verifies_in_node(
    node_objecthash: NodeOracle, solution: dict[str, Any], ref_key: signing.PrivateKey
) -> None:
    solution["signature"] = signing.sign_reference(solution, ref_key)
    reply = node_objecthash.call(
        op="verify", json=json.dumps(solution), pub=ref_key.public().base64_der
    )
    assert reply["ok"] is True
    assert reply["hash"] == signing.reference_digest(solution)
    solution["totalNodes"] = "6"
    reply = node_objecthash.call(
        op="verify", json=json.dumps(solution), pub=ref_key.public().base64_der
    )
    assert reply["ok"] is False


def test_reference_roundtrip_and_tamper(
    solution: dict[str, Any], ref_key: signing.PrivateKey, tmp_path: Path
) -> None:
    solution["signature"] = signing.sign_reference(solution, ref_key)
    path = _write(tmp_path / "c.json", solution)  # bare (configuration-signer) shape
    assert load_verified_config(path, _trust(ref_key)).chain.chain_id == 5611
    solution["chainlinkChainId"] = 5612
    _write(path, solution)
    with pytest.raises(VerificationError):
        load_verified_config(path, _trust(ref_key))


def test_signature_by_another_key_rejected(solution: dict[str, Any], tmp_path: Path) -> None:
    signer, other = signing.generate_key(Scheme.REFERENCE), signing.generate_key(Scheme.REFERENCE)
    solution["signature"] = signing.sign_reference(solution, signer)
    path = _write(tmp_path / "c.json", solution)
    with pytest.raises(VerificationError, match="another key"):
        load_verified_config(path, _trust(other))


@pytest.mark.parametrize("cut", [1, 8, 40])
def test_truncated_signature_rejected(
    solution: dict[str, Any], ref_key: signing.PrivateKey, tmp_path: Path, cut: int
) -> None:
    sig = base64.b64decode(signing.sign_reference(solution, ref_key))
    solution["signature"] = base64.b64encode(sig[:-cut]).decode()
    path = _write(tmp_path / "c.json", solution)
    with pytest.raises(VerificationError):
        load_verified_config(path, _trust(ref_key))


@pytest.mark.parametrize("sig", ["", "not base64!", "AAAA", None, 5])
def test_garbage_signature_is_clear_error(
    solution: dict[str, Any], ref_key: signing.PrivateKey, tmp_path: Path, sig: Any
) -> None:
    solution["signature"] = sig
    path = _write(tmp_path / "c.json", solution)
    with pytest.raises(VerificationError):
        load_verified_config(path, _trust(ref_key))


def test_key_on_another_curve_rejected() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = p256.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(VerificationError, match="secp256r1"):
        signing.load_public_key(base64.b64encode(der))


def test_not_a_key_is_input_error() -> None:
    with pytest.raises(InputError):
        signing.load_public_key(b"hello")
    with pytest.raises(InputError):
        signing.load_private_key(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")


def test_public_key_formats_are_equivalent(ref_key: signing.PrivateKey) -> None:
    pub = ref_key.public()
    der = pub.spki_der
    for form in (signing.public_key_pem(pub), der, pub.base64_der.encode()):
        assert signing.load_public_key(form).fingerprint == pub.fingerprint


def test_modern_scheme_detached_signature(
    solution: dict[str, Any], ed_key: signing.PrivateKey, tmp_path: Path
) -> None:
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    sig_doc = signing.sign_modern(solution, ed_key)
    (tmp_path / "configuration.json.sig").write_text(json.dumps(sig_doc))
    cfg, sig = load_and_verify(path, _trust(ed_key))
    assert sig.digest == sig_doc["digest"] and cfg.nodes.total == 5
    # the key, not the file, decides the scheme: a reference signature does not help
    solution["signature"] = "anything"
    _write(path, {"solution": solution})
    with pytest.raises(VerificationError, match=r"does not (verify|match)"):
        load_verified_config(path, _trust(ed_key))


def test_modern_scheme_missing_or_foreign_signature(
    solution: dict[str, Any], ed_key: signing.PrivateKey, tmp_path: Path
) -> None:
    path = _write(tmp_path / "configuration.json", solution)
    with pytest.raises(VerificationError, match="missing"):
        load_verified_config(path, _trust(ed_key))
    other = signing.generate_key(Scheme.MODERN)
    (tmp_path / "configuration.json.sig").write_text(
        json.dumps(signing.sign_modern(solution, other))
    )
    with pytest.raises(VerificationError, match="signed by key"):
        load_verified_config(path, _trust(ed_key))
    forged = signing.sign_modern(solution, other)
    forged["keyId"] = ed_key.public().key_id
    (tmp_path / "configuration.json.sig").write_text(json.dumps(forged))
    with pytest.raises(VerificationError, match="does not verify"):
        load_verified_config(path, _trust(ed_key))
    (tmp_path / "configuration.json.sig").write_text("{not json")
    with pytest.raises(VerificationError, match="not JSON"):
        load_verified_config(path, _trust(ed_key))


def test_reference_signature_with_ed25519_key_and_vice_versa(
    solution: dict[str, Any], ed_key: signing.PrivateKey, ref_key: signing.PrivateKey
) -> None:
    with pytest.raises(InputError):
        signing.sign_reference(solution, ed_key)
    with pytest.raises(InputError):
        signing.sign_modern(solution, ref_key)
    signed = copy.deepcopy(solution)
    signed["signature"] = signing.sign_reference(signed, ref_key)
    with pytest.raises(VerificationError):
        signing.verify_reference(signed, ed_key.public())


def test_ed25519_raw_key_type_loads() -> None:
    raw = ed25519.Ed25519PrivateKey.generate()
    pem = raw.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert signing.load_private_key(pem).scheme is Scheme.MODERN
