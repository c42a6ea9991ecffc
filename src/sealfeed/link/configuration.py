"""The verified configuration and its hash: the ONE place the link obtains them.

Each side's identity quote binds object-hash of the configuration document whose signature
verified, and every peer must present the same hash. ``load_and_verify`` takes both from one
read of the file (ADR 0090), so the hash is always of the bytes whose signature verified.
"""

from __future__ import annotations

import os

from sealfeed.config import ApplianceConfig, Trust, load_and_verify


def verified_configuration(
    path: str | os.PathLike[str],
    trust: Trust,
    *,
    secrets_dir: str | os.PathLike[str] | None = None,
) -> tuple[ApplianceConfig, str]:
    """(typed configuration, object-hash of the verified document); fail closed.

    The link reads only the exporter's push credentials: it pushes its metrics with the
    exporter's push settings (``SECRET_READERS["link"]``, ADR 0146; every other secret, the
    rest of the exporter's included, stays unread). In the image ``secrets_dir`` is the
    link's own copy of exactly those files (``secrets import --reader-dir``)."""
    verified = load_and_verify(path, trust, secrets_dir=secrets_dir, consumer="link")
    return verified.config, verified.config_hash


__all__ = ["verified_configuration"]
