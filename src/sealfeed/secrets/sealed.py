"""Sealed secrets bundles: operator secrets encrypted to the appliance's import key (pure).

HPKE (RFC 9180) base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, from
``cryptography`` (``hazmat.primitives.hpke``; nothing here is hand-rolled). The recipient is
the appliance's secrets-import key: an X25519 key generated inside the TEE whose public half
the appliance's quote commits to (report_data[32:64], ADR 0134), so a sealer who verified the
attestation document knows that only that appliance can open the bundle (ADR 0131).

Format (JSON, ``format`` = :data:`FORMAT`; everything outside ``ciphertext`` is public)::

    {"format": "sealfeed-sealed-secrets-v1",
     "recipient": "sha256:<hex of the raw X25519 public key>",
     "ciphertext": "<base64 of HPKE enc || AEAD ciphertext>"}

The HPKE ``info`` is ``FORMAT || 0x00 || recipient``: a bundle re-labelled for another key
or format does not open. The plaintext is ``{"secrets": {"<relative file name>": "<value>"}}``
with file names as the configuration's ``{"secretFile"}`` references spell them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sealfeed.errors import InputError, VerificationError
from sealfeed.secret import Secret

FORMAT = "sealfeed-sealed-secrets-v1"
#: a bundle holds a few API keys and passwords; refuse absurd inputs before decrypting
MAX_BUNDLE_BYTES = 1024 * 1024
MAX_VALUE_BYTES = 64 * 1024
MAX_NAME = 255


def key_id(public_key: bytes) -> str:
    """``sha256:<hex>`` of a raw X25519 public key (same as the attestation document's)."""
    return "sha256:" + hashlib.sha256(public_key).hexdigest()


def _suite() -> Any:
    try:
        from cryptography.hazmat.primitives import hpke
    except ImportError:  # pragma: no cover - the lock pins a cryptography that has it
        import cryptography

        raise InputError(
            f"sealing needs HPKE from cryptography >= 46 (installed: {cryptography.__version__})"
        ) from None
    return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _info(recipient: str) -> bytes:
    return FORMAT.encode() + b"\0" + recipient.encode()


def check_name(name: str, *, where: str) -> str:
    """A secret file name: relative, normalised, inside the secrets directory."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise InputError(f"must be a file name of 1..{MAX_NAME} characters", location=where)
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise InputError(f"{name!r} must be a relative path", location=where)
    if posixpath.normpath(name) != name or name.split("/")[0] in (".", ".."):
        raise InputError(f"{name!r} must be a normalised path inside the secrets dir",
                         location=where)  # fmt: skip
    return name


@dataclass(frozen=True)
class SealedBundle:
    recipient: str
    ciphertext: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "format": FORMAT,
            "recipient": self.recipient,
            "ciphertext": base64.b64encode(self.ciphertext).decode(),
        }


def seal(secrets: Mapping[str, Secret | str], public_key: bytes) -> SealedBundle:
    """Encrypt ``{file name: value}`` to the raw X25519 ``public_key``."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    if not secrets:
        raise InputError("nothing to seal")
    values: dict[str, str] = {}
    for name, value in secrets.items():
        check_name(name, where=name)
        text = value.reveal() if isinstance(value, Secret) else value
        if not text or len(text.encode()) > MAX_VALUE_BYTES:
            raise InputError(f"value must be 1..{MAX_VALUE_BYTES} bytes", location=name)
        values[name] = text
    recipient = key_id(public_key)
    try:
        pub = X25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        raise InputError("the import key is not an X25519 public key") from None
    plaintext = json.dumps({"secrets": values}, sort_keys=True).encode()
    return SealedBundle(recipient, _suite().encrypt(plaintext, pub, info=_info(recipient)))


def parse_bundle(data: bytes, *, location: str) -> SealedBundle:
    if len(data) > MAX_BUNDLE_BYTES:
        raise InputError(f"larger than {MAX_BUNDLE_BYTES} bytes", location=location)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", location=location) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"not a sealed secrets bundle (format must be {FORMAT!r})",
                         location=location)  # fmt: skip
    recipient, ct = doc.get("recipient"), doc.get("ciphertext")
    if not isinstance(recipient, str) or not recipient.startswith("sha256:"):
        raise InputError("recipient must be 'sha256:<hex>'", location=f"{location}: recipient")
    try:
        raw = base64.b64decode(ct if isinstance(ct, str) else "", validate=True)
    except (ValueError, binascii.Error):
        raise InputError("ciphertext is not base64", location=f"{location}: ciphertext") from None
    if len(raw) < 32 + 16:  # HPKE enc (X25519: 32 bytes) + AES-GCM tag
        raise InputError("ciphertext is too short", location=f"{location}: ciphertext")
    return SealedBundle(recipient, raw)


def open_bundle(bundle: SealedBundle, private_key: Any, *, location: str) -> dict[str, Secret]:
    """Decrypt with the appliance's X25519 private key; every failure is precise, never the
    plaintext. A bundle sealed to another key names both keys."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    mine = key_id(private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    if bundle.recipient != mine:
        raise VerificationError(
            f"sealed to import key {bundle.recipient}, but this appliance's import key is "
            f"{mine} (seal it again to the key in this appliance's attestation document)",
            location=location,
        )
    try:
        plaintext = _suite().decrypt(bundle.ciphertext, private_key, info=_info(mine))
    except (InvalidTag, ValueError):
        raise VerificationError(
            "does not decrypt with this appliance's import key (corrupted, or altered after "
            "sealing)",
            location=location,
        ) from None
    try:
        doc = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("the sealed content is not JSON", location=location) from None
    entries = doc.get("secrets") if isinstance(doc, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise InputError("the sealed content holds no secrets", location=location)
    out: dict[str, Secret] = {}
    for name, value in entries.items():
        check_name(name, where=f"{location}: {name}")
        if not isinstance(value, str) or not value:
            raise InputError("a secret value must be a non-empty string",
                             location=f"{location}: {name}")  # fmt: skip
        out[name] = Secret(value)
    return out


__all__ = [
    "FORMAT",
    "MAX_BUNDLE_BYTES",
    "SealedBundle",
    "check_name",
    "key_id",
    "open_bundle",
    "parse_bundle",
    "seal",
]
