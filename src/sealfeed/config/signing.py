"""The two configuration signature schemes. Pure: bytes and objects in, results out.

``secp256k1-objecthash`` (reference-compatible, byte for byte with Super-Protocol/chainlink):
  message = lowercase hex of npm ``object-hash`` (sha256, unorderedArrays) over the solution
  object without ``signature`` (sdk-js ``helpers.calculateObjectHash``); that 64-character
  string is what node's ``crypto.createSign('sha256')`` signs (sdk-js ``Crypto.sign``:
  ``signer.write(data)``, i.e. its UTF-8 bytes), ECDSA over secp256k1 (sdk-js
  ``Crypto.generateKeys`` for ECIES: ``generateKeyPair('ec', {namedCurve: 'secp256k1'})``),
  DER-encoded, base64, stored in the solution's ``signature`` field. Public key: SPKI DER
  base64 (``CONFIGURATION_PUBLIC_KEY``); private key: PKCS#8 DER (``CryptoKeysTransformer``).

``ed25519-jcs`` (recommended): Ed25519 over the RFC 8785 (JCS) canonical JSON of the
  solution object; the signature document ``{"scheme", "keyId", "digest", "signature"}`` lives
  in a detached ``<config>.sig`` file or, where only one file can be delivered, embedded in the
  solution as ``sealfeedSignature`` (then excluded from what is signed).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sealfeed.config.objecthash import object_hash
from sealfeed.errors import InputError, VerificationError


class Scheme(enum.StrEnum):
    REFERENCE = "secp256k1-objecthash"
    MODERN = "ed25519-jcs"


PublicKeyType = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKeyType = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class PublicKey:
    key: PublicKeyType
    scheme: Scheme

    @property
    def spki_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the SPKI DER -- what operators compare out of band."""
        return "sha256:" + hashlib.sha256(self.spki_der).hexdigest()

    @property
    def key_id(self) -> str:
        return f"{self.scheme.value}:{hashlib.sha256(self.spki_der).hexdigest()[:16]}"

    @property
    def base64_der(self) -> str:
        """The ``CONFIGURATION_PUBLIC_KEY`` form (base64 SPKI DER)."""
        return base64.b64encode(self.spki_der).decode("ascii")


@dataclass(frozen=True)
class PrivateKey:
    key: PrivateKeyType
    scheme: Scheme

    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key(), self.scheme)


@dataclass(frozen=True)
class VerifiedSignature:
    scheme: Scheme
    #: reference: the object-hash hex that was signed; modern: sha256 of the JCS bytes
    digest: str
    key_fingerprint: str
    key_id: str


#: what the key-type errors name: cryptography's class name -> what users call it
_KEY_KINDS = {
    "RSAPublicKey": "RSA",
    "RSAPrivateKey": "RSA",
    "DSAPublicKey": "DSA",
    "DSAPrivateKey": "DSA",
    "Ed448PublicKey": "Ed448",
    "Ed448PrivateKey": "Ed448",
    "X25519PublicKey": "X25519",
    "X25519PrivateKey": "X25519",
    "X448PublicKey": "X448",
    "X448PrivateKey": "X448",
}
_CURVES = {"secp256r1": "P-256 (secp256r1)", "secp384r1": "P-384", "secp521r1": "P-521"}


def _scheme_for(key: Any, location: str) -> Scheme:
    """The key type picks the scheme. Any other key is bad input (exit 2), exactly like a
    file that is not a key at all: nothing was verified yet, the operator gave the wrong key."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return Scheme.MODERN
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if not isinstance(key.curve, ec.SECP256K1):
            curve = _CURVES.get(key.curve.name, key.curve.name)
            raise InputError(
                f"an EC key on curve {curve}; configuration keys are secp256k1 "
                "(secp256k1-objecthash, the reference scheme) or Ed25519 (ed25519-jcs)",
                location=location,
            )
        return Scheme.REFERENCE
    kinds = [c.__name__ for c in type(key).__mro__]
    kind = next((_KEY_KINDS[k] for k in kinds if k in _KEY_KINDS), type(key).__name__)
    raise InputError(
        f"an {kind} key; configuration keys are secp256k1 (secp256k1-objecthash, the "
        "reference scheme) or Ed25519 (ed25519-jcs)",
        location=location,
    )


def _der_candidates(data: bytes) -> list[bytes]:
    """The key material as given: PEM, raw DER, or base64 of DER (the env-var form)."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        return []
    out = [data]
    with contextlib.suppress(binascii.Error, ValueError):
        out.append(base64.b64decode(b"".join(stripped.split()), validate=True))
    return out


def load_public_key(data: bytes, *, location: str = "public key") -> PublicKey:
    """Load an SPKI public key from PEM, DER or base64 DER; the key type picks the scheme."""
    key: Any = None
    if data.strip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data.strip())
        except (ValueError, UnsupportedAlgorithm):
            key = None
    for der in _der_candidates(data):
        if key is not None:
            break
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm):
            continue
    if key is None:
        raise InputError(
            "not a public key (expected SPKI as PEM, DER or base64 DER)", location=location
        )
    return PublicKey(key, _scheme_for(key, location))


def load_private_key(data: bytes, *, location: str = "private key") -> PrivateKey:
    """Load a PKCS#8 private key from PEM, DER or base64 DER."""
    key: Any = None
    if data.strip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data.strip(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
    for der in _der_candidates(data):
        if key is not None:
            break
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    if key is None:
        raise InputError(
            "not an unencrypted PKCS#8 private key (PEM, DER or base64 DER)", location=location
        )
    return PrivateKey(key, _scheme_for(key, location))


def generate_key(scheme: Scheme) -> PrivateKey:
    if scheme is Scheme.MODERN:
        return PrivateKey(ed25519.Ed25519PrivateKey.generate(), scheme)
    return PrivateKey(ec.generate_private_key(ec.SECP256K1()), scheme)


def private_key_pem(key: PrivateKey) -> bytes:
    return key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: PublicKey) -> bytes:
    return key.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _does_not_verify(location: str) -> VerificationError:
    return VerificationError(
        "signature does not verify with the trusted key (content changed, or signed by "
        "another key)",
        location=location,
    )


def scheme_mismatch(signed_with: Scheme, key: PublicKey, location: str) -> VerificationError:
    """The configuration is signed with one scheme, the trusted key belongs to the other:
    say so (the fix is the right key), rather than "not signed"."""
    kind = {Scheme.REFERENCE: "secp256k1", Scheme.MODERN: "Ed25519"}
    return VerificationError(
        f"the configuration is signed with {signed_with.value} (a {kind[signed_with]} key) but "
        f"the trusted key is {kind[key.scheme]} ({key.scheme.value}, {key.fingerprint}); "
        f"pass the owner's {kind[signed_with]} public key",
        location=location,
    )


# -- reference scheme --------------------------------------------------------------------


def payload_without_signature(solution: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in solution.items() if k != "signature"}


def reference_digest(solution: dict[str, Any]) -> str:
    """The hex string the reference signs: object-hash of the solution minus ``signature``."""
    return object_hash(payload_without_signature(solution))


def sign_reference(solution: dict[str, Any], key: PrivateKey) -> str:
    if not isinstance(key.key, ec.EllipticCurvePrivateKey):
        raise InputError("the reference scheme needs a secp256k1 key", location="--key")
    message = reference_digest(solution).encode("ascii")
    der = key.key.sign(message, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode("ascii")


def verify_reference(
    solution: dict[str, Any], key: PublicKey, *, location: str = "signature"
) -> VerifiedSignature:
    if not isinstance(key.key, ec.EllipticCurvePublicKey):
        raise scheme_mismatch(Scheme.REFERENCE, key, location)
    sig_text = solution.get("signature")
    if not isinstance(sig_text, str) or not sig_text:
        if EMBEDDED_SIGNATURE_KEY in solution:
            raise scheme_mismatch(Scheme.MODERN, key, location)
        raise VerificationError("configuration is not signed (no signature field)",
                                location=location)  # fmt: skip
    try:
        der = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("signature is not valid base64", location=location) from None
    digest = reference_digest(solution)
    try:
        key.key.verify(der, digest.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise _does_not_verify(location) from None
    return VerifiedSignature(Scheme.REFERENCE, digest, key.fingerprint, key.key_id)


# -- modern scheme -----------------------------------------------------------------------


def canonical_bytes(solution: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the solution."""
    try:
        return rfc8785.dumps(solution)
    except Exception as exc:  # rfc8785 raises its own error types for non-I-JSON values
        raise InputError(f"configuration cannot be canonicalised (RFC 8785): {exc}") from None


#: Where an ed25519-jcs signature document may travel inside the solution object itself, for
#: platforms that deliver only configuration.json (Super Protocol mounts exactly one file).
EMBEDDED_SIGNATURE_KEY = "sealfeedSignature"
_SIG_DOC_KEYS = frozenset({"scheme", "keyId", "digest", "signature"})


def modern_payload(solution: dict[str, Any]) -> dict[str, Any]:
    """What ed25519-jcs signs: the solution without an embedded signature document."""
    return {k: v for k, v in solution.items() if k != EMBEDDED_SIGNATURE_KEY}


def sign_modern(solution: dict[str, Any], key: PrivateKey) -> dict[str, str]:
    if not isinstance(key.key, ed25519.Ed25519PrivateKey):
        raise InputError("the ed25519-jcs scheme needs an Ed25519 key", location="--key")
    data = canonical_bytes(modern_payload(solution))
    return {
        "scheme": Scheme.MODERN.value,
        "keyId": key.public().key_id,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "signature": base64.b64encode(key.key.sign(data)).decode("ascii"),
    }


def verify_modern(
    solution: dict[str, Any], sig_doc: Any, key: PublicKey, *, location: str = "signature file"
) -> VerifiedSignature:
    if not isinstance(key.key, ed25519.Ed25519PublicKey):
        raise scheme_mismatch(Scheme.MODERN, key, location)
    if (
        not isinstance(sig_doc, dict)
        or set(sig_doc) != _SIG_DOC_KEYS
        or sig_doc.get("scheme") != Scheme.MODERN.value
    ):
        raise VerificationError(
            "signature document must be exactly {scheme, keyId, digest, signature} with "
            f'"scheme": "{Scheme.MODERN.value}"',
            location=location,
        )
    if sig_doc.get("keyId") != key.key_id:
        raise VerificationError(
            f"signed by key {sig_doc.get('keyId')!r}, but the trusted key is {key.key_id}",
            location=location,
        )
    try:
        sig = base64.b64decode(str(sig_doc.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("signature is not valid base64", location=location) from None
    data = canonical_bytes(modern_payload(solution))
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if sig_doc.get("digest") != digest:
        raise VerificationError(
            "signed digest does not match the configuration (content changed)", location=location
        )
    try:
        key.key.verify(sig, data)
    except (InvalidSignature, ValueError):
        raise _does_not_verify(location) from None
    return VerifiedSignature(Scheme.MODERN, digest, key.fingerprint, key.key_id)


def signature_document_text(doc: dict[str, str]) -> str:
    return json.dumps(doc, indent=2) + "\n"


__all__ = [
    "EMBEDDED_SIGNATURE_KEY",
    "PrivateKey",
    "PublicKey",
    "Scheme",
    "VerifiedSignature",
    "canonical_bytes",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "modern_payload",
    "payload_without_signature",
    "private_key_pem",
    "public_key_pem",
    "reference_digest",
    "scheme_mismatch",
    "sign_modern",
    "sign_reference",
    "signature_document_text",
    "verify_modern",
    "verify_reference",
]
