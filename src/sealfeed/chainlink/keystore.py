"""Chainlink key material in the formats ``chainlink keys ... import`` accepts (pure core).

Three kinds of key per node, each exported as an encrypted JSON document:

* **EVM** (transmitter): a secp256k1 key as Web3 Secret Storage v3 JSON (go-ethereum
  ``keystore.EncryptKey``; Chainlink ``core/services/keystore/keys/ethkey/export.go``):
  ``{"address": <lower hex, no 0x>, "crypto": {...}, "id": <uuid>, "version": 3}``. The
  UUID is derived from the first 16 address bytes, as Chainlink's own export does.
* **P2P** (libp2p / ragep2p identity): an ed25519 key, exported as
  ``{"keyType": "P2P", "publicKey": <hex>, "peerID": "p2p_12D3KooW...", "crypto": {...}}``
  (``keys/p2pkey/export.go``); the encrypted payload is the libp2p protobuf private key
  ``08 01 12 40 || seed(32) || pub(32)`` (``p2pkey/key_v2.go`` ``libp2pPBPrefix``) under the
  password ``"p2pkey" + password``.
* **OCR2 key bundle** (EVM chain type): ``{"keyType": "OCR2", "chainType": "evm", "id",
  "onchainPublicKey", "offchainPublicKey", "configPublicKey", "crypto"}``
  (``keys/ocr2key/export.go``). The payload is Go's ``json.Marshal`` of ``keyBundleRawData``
  ``{"ChainType":"evm","OffchainKeyring":<b64>,"Keyring":<b64>}`` where ``OffchainKeyring``
  = ed25519 private key (64 bytes) || X25519 scalar (32 bytes) and ``Keyring`` = the 32-byte
  secp256k1 scalar (``generic_key_bundle.go``, ``offchain_keyring.go``, ``evm_keyring.go``);
  the bundle id is ``sha256(payload)``; the password is ``"ocr2key" + password``.
* **OCR1 key bundle** (``keys/ocrkey``, for OCR1 ``offchainreporting`` jobs):
  ``{"keyType": "OCR", "id", "onChainSigningAddress": "ocrsad_0x<EIP-55>",
  "offChainPublicKey": "ocroff_<hex>", "configPublicKey": "ocrcfg_<hex>", "crypto"}``
  (``ocrkey/export.go``). The payload is Go's ``json.Marshal`` of ``keyBundleRawData``
  ``{"EcdsaD": <secp256k1 scalar as a JSON number>, "Ed25519PrivKey": <b64 of seed || pub>,
  "OffChainEncryption": [<32 X25519 scalar bytes as numbers>]}`` (``ocrkey/key_v2.go``: a
  ``big.Int`` marshals as a decimal number, a ``[32]byte`` array as an array, a ``[]byte``
  slice as base64); the bundle id is ``sha256(payload)``; the password is
  ``"ocrkey" + password``.

All three share go-ethereum's ``EncryptDataV3``: scrypt(password, salt32, N, r=8, p, 32),
AES-128-CTR with the first 16 derived bytes and a 16-byte IV, MAC =
keccak256(derived[16:32] || ciphertext). Randomness is injectable so tests are deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from Crypto.Hash import keccak
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealfeed.errors import InputError
from sealfeed.secret import Secret

#: go-ethereum ``keystore.StandardScryptN``/``StandardScryptP`` (what Chainlink uses when
#: ``InsecureFastScrypt`` is off); r and dklen are fixed by ``EncryptDataV3``.
STANDARD_SCRYPT_N = 1 << 18
STANDARD_SCRYPT_P = 1
SCRYPT_R = 8
SCRYPT_DKLEN = 32
#: go-ethereum ``keystore.LightScryptN`` -- for tests only (``--scrypt-n`` overrides exist)
LIGHT_SCRYPT_N = 1 << 12

#: libp2p protobuf ``PrivateKey{Type: Ed25519(1), Data: 64 bytes}`` header (field 1 varint = 1,
#: field 2 length-delimited, length 0x40); Chainlink ``p2pkey.libp2pPBPrefix``.
LIBP2P_ED25519_PRIVATE_PREFIX = bytes([0x08, 0x01, 0x12, 0x40])
#: ``PublicKey{Type: Ed25519, Data: 32 bytes}`` header
LIBP2P_ED25519_PUBLIC_PREFIX = bytes([0x08, 0x01, 0x12, 0x20])
#: multihash "identity" code 0x00 (libp2p peer-ids spec: keys <= 42 bytes are inlined)
MULTIHASH_IDENTITY = 0x00
PEER_ID_PREFIX = "p2p_"

P2P_PASSWORD_PREFIX = "p2pkey"  # noqa: S105 -- p2pkey/export.go adulteratedPassword
OCR2_PASSWORD_PREFIX = "ocr2key"  # noqa: S105 -- ocr2key/key_bundle.go adulteratedPassword
OCR1_PASSWORD_PREFIX = "ocrkey"  # noqa: S105 -- ocrkey/export.go adulteratedPassword

#: prefixes of the OCR1 export's public fields (ocrkey/on_chain_signing_address.go,
#: off_chain_public_key.go, config_public_key.go)
OCR1_SIGNING_ADDRESS_PREFIX = "ocrsad_"
OCR1_OFFCHAIN_KEY_PREFIX = "ocroff_"
OCR1_CONFIG_KEY_PREFIX = "ocrcfg_"

#: secp256k1 group order (SEC 2 §2.4.1) -- a private scalar must be in [1, n-1]
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

RandomBytes = Callable[[int], bytes]


def keccak256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


# --- base58btc -----------------------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b58encode(data: bytes) -> str:
    """Bitcoin base58 (leading zero bytes become '1')."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        try:
            n = n * 58 + _B58_INDEX[ch]
        except KeyError:
            raise InputError(f"invalid base58 character {ch!r}") from None
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


# --- EncryptDataV3 / DecryptDataV3 ---------------------------------------------------------


@dataclass(frozen=True)
class ScryptParams:
    n: int = STANDARD_SCRYPT_N
    p: int = STANDARD_SCRYPT_P


DEFAULT_SCRYPT = ScryptParams()


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL refuses more than 32 MiB by default; N=2^18, r=8 needs 128*r*N = 256 MiB.
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def _aes128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def encrypt_data_v3(
    data: bytes,
    password: bytes,
    params: ScryptParams = DEFAULT_SCRYPT,
    *,
    random: RandomBytes = os.urandom,
) -> dict[str, Any]:
    """go-ethereum ``keystore.EncryptDataV3``: the ``crypto`` object of a v3 keystore."""
    salt = random(32)
    iv = random(16)
    dk = _scrypt(password, salt, params.n, SCRYPT_R, params.p, SCRYPT_DKLEN)
    ciphertext = _aes128_ctr(dk[:16], iv, data)
    mac = keccak256(dk[16:32] + ciphertext)
    # Field order as Go marshals CryptoJSON; kdfparams is a map (Go sorts map keys).
    return {
        "cipher": "aes-128-ctr",
        "ciphertext": ciphertext.hex(),
        "cipherparams": {"iv": iv.hex()},
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": SCRYPT_DKLEN,
            "n": params.n,
            "p": params.p,
            "r": SCRYPT_R,
            "salt": salt.hex(),
        },
        "mac": mac.hex(),
    }


def _field(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise InputError(f"missing field {key!r}", location=where)
    value = obj[key]
    if kind is int and isinstance(value, bool):
        raise InputError(f"field {key!r} must be an integer", location=where)
    if not isinstance(value, kind):
        raise InputError(f"field {key!r} must be a {kind.__name__}", location=where)
    return value


def _hex(value: str, key: str, where: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InputError(f"field {key!r} is not hex", location=where) from None


def decrypt_data_v3(crypto: Mapping[str, Any], password: bytes, *, where: str = "crypto") -> bytes:
    """go-ethereum ``keystore.DecryptDataV3`` (scrypt + pbkdf2-hmac-sha256 KDFs)."""
    cipher = _field(crypto, "cipher", str, where)
    if cipher != "aes-128-ctr":
        raise InputError(f"unsupported cipher {cipher!r}", location=where)
    ciphertext = _hex(_field(crypto, "ciphertext", str, where), "ciphertext", where)
    iv = _hex(
        _field(_field(crypto, "cipherparams", dict, where), "iv", str, where + ".cipherparams"),
        "iv",
        where,
    )
    kdf = _field(crypto, "kdf", str, where)
    kp = _field(crypto, "kdfparams", dict, where)
    kwhere = where + ".kdfparams"
    salt = _hex(_field(kp, "salt", str, kwhere), "salt", kwhere)
    dklen = _field(kp, "dklen", int, kwhere)
    if dklen < 32:
        raise InputError("dklen must be >= 32", location=kwhere)
    if kdf == "scrypt":
        n, r, p = (_field(kp, k, int, kwhere) for k in ("n", "r", "p"))
        if n < 2 or n & (n - 1) or n > 1 << 22 or not 1 <= r <= 64 or not 1 <= p <= 16:
            raise InputError("scrypt parameters out of range", location=kwhere)
        dk = _scrypt(password, salt, n, r, p, dklen)
    elif kdf == "pbkdf2":
        prf = _field(kp, "prf", str, kwhere)
        if prf != "hmac-sha256":
            raise InputError(f"unsupported prf {prf!r}", location=kwhere)
        dk = hashlib.pbkdf2_hmac("sha256", password, salt, _field(kp, "c", int, kwhere), dklen)
    else:
        raise InputError(f"unsupported kdf {kdf!r}", location=where)
    mac = _hex(_field(crypto, "mac", str, where), "mac", where)
    if not hmac.compare_digest(keccak256(dk[16:32] + ciphertext), mac):
        raise InputError("MAC mismatch: wrong password or corrupted key file", location=where)
    return _aes128_ctr(dk[:16], iv, ciphertext)


# --- EVM ----------------------------------------------------------------------------------


def to_checksum_address(addr20: bytes) -> str:
    """EIP-55 mixed-case checksum encoding."""
    hexaddr = addr20.hex()
    digest = keccak256(hexaddr.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hexaddr)
    )


def _secp256k1_address(scalar: bytes) -> bytes:
    d = int.from_bytes(scalar, "big")
    if not 1 <= d < SECP256K1_N:
        raise InputError("secp256k1 private key out of range")
    pub = ec.derive_private_key(d, ec.SECP256K1()).public_key()
    raw = pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)  # 0x04 || X || Y
    return keccak256(raw[1:])[-20:]


def _random_scalar(random: RandomBytes) -> bytes:
    while True:
        cand = random(32)
        if 1 <= int.from_bytes(cand, "big") < SECP256K1_N:
            return cand


@dataclass(frozen=True)
class EvmKey:
    private: bytes  # 32-byte secp256k1 scalar; never printed (repr hides it)

    def __repr__(self) -> str:
        return f"EvmKey(address={self.address})"

    @classmethod
    def generate(cls, random: RandomBytes = os.urandom) -> EvmKey:
        return cls(_random_scalar(random))

    @property
    def address(self) -> str:
        return to_checksum_address(_secp256k1_address(self.private))

    def export(
        self,
        password: Secret,
        params: ScryptParams = DEFAULT_SCRYPT,
        *,
        random: RandomBytes = os.urandom,
    ) -> dict[str, Any]:
        addr = _secp256k1_address(self.private)
        crypto = encrypt_data_v3(self.private, password.reveal().encode(), params, random=random)
        return {
            "address": addr.hex(),
            "crypto": crypto,
            "id": str(uuid.UUID(bytes=addr[:16])),
            "version": 3,
        }

    @classmethod
    def from_export(cls, doc: Mapping[str, Any], password: Secret, *, where: str = "evm") -> EvmKey:
        if doc.get("version") != 3:
            raise InputError("not a version 3 keystore", location=where)
        raw = decrypt_data_v3(
            _field(doc, "crypto", dict, where), password.reveal().encode(), where=where + ".crypto"
        )
        if len(raw) != 32:
            raise InputError("EVM private key must be 32 bytes", location=where)
        key = cls(raw)
        stated = str(doc.get("address", "")).lower().removeprefix("0x")
        if stated and stated != key.address[2:].lower():
            raise InputError("address does not match the private key", location=where)
        return key


# --- P2P ----------------------------------------------------------------------------------


def peer_id_from_public(pub32: bytes) -> str:
    """libp2p peer id (``12D3KooW...``): identity multihash of the protobuf public key."""
    proto = LIBP2P_ED25519_PUBLIC_PREFIX + pub32
    return b58encode(bytes([MULTIHASH_IDENTITY, len(proto)]) + proto)


def public_from_peer_id(peer_id: str) -> bytes:
    """Inverse of :func:`peer_id_from_public` (accepts the ``p2p_`` prefix)."""
    raw = b58decode(peer_id.removeprefix(PEER_ID_PREFIX))
    head = bytes([MULTIHASH_IDENTITY, 36]) + LIBP2P_ED25519_PUBLIC_PREFIX
    if len(raw) != 2 + 36 or not raw.startswith(head):
        raise InputError(f"not an ed25519 identity peer id: {peer_id!r}")
    return raw[len(head) :]


def _ed25519_public(seed: bytes) -> bytes:
    return (
        ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


@dataclass(frozen=True)
class P2PKey:
    seed: bytes  # 32-byte ed25519 seed; never printed

    def __repr__(self) -> str:
        return f"P2PKey(peer_id={self.peer_id})"

    @classmethod
    def generate(cls, random: RandomBytes = os.urandom) -> P2PKey:
        return cls(random(32))

    @property
    def public_key(self) -> bytes:
        return _ed25519_public(self.seed)

    @property
    def peer_id(self) -> str:
        return peer_id_from_public(self.public_key)

    def raw(self) -> bytes:
        return LIBP2P_ED25519_PRIVATE_PREFIX + self.seed + self.public_key

    def export(
        self,
        password: Secret,
        params: ScryptParams = DEFAULT_SCRYPT,
        *,
        random: RandomBytes = os.urandom,
    ) -> dict[str, Any]:
        pw = (P2P_PASSWORD_PREFIX + password.reveal()).encode()
        return {
            "keyType": "P2P",
            "publicKey": self.public_key.hex(),
            "peerID": PEER_ID_PREFIX + self.peer_id,
            "crypto": encrypt_data_v3(self.raw(), pw, params, random=random),
        }

    @classmethod
    def from_export(cls, doc: Mapping[str, Any], password: Secret, *, where: str = "p2p") -> P2PKey:
        if doc.get("keyType") != "P2P":
            raise InputError("keyType must be 'P2P'", location=where)
        pw = (P2P_PASSWORD_PREFIX + password.reveal()).encode()
        raw = decrypt_data_v3(_field(doc, "crypto", dict, where), pw, where=where + ".crypto")
        if len(raw) != 68 or not raw.startswith(LIBP2P_ED25519_PRIVATE_PREFIX):
            raise InputError("invalid key: missing libp2p protobuf prefix", location=where)
        key = cls(raw[4:36])
        if raw[36:] != key.public_key:
            raise InputError("ed25519 public half does not match the seed", location=where)
        stated = str(doc.get("peerID", ""))
        if stated and stated.removeprefix(PEER_ID_PREFIX) != key.peer_id:
            raise InputError("peerID does not match the private key", location=where)
        return key


# --- OCR2 key bundle (EVM) ----------------------------------------------------------------


def _go_b64(data: bytes) -> str:
    """Go's encoding/json marshals []byte as standard, padded base64."""
    return base64.b64encode(data).decode("ascii")


def _x25519_public(scalar: bytes) -> bytes:
    priv = x25519.X25519PrivateKey.from_private_bytes(scalar)
    return priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class _OCRKeyBundle:
    """What OCR1 and OCR2 bundles share: three secrets, an id that hashes the Go payload."""

    onchain_scalar: bytes  # 32 bytes, big-endian secp256k1 scalar
    offchain_seed: bytes  # 32-byte ed25519 seed
    encryption_scalar: bytes  # 32-byte X25519 scalar (clamped by X25519 itself, RFC 7748 §5)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id})"

    @classmethod
    def generate(cls, random: RandomBytes = os.urandom) -> Self:
        return cls(_random_scalar(random), random(32), random(32))

    def raw(self) -> bytes:
        raise NotImplementedError

    @property
    def id(self) -> str:
        return hashlib.sha256(self.raw()).hexdigest()

    @property
    def offchain_public_key(self) -> str:
        return _ed25519_public(self.offchain_seed).hex()

    @property
    def config_public_key(self) -> str:
        return _x25519_public(self.encryption_scalar).hex()


def _open_export(doc: Mapping[str, Any], password: str, where: str) -> bytes:
    """The payload of an exported bundle (``crypto`` decrypted with the typed password)."""
    raw = decrypt_data_v3(_field(doc, "crypto", dict, where), password.encode(),
                          where=where + ".crypto")  # fmt: skip
    # Chainlink takes the id as sha256 of the stored payload, whatever its byte layout.
    if doc.get("id") not in (None, hashlib.sha256(raw).hexdigest()):
        raise InputError("id does not match the key bundle", location=where)
    return raw


@dataclass(frozen=True, repr=False)
class OCR2KeyBundle(_OCRKeyBundle):
    """EVM OCR2 bundle: on-chain secp256k1 signer + off-chain ed25519 signer + X25519 key."""

    def raw(self) -> bytes:
        """Go ``json.Marshal(keyBundleRawData)`` -- byte-exact, since the id hashes it."""
        offchain = self.offchain_seed + _ed25519_public(self.offchain_seed) + self.encryption_scalar
        return (
            '{"ChainType":"evm","OffchainKeyring":"'
            + _go_b64(offchain)
            + '","Keyring":"'
            + _go_b64(self.onchain_scalar)
            + '"}'
        ).encode("ascii")

    @property
    def onchain_address(self) -> str:
        """The on-chain "public key" of an EVM bundle is the signer address (evm_keyring.go)."""
        return to_checksum_address(_secp256k1_address(self.onchain_scalar))

    @property
    def onchain_public_key(self) -> str:
        return _secp256k1_address(self.onchain_scalar).hex()

    def export(
        self,
        password: Secret,
        params: ScryptParams = DEFAULT_SCRYPT,
        *,
        random: RandomBytes = os.urandom,
    ) -> dict[str, Any]:
        pw = (OCR2_PASSWORD_PREFIX + password.reveal()).encode()
        return {
            "keyType": "OCR2",
            "chainType": "evm",
            "id": self.id,
            "onchainPublicKey": self.onchain_public_key,
            "offchainPublicKey": self.offchain_public_key,
            "configPublicKey": self.config_public_key,
            "crypto": encrypt_data_v3(self.raw(), pw, params, random=random),
        }

    @classmethod
    def from_raw(cls, raw: bytes, *, where: str = "ocr2") -> OCR2KeyBundle:
        try:
            doc = json.loads(raw)
            if doc.get("ChainType") != "evm":
                raise InputError("only EVM OCR2 bundles are supported", location=where)
            off = base64.b64decode(doc["OffchainKeyring"], validate=True)
            on = base64.b64decode(doc["Keyring"], validate=True)
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError("malformed OCR2 key bundle payload", location=where) from None
        if len(off) != 96 or len(on) != 32:
            raise InputError("OCR2 key bundle has wrong key lengths", location=where)
        bundle = cls(on, off[:32], off[64:])
        if off[32:64] != _ed25519_public(off[:32]):
            raise InputError("off-chain ed25519 public half does not match", location=where)
        return bundle

    @classmethod
    def from_export(
        cls, doc: Mapping[str, Any], password: Secret, *, where: str = "ocr2"
    ) -> OCR2KeyBundle:
        if doc.get("keyType") != "OCR2":
            raise InputError("keyType must be 'OCR2'", location=where)
        return cls.from_raw(_open_export(doc, OCR2_PASSWORD_PREFIX + password.reveal(), where),
                            where=where)  # fmt: skip


# --- OCR1 key bundle ----------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class OCR1KeyBundle(_OCRKeyBundle):
    """OCR1 bundle: on-chain secp256k1 signer (Go big.Int ``EcdsaD``) + off-chain ed25519
    signer + X25519 config key (``OffChainEncryption``)."""

    def raw(self) -> bytes:
        """Go ``json.Marshal(keyBundleRawData)`` -- byte-exact, since the id hashes it."""
        d = int.from_bytes(self.onchain_scalar, "big")
        ed_priv = self.offchain_seed + _ed25519_public(self.offchain_seed)
        enc = ",".join(str(b) for b in self.encryption_scalar)
        return (
            '{"EcdsaD":'
            + str(d)
            + ',"Ed25519PrivKey":"'
            + _go_b64(ed_priv)
            + '","OffChainEncryption":['
            + enc
            + "]}"
        ).encode("ascii")

    @property
    def onchain_signing_address(self) -> str:
        """EIP-55 address of the on-chain signer (what OCR1 ``setConfig`` takes as signer)."""
        return to_checksum_address(_secp256k1_address(self.onchain_scalar))

    def export(
        self,
        password: Secret,
        params: ScryptParams = DEFAULT_SCRYPT,
        *,
        random: RandomBytes = os.urandom,
    ) -> dict[str, Any]:
        pw = (OCR1_PASSWORD_PREFIX + password.reveal()).encode()
        return {
            "keyType": "OCR",
            "id": self.id,
            "onChainSigningAddress": OCR1_SIGNING_ADDRESS_PREFIX + self.onchain_signing_address,
            "offChainPublicKey": OCR1_OFFCHAIN_KEY_PREFIX + self.offchain_public_key,
            "configPublicKey": OCR1_CONFIG_KEY_PREFIX + self.config_public_key,
            "crypto": encrypt_data_v3(self.raw(), pw, params, random=random),
        }

    @classmethod
    def from_raw(cls, raw: bytes, *, where: str = "ocr") -> OCR1KeyBundle:
        """Parse the payload as Go's ``json.Unmarshal`` into ``keyBundleRawData`` would."""
        try:
            doc = json.loads(raw)
            d = doc["EcdsaD"]
            ed = base64.b64decode(doc["Ed25519PrivKey"], validate=True)
            enc = doc["OffChainEncryption"]
        except (ValueError, KeyError, TypeError):
            raise InputError("malformed OCR key bundle payload", location=where) from None
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d < SECP256K1_N:
            raise InputError("OCR key bundle: EcdsaD is not a secp256k1 scalar", location=where)
        if len(ed) != 64:
            raise InputError("OCR key bundle: Ed25519PrivKey must be 64 bytes", location=where)
        if (
            not isinstance(enc, list)
            or len(enc) != 32
            or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in enc)
        ):
            raise InputError(
                "OCR key bundle: OffChainEncryption must be 32 byte values", location=where
            )
        bundle = cls(d.to_bytes(32, "big"), ed[:32], bytes(enc))
        if ed[32:] != _ed25519_public(ed[:32]):
            raise InputError("off-chain ed25519 public half does not match", location=where)
        return bundle

    @classmethod
    def from_export(
        cls, doc: Mapping[str, Any], password: Secret, *, where: str = "ocr"
    ) -> OCR1KeyBundle:
        if doc.get("keyType") not in ("OCR", None):  # Chainlink's own v1 exports omit it
            raise InputError("keyType must be 'OCR'", location=where)
        raw = _open_export(doc, OCR1_PASSWORD_PREFIX + password.reveal(), where)
        bundle = cls.from_raw(raw, where=where)
        stated = str(doc.get("onChainSigningAddress", "")).removeprefix(OCR1_SIGNING_ADDRESS_PREFIX)
        if stated and stated.lower() != bundle.onchain_signing_address.lower():
            raise InputError("onChainSigningAddress does not match the key bundle", location=where)
        return bundle


__all__ = [
    "DEFAULT_SCRYPT",
    "LIGHT_SCRYPT_N",
    "STANDARD_SCRYPT_N",
    "EvmKey",
    "OCR1KeyBundle",
    "OCR2KeyBundle",
    "P2PKey",
    "ScryptParams",
    "b58decode",
    "b58encode",
    "decrypt_data_v3",
    "encrypt_data_v3",
    "keccak256",
    "peer_id_from_public",
    "public_from_peer_id",
    "to_checksum_address",
]
