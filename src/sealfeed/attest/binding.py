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


__all__ = ["APPLIANCE_DOMAIN", "appliance_report_data"]
