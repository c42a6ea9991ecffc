"""The verified configuration and its hash: the ONE place the link obtains them.

Each side's identity quote binds object-hash of the configuration document whose signature
verified, and every peer must present the same hash. ``load_and_verify`` is being changed
to return the verified document and its hash (issue #19); until then the hash is computed
here as ``sealfeed.verification`` does, over the document read and verified here.
"""

from __future__ import annotations

import os

from sealfeed.config import ApplianceConfig, Trust, load_and_verify
from sealfeed.config.loader import read_config_document, verify_document
from sealfeed.config.objecthash import object_hash


def verified_configuration(
    path: str | os.PathLike[str],
    trust: Trust,
    *,
    secrets_dir: str | os.PathLike[str] | None = None,
) -> tuple[ApplianceConfig, str]:
    """(typed configuration, object-hash of the verified document); fail closed."""
    cfg, _sig = load_and_verify(path, trust, secrets_dir=secrets_dir)
    doc = read_config_document(path)
    verify_document(doc, trust)  # the bytes we hash are bytes whose signature verified
    return cfg, object_hash(doc.document)


__all__ = ["verified_configuration"]
