"""The sealfeed binding: what a quote's 64-byte report_data commits to (pure).

One recipe for every quote sealfeed asks for or checks: ``sealfeed attest quote`` and the
appliance's own start-up quote ask the TDX module to sign it, ``sealfeed verify`` recomputes
it from the golden measurement and the verified configuration (ADR 0003). Each use has its
own domain-separation prefix, so bytes meant for one can never be read as another.
"""

from __future__ import annotations

import hashlib

#: report_data of the appliance's own quote (ADR 0003, bare-quote evidence)
APPLIANCE_DOMAIN = b"sealfeed-binding-v1\x00"
#: report_data of a link endpoint's identity quote (ADR 0120, ``sealfeed link``)
PEER_DOMAIN = b"sealfeed-peer-v1\x00"
#: second half of the appliance's report_data: its secrets-import key (ADR 0134)
IMPORT_KEY_DOMAIN = b"sealfeed-import-key-v1\x00"
#: raw X25519 public key length (RFC 7748 section 6.1)
IMPORT_KEY_SIZE = 32


def _sha256_hex(value: str, what: str) -> bytes:
    raw = bytes.fromhex(value.lower().removeprefix("sha256:"))
    if len(raw) != 32:
        raise ValueError(f"{what} must be a sha256 hex digest, got {len(raw)} bytes")
    return raw


def import_key_commitment(import_key: bytes) -> bytes:
    """``SHA-256(IMPORT_KEY_DOMAIN || raw X25519 public key)``: what the appliance's quote
    says about the key operator secrets are sealed to (ADR 0134)."""
    if len(import_key) != IMPORT_KEY_SIZE:
        raise ValueError(f"import key must be {IMPORT_KEY_SIZE} bytes, got {len(import_key)}")
    return hashlib.sha256(IMPORT_KEY_DOMAIN + import_key).digest()


def appliance_report_data(
    image_sha256: str, config_hash: str, import_key: bytes | None = None
) -> bytes:
    """``SHA-256(APPLIANCE_DOMAIN || image archive sha256 || object-hash(config))`` followed by
    :func:`import_key_commitment` of the appliance's secrets-import key, or 32 zero bytes
    when it has none (``sealfeed attest quote``).

    ``config_hash`` is object-hash of the configuration document whose signature verified
    (:func:`sealfeed.config.load_and_verify`). The first half alone binds image and
    configuration (ADR 0003); the second half tells a sealer which key only this appliance
    holds (ADR 0134)."""
    digest = hashlib.sha256(
        APPLIANCE_DOMAIN
        + _sha256_hex(image_sha256, "image digest")
        + _sha256_hex(config_hash, "configuration hash")
    ).digest()
    return digest + (import_key_commitment(import_key) if import_key is not None else bytes(32))


def peer_report_data(spki_sha256: bytes, config_hash: str, issued_at: int) -> bytes:
    """report_data of a link endpoint's identity quote (ADR 0120)::

        SHA-256(PEER_DOMAIN || SHA-256(SPKI DER of the ephemeral TLS key)
                || object-hash(config) || issued_at as u64 big-endian)
        || issued_at as u64 big-endian || 0^24

    The first half commits to the key, the verified configuration and the issue time; the
    second half carries the issue time in clear so a verifier can read it, recompute the
    first half and refuse quotes older than its freshness bound (:func:`peer_issued_at`).
    """
    if len(spki_sha256) != 32:
        raise ValueError(f"SPKI digest must be 32 bytes, got {len(spki_sha256)}")
    if not 0 <= issued_at < 1 << 64:
        raise ValueError("issued_at must fit in an unsigned 64-bit integer")
    when = issued_at.to_bytes(8, "big")
    digest = hashlib.sha256(
        PEER_DOMAIN + spki_sha256 + _sha256_hex(config_hash, "configuration hash") + when
    ).digest()
    return digest + when + bytes(24)


def peer_issued_at(report_data: bytes) -> int | None:
    """The issue time a :func:`peer_report_data` carries in clear (None if the layout is
    not that of a peer binding: wrong length or non-zero padding)."""
    if len(report_data) != 64 or any(report_data[40:]):
        return None
    return int.from_bytes(report_data[32:40], "big")


__all__ = [
    "APPLIANCE_DOMAIN",
    "IMPORT_KEY_DOMAIN",
    "IMPORT_KEY_SIZE",
    "PEER_DOMAIN",
    "appliance_report_data",
    "import_key_commitment",
    "peer_issued_at",
    "peer_report_data",
]
