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


def _sha256_hex(value: str, what: str) -> bytes:
    raw = bytes.fromhex(value.lower().removeprefix("sha256:"))
    if len(raw) != 32:
        raise ValueError(f"{what} must be a sha256 hex digest, got {len(raw)} bytes")
    return raw


def appliance_report_data(image_sha256: str, config_hash: str) -> bytes:
    """``SHA-256(APPLIANCE_DOMAIN || image archive sha256 || object-hash(config)) || 0^32``.

    ``config_hash`` is object-hash of the configuration document whose signature verified
    (:func:`sealfeed.config.load_and_verify`)."""
    digest = hashlib.sha256(
        APPLIANCE_DOMAIN
        + _sha256_hex(image_sha256, "image digest")
        + _sha256_hex(config_hash, "configuration hash")
    ).digest()
    return digest + bytes(32)


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
    "PEER_DOMAIN",
    "appliance_report_data",
    "peer_issued_at",
    "peer_report_data",
]
