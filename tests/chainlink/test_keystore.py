"""Key formats: interop with eth-account/eth-keyfile and the Chainlink export layouts."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import eth_keyfile
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from sealfeed.chainlink.keystore import (
    STANDARD_SCRYPT_N,
    EvmKey,
    OCR1KeyBundle,
    OCR2KeyBundle,
    P2PKey,
    ScryptParams,
    b58decode,
    b58encode,
    decrypt_data_v3,
    peer_id_from_public,
    public_from_peer_id,
    to_checksum_address,
)
from sealfeed.errors import InputError
from sealfeed.secret import Secret
from tests.chainlink.conftest import FAST, seeded

PW = Secret("a-keystore-password-123")

# RFC 8032 §7.1 TEST 1 (ed25519 seed -> public key)
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def _independent_b58(data: bytes) -> str:
    """A second base58 implementation (digit-by-digit carry), for cross-checking."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    digits = [0]
    for byte in data:
        carry = byte
        for i in range(len(digits)):
            carry += digits[i] << 8
            digits[i], carry = carry % 58, carry // 58
        while carry:
            digits.append(carry % 58)
            carry //= 58
    zeros = len(data) - len(data.lstrip(b"\0"))
    body = "".join(alphabet[d] for d in reversed(digits)).lstrip("1")
    return "1" * zeros + body


def test_base58_bitcoin_vectors() -> None:
    assert b58encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert b58encode(b"\x00\x00\x28\x7f\xb4\xcd") == "11233QC4"
    assert b58decode("11233QC4") == b"\x00\x00\x28\x7f\xb4\xcd"


@given(st.binary(max_size=48))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert b58encode(data) == _independent_b58(data)


def test_eip55_vectors() -> None:
    # EIP-55 specification examples
    for addr in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    ):
        assert to_checksum_address(bytes.fromhex(addr[2:])) == addr


# --- EVM ----------------------------------------------------------------------------------


def test_eth_account_decrypts_ours() -> None:
    key = EvmKey.generate(seeded(1))
    doc = key.export(PW, FAST, random=seeded(2))
    assert set(doc) == {"address", "crypto", "id", "version"}
    assert doc["version"] == 3 and doc["address"] == key.address[2:].lower()
    assert doc["crypto"]["kdf"] == "scrypt" and doc["crypto"]["cipher"] == "aes-128-ctr"
    assert doc["crypto"]["kdfparams"] == {
        "dklen": 32,
        "n": FAST.n,
        "p": 1,
        "r": 8,
        "salt": doc["crypto"]["kdfparams"]["salt"],
    }
    # Chainlink derives the keystore UUID from the first 16 address bytes (ethkey/export.go)
    assert doc["id"].replace("-", "") == doc["address"][:32]
    priv = Account.decrypt(json.dumps(doc), PW.reveal())
    assert bytes(priv) == key.private
    assert Account.from_key(priv).address == key.address


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_we_decrypt_eth_account_keystores(kdf: str) -> None:
    acct = Account.from_key(bytes(range(1, 33)))
    doc = Account.encrypt(acct.key, "another password", kdf=kdf, iterations=1 << 10)
    key = EvmKey.from_export(doc, Secret("another password"))
    assert key.private == bytes(acct.key) and key.address == acct.address


def test_wrong_password_is_a_precise_error() -> None:
    doc = EvmKey.generate(seeded(3)).export(PW, FAST)
    with pytest.raises(InputError, match="MAC mismatch") as exc:
        EvmKey.from_export(doc, Secret("not the password!"), where="node-2/evm_key.json")
    assert exc.value.location == "node-2/evm_key.json.crypto"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("crypto"),
        lambda d: d["crypto"].update(cipher="aes-256-gcm"),
        lambda d: d["crypto"].update(ciphertext="zz"),
        lambda d: d["crypto"]["kdfparams"].update(n=3),
        lambda d: d["crypto"]["kdfparams"].pop("salt"),
        lambda d: d.update(version=4),
    ],
    ids=["no-crypto", "cipher", "hex", "scrypt-n", "no-salt", "version"],
)
def test_malformed_keystore_is_input_error(mutate) -> None:  # type: ignore[no-untyped-def]
    doc = EvmKey.generate(seeded(4)).export(PW, FAST)
    mutate(doc)
    with pytest.raises(InputError):
        EvmKey.from_export(doc, PW)


@pytest.mark.slow
def test_standard_scrypt_n_interop() -> None:
    """One key at production cost (N=2^18, go-ethereum StandardScryptN)."""
    key = EvmKey.generate(seeded(5))
    doc = key.export(PW, ScryptParams(n=STANDARD_SCRYPT_N))
    assert doc["crypto"]["kdfparams"]["n"] == 262144
    assert bytes(Account.decrypt(doc, PW.reveal())) == key.private


def test_repr_hides_private_material() -> None:
    for key in (
        EvmKey.generate(),
        P2PKey.generate(),
        OCR2KeyBundle.generate(),
        OCR1KeyBundle.generate(),
    ):
        text = repr(key) + str(key)
        for secret in vars(key).values():
            assert secret.hex() not in text


# --- P2P ----------------------------------------------------------------------------------


def test_peer_id_rfc8032_vector() -> None:
    key = P2PKey(RFC8032_SEED)
    assert key.public_key == RFC8032_PUB
    # identity multihash (0x00, len 0x24) of protobuf PublicKey{Ed25519, 32 bytes}
    expected = _independent_b58(bytes.fromhex("0024080112") + b"\x20" + RFC8032_PUB)
    assert key.peer_id == expected == peer_id_from_public(RFC8032_PUB)
    assert key.peer_id.startswith("12D3KooW")
    assert public_from_peer_id("p2p_" + key.peer_id) == RFC8032_PUB


def test_p2p_export_format_and_decrypt() -> None:
    key = P2PKey(RFC8032_SEED)
    doc = key.export(PW, FAST, random=seeded(6))
    assert list(doc) == ["keyType", "publicKey", "peerID", "crypto"]
    assert doc["keyType"] == "P2P"
    assert doc["publicKey"] == RFC8032_PUB.hex()
    assert doc["peerID"] == "p2p_" + key.peer_id
    # eth-keyfile (independent) decrypts with Chainlink's adulterated password "p2pkey"+pw
    raw = eth_keyfile.decode_keyfile_json(
        {"version": 3, "crypto": doc["crypto"]}, b"p2pkey" + PW.reveal().encode()
    )
    assert bytes(raw) == bytes([0x08, 0x01, 0x12, 0x40]) + RFC8032_SEED + RFC8032_PUB
    assert P2PKey.from_export(doc, PW) == key
    with pytest.raises(InputError):
        P2PKey.from_export({**doc, "peerID": "p2p_" + P2PKey.generate().peer_id}, PW)


def test_invalid_peer_id() -> None:
    with pytest.raises(InputError):
        public_from_peer_id("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    with pytest.raises(InputError):
        public_from_peer_id("12D3KooW0OIl")


# --- OCR2 ---------------------------------------------------------------------------------


def test_ocr2_export_format_and_decrypt() -> None:
    bundle = OCR2KeyBundle.generate(seeded(8))
    doc = bundle.export(PW, FAST, random=seeded(9))
    assert list(doc) == [
        "keyType",
        "chainType",
        "id",
        "onchainPublicKey",
        "offchainPublicKey",
        "configPublicKey",
        "crypto",
    ]
    assert doc["keyType"] == "OCR2" and doc["chainType"] == "evm"
    raw = bytes(
        eth_keyfile.decode_keyfile_json(
            {"version": 3, "crypto": doc["crypto"]}, b"ocr2key" + PW.reveal().encode()
        )
    )
    # Go json.Marshal(keyBundleRawData): field order, std base64, no spaces, omitempty legacy
    m = re.fullmatch(rb'\{"ChainType":"evm","OffchainKeyring":"([^"]+)","Keyring":"([^"]+)"\}', raw)
    assert m is not None
    off, on = base64.b64decode(m.group(1)), base64.b64decode(m.group(2))
    assert len(off) == 96 and len(on) == 32
    assert doc["id"] == hashlib.sha256(raw).hexdigest() == bundle.id
    # on-chain "public key" of an EVM bundle = signer address (hex, no 0x)
    assert doc["onchainPublicKey"] == Account.from_key(on).address[2:].lower()
    assert doc["offchainPublicKey"] == off[32:64].hex()
    cfg_pub = x25519.X25519PrivateKey.from_private_bytes(off[64:]).public_key()
    assert doc["configPublicKey"] == cfg_pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    assert OCR2KeyBundle.from_export(doc, PW) == bundle


def test_ocr2_tampered_id_rejected() -> None:
    doc = OCR2KeyBundle.generate(seeded(10)).export(PW, FAST)
    doc["id"] = "00" * 32
    with pytest.raises(InputError, match="id does not match"):
        OCR2KeyBundle.from_export(doc, PW)


def test_decrypt_data_v3_rejects_bad_kdf() -> None:
    crypto = EvmKey.generate(seeded(11)).export(PW, FAST)["crypto"]
    with pytest.raises(InputError, match="unsupported kdf"):
        decrypt_data_v3({**crypto, "kdf": "argon2"}, b"x")


# --- OCR1 ---------------------------------------------------------------------------------

#: Chainlink core/internal/cltest: DefaultOCRKeyBundleID is the id of
#: ocrkey.MustNewV2XXXTestingOnly(big.NewInt(1)) -- EcdsaD = 1, ed25519 seed and
#: OffChainEncryption = 01 00 .. 00 -- so it pins the payload byte for byte.
CHAINLINK_DEFAULT_OCR_KEY_ID = "f5bf259689b26f1374efb3c9a9868796953a0f814bb2d39b968d0e61b58620a5"


def test_ocr1_chainlink_vector() -> None:
    one = bytes([1]) + bytes(31)
    bundle = OCR1KeyBundle((1).to_bytes(32, "big"), one, one)
    assert bundle.id == CHAINLINK_DEFAULT_OCR_KEY_ID
    # secp256k1 scalar 1 is the generator G; its address is a well-known constant
    assert bundle.onchain_signing_address == Account.from_key((1).to_bytes(32, "big")).address
    assert bundle.onchain_signing_address == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"


def test_ocr1_export_format_and_decrypt() -> None:
    bundle = OCR1KeyBundle.generate(seeded(12))
    doc = bundle.export(PW, FAST, random=seeded(13))
    assert list(doc) == [
        "keyType",
        "id",
        "onChainSigningAddress",
        "offChainPublicKey",
        "configPublicKey",
        "crypto",
    ]
    assert doc["keyType"] == "OCR"
    raw = bytes(
        eth_keyfile.decode_keyfile_json(
            {"version": 3, "crypto": doc["crypto"]}, b"ocrkey" + PW.reveal().encode()
        )
    )
    # Go json.Marshal(keyBundleRawData): big.Int as a number, []byte as base64, [32]byte as
    # an array of numbers, no spaces
    m = re.fullmatch(
        rb'\{"EcdsaD":([0-9]+),"Ed25519PrivKey":"([^"]+)","OffChainEncryption":\[([0-9,]+)\]\}',
        raw,
    )
    assert m is not None
    d = int(m.group(1))
    ed = base64.b64decode(m.group(2))
    enc = bytes(int(x) for x in m.group(3).split(b","))
    assert len(ed) == 64 and len(enc) == 32
    assert json.loads(raw) == {
        "EcdsaD": d,
        "Ed25519PrivKey": m.group(2).decode(),
        "OffChainEncryption": list(enc),
    }
    assert doc["id"] == hashlib.sha256(raw).hexdigest() == bundle.id
    assert (
        doc["onChainSigningAddress"] == "ocrsad_" + Account.from_key(d.to_bytes(32, "big")).address
    )
    assert doc["offChainPublicKey"] == "ocroff_" + ed[32:].hex()
    cfg_pub = x25519.X25519PrivateKey.from_private_bytes(enc).public_key()
    assert (
        doc["configPublicKey"]
        == "ocrcfg_" + cfg_pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    )
    assert OCR1KeyBundle.from_export(doc, PW) == bundle
    # Chainlink's own v1 exports carry no keyType and a lower-case address: still accepted
    legacy = {k: v for k, v in doc.items() if k != "keyType"}
    legacy["onChainSigningAddress"] = legacy["onChainSigningAddress"].lower()
    assert OCR1KeyBundle.from_export(legacy, PW) == bundle


_SEED = bytes(range(32))


def _payload(d: object = 1, ed: bytes | None = None, enc: object = None) -> bytes:
    pub = (
        ed25519.Ed25519PrivateKey.from_private_bytes(_SEED)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    doc = {
        "EcdsaD": d,
        "Ed25519PrivKey": base64.b64encode(_SEED + pub if ed is None else ed).decode(),
        "OffChainEncryption": list(_SEED) if enc is None else enc,
    }
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"[]", "malformed"),
        (b"{}", "malformed"),
        (_payload(d="1"), "EcdsaD"),
        (_payload(d=0), "EcdsaD"),
        (_payload(d=1 << 256), "EcdsaD"),
        (_payload(ed=b"\0" * 32), "64 bytes"),
        (_payload(enc=[1, 2]), "32 byte values"),
        (_payload(enc=[300] * 32), "32 byte values"),
        (_payload(ed=_SEED + bytes(32)), "public half"),
    ],
)
def test_ocr1_malformed_payload(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        OCR1KeyBundle.from_raw(payload)
    assert OCR1KeyBundle.from_raw(_payload()).offchain_seed == _SEED  # the control parses


def test_ocr1_tampered_export_rejected() -> None:
    doc = OCR1KeyBundle.generate(seeded(15)).export(PW, FAST)
    with pytest.raises(InputError, match="id does not match"):
        OCR1KeyBundle.from_export({**doc, "id": "00" * 32}, PW)
    other = OCR1KeyBundle.generate(seeded(16)).onchain_signing_address
    with pytest.raises(InputError, match="onChainSigningAddress"):
        OCR1KeyBundle.from_export({**doc, "onChainSigningAddress": "ocrsad_" + other}, PW)
    with pytest.raises(InputError, match="keyType"):
        OCR1KeyBundle.from_export({**doc, "keyType": "OCR2"}, PW)
    with pytest.raises(InputError, match="MAC mismatch"):
        OCR1KeyBundle.from_export(doc, Secret("not-the-password-000"))
