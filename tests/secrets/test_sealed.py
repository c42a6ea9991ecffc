"""Sealed bundles: HPKE to the appliance's import key (ADR 0131)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sealfeed.errors import InputError, VerificationError
from sealfeed.secret import Secret
from sealfeed.secrets.keys import public_bytes
from sealfeed.secrets.sealed import FORMAT, key_id, open_bundle, parse_bundle, seal

SECRETS = {"exchanges/finnhub.key": "finnhub-key-1234", "push/password": Secret("push-pw-5678")}


def _roundtrip(doc: dict[str, str]) -> bytes:
    return json.dumps(doc).encode()


def test_seal_then_open() -> None:
    key = X25519PrivateKey.generate()
    bundle = seal(SECRETS, public_bytes(key))
    doc = bundle.to_json()
    assert doc["format"] == FORMAT and doc["recipient"] == key_id(public_bytes(key))
    text = json.dumps(doc)
    assert "finnhub-key-1234" not in text and "push-pw-5678" not in text
    opened = open_bundle(parse_bundle(_roundtrip(doc), location="b"), key, location="b")
    assert {k: v.reveal() for k, v in opened.items()} == {
        "exchanges/finnhub.key": "finnhub-key-1234",
        "push/password": "push-pw-5678",
    }


def test_another_appliance_cannot_open_it_and_says_whose_it_is() -> None:
    mine, theirs = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    doc = seal(SECRETS, public_bytes(theirs)).to_json()
    with pytest.raises(VerificationError) as err:
        open_bundle(parse_bundle(_roundtrip(doc), location="b"), mine, location="b")
    assert key_id(public_bytes(theirs)) in err.value.message
    assert key_id(public_bytes(mine)) in err.value.message


def test_relabelled_or_altered_bundles_do_not_open() -> None:
    key, other = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    # sealed to `other`, relabelled as if for `key`: the label is bound by HPKE info
    doc = seal(SECRETS, public_bytes(other)).to_json()
    doc["recipient"] = key_id(public_bytes(key))
    with pytest.raises(VerificationError, match="does not decrypt"):
        open_bundle(parse_bundle(_roundtrip(doc), location="b"), key, location="b")
    doc = seal(SECRETS, public_bytes(key)).to_json()
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[-1] ^= 1
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(VerificationError, match="does not decrypt"):
        open_bundle(parse_bundle(_roundtrip(doc), location="b"), key, location="b")


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside", "a/../../b", "a//b", "./a", ".", ""],
    ids=["absolute", "dotdot", "escape", "double-slash", "dot-prefix", "dot", "empty"],
)  # fmt: skip
def test_names_stay_inside_the_secrets_dir(name: str) -> None:
    with pytest.raises(InputError):
        seal({name: "value-1234"}, public_bytes(X25519PrivateKey.generate()))


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"format": "other"}',
     json.dumps({"format": FORMAT, "recipient": "x", "ciphertext": ""}).encode(),
     json.dumps({"format": FORMAT, "recipient": "sha256:00", "ciphertext": "!!"}).encode(),
     json.dumps({"format": FORMAT, "recipient": "sha256:00", "ciphertext": "AAAA"}).encode()],
    ids=["text", "list", "format", "recipient", "base64", "short"],
)  # fmt: skip
def test_malformed_bundles_are_input_errors(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_bundle(data, location="bundle.sealed.json")
