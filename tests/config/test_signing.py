"""Both signature schemes: interop with node crypto, and every way a signature can be wrong."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

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
    verified = load_and_verify(path, trust)
    cfg, sig = verified.config, verified.signature
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


def test_key_on_another_curve_is_bad_input() -> None:
    """Issue #19.5: a P-256 key is the wrong key -- bad input (exit 2) like garbage, not a
    failed verification (exit 1)."""
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = p256.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InputError, match=r"P-256 \(secp256r1\)") as ei:
        signing.load_public_key(base64.b64encode(der))
    assert ei.value.exit_code == 2


def test_rsa_key_is_bad_input() -> None:
    rsa_pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = rsa_pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InputError, match="an RSA key; configuration keys are secp256k1") as ei:
        signing.load_public_key(pem, location="owner.pub")
    assert ei.value.exit_code == 2 and ei.value.location == "owner.pub"


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
    verified = load_and_verify(path, _trust(ed_key))
    cfg, sig = verified.config, verified.signature
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


# --- issue #19.5: the scheme the configuration is signed with vs the trusted key ------------


@pytest.mark.parametrize("where", ["embedded", "detached"])
def test_ed25519_signed_config_with_secp256k1_key_names_the_mismatch(
    solution: dict[str, Any],
    ed_key: signing.PrivateKey,
    ref_key: signing.PrivateKey,
    tmp_path: Path,
    where: str,
) -> None:
    path = tmp_path / "configuration.json"
    sig_doc = signing.sign_modern(solution, ed_key)
    if where == "embedded":
        solution[signing.EMBEDDED_SIGNATURE_KEY] = sig_doc
    else:
        (tmp_path / "configuration.json.sig").write_text(json.dumps(sig_doc))
    _write(path, {"solution": solution})
    with pytest.raises(VerificationError) as ei:
        load_verified_config(path, _trust(ref_key))
    msg = ei.value.message
    assert "no signature field" not in msg
    assert "signed with ed25519-jcs" in msg and "the trusted key is secp256k1" in msg
    assert "pass the owner's Ed25519 public key" in msg
    assert ei.value.exit_code == 1


def test_secp256k1_signed_config_with_ed25519_key_names_the_mismatch(
    solution: dict[str, Any],
    ed_key: signing.PrivateKey,
    ref_key: signing.PrivateKey,
    tmp_path: Path,
) -> None:
    solution["signature"] = signing.sign_reference(solution, ref_key)
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    with pytest.raises(VerificationError) as ei:
        load_verified_config(path, _trust(ed_key))
    msg = ei.value.message
    assert "detached signature file missing" not in msg and "is missing" not in msg
    assert "signed with secp256k1-objecthash" in msg and "the trusted key is Ed25519" in msg


def test_unsigned_config_still_says_unsigned(
    solution: dict[str, Any],
    ref_key: signing.PrivateKey,
    ed_key: signing.PrivateKey,
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    with pytest.raises(VerificationError, match="not signed"):
        load_verified_config(path, _trust(ref_key))
    with pytest.raises(VerificationError, match="not signed"):
        load_verified_config(path, _trust(ed_key))


def test_huge_integer_is_named_not_a_python_hint(
    solution: dict[str, Any], ref_key: signing.PrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "configuration.json"
    text = json.dumps({"solution": solution}, indent=2)
    text = text.replace('"pgPort": 5432', '"pgPort": ' + "9" * 5001)
    path.write_text(text)
    with pytest.raises(InputError) as ei:
        load_verified_config(path, _trust(ref_key))
    msg = ei.value.message
    assert "set_int_max_str_digits" not in msg
    assert "an integer with 5,001 digits at line" in msg and "not accepted" in msg
    assert ei.value.location == str(path) and ei.value.exit_code == 2


# --- issue #17.2: one read; the hash is of the verified bytes ----------------------------


def test_verified_config_carries_document_and_hash_of_one_read(
    solution: dict[str, Any], ref_key: signing.PrivateKey, tmp_path: Path
) -> None:
    import hashlib

    from sealfeed.config.objecthash import object_hash

    solution["signature"] = signing.sign_reference(solution, ref_key)
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    verified = load_and_verify(path, _trust(ref_key))
    assert verified.document.document == {"solution": solution}
    assert verified.config_hash == object_hash({"solution": solution})
    assert verified.document.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert verified.path == path and verified.signature.scheme is Scheme.REFERENCE


def test_file_swapped_after_verification_cannot_change_the_hash(
    solution: dict[str, Any],
    ref_key: signing.PrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TOCTOU: an attacker replaces the file right after its signature verified. The hash
    (what quotes and orders bind) is still of the verified document, because nothing is
    read again -- the swap is invisible, by construction."""
    from sealfeed.config import loader
    from sealfeed.config.objecthash import object_hash

    solution["signature"] = signing.sign_reference(solution, ref_key)
    path = _write(tmp_path / "configuration.json", {"solution": solution})
    honest = json.loads(path.read_text())
    evil = copy.deepcopy(honest)
    evil["solution"]["pgPort"] = 6666  # unsigned change
    real_verify = loader.verify_document
    opened: list[Path] = []
    real_read = loader.read_config_document

    def counting_read(p: Any) -> Any:
        opened.append(Path(p))
        return real_read(p)

    def verify_then_swap(*a: Any, **kw: Any) -> Any:
        result = real_verify(*a, **kw)
        _write(path, evil)  # the swap, between verification and anything after it
        return result

    monkeypatch.setattr(loader, "verify_document", verify_then_swap)
    monkeypatch.setattr(loader, "read_config_document", counting_read)
    verified = load_and_verify(path, _trust(ref_key), read_secrets=False)
    assert opened == [path]  # one read
    assert verified.config_hash == object_hash(honest) != object_hash(evil)
    assert verified.document.document == honest
    assert verified.config.postgres.port == 5432  # the typed config is of the same bytes
