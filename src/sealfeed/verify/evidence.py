"""The IO edge of ``sealfeed verify``: evidence and configuration off disk, or the
appliance's attestation document (fetched by :mod:`sealfeed.verify.fetch`, or saved).

Everything else in the package takes loaded values: a document becomes the same
:class:`~sealfeed.verify.model.Evidence` a quote file does.
"""

from __future__ import annotations

import os
from pathlib import Path

from sealfeed.attest.appliance import AttestationDocument, load_attestation_bytes
from sealfeed.attest.files import read_quote_file
from sealfeed.config.loader import Trust, VerifiedConfig, load_and_verify
from sealfeed.errors import InputError, VerificationError
from sealfeed.sp.orderreport import load_order_report
from sealfeed.verify.model import Evidence


def evidence_from_files(
    *,
    quote: str | os.PathLike[str] | None = None,
    order_report: str | os.PathLike[str] | None = None,
) -> Evidence:
    """A raw (or hex) quote file and/or an order report file (``spctl orders get-report
    --save-to``). Unreadable or malformed files are InputError (exit 2)."""
    return Evidence(
        quote=read_quote_file(quote) if quote is not None else None,
        order_report=load_order_report(Path(order_report)) if order_report is not None else None,
        source="files",
    )


def evidence_from_document(doc: AttestationDocument, source: str) -> Evidence:
    """What an attestation document presents: its quote and import key as evidence, its
    image/configuration claims only as explanations (the chain recomputes the binding)."""
    claims = {"image_sha256": doc.image_sha256, "config_hash": doc.config_hash,
              "image_source": doc.image_source}  # fmt: skip
    if not doc.attested:
        return Evidence(source=source, claims=claims, unattested=doc.reason or "not attested")
    return Evidence(quote=doc.quote, source=source, import_key=doc.import_key, claims=claims)


def evidence_from_attestation_file(path: str | os.PathLike[str]) -> Evidence:
    """A saved attestation document (``curl .../attestation``, or the ``sealfeed-attestation:``
    line of the container log with the prefix removed)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError("attestation document not found", location=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", location=str(p)) from None
    text = data.strip()
    prefix = b"sealfeed-attestation: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return evidence_from_document(load_attestation_bytes(text, location=str(p)), str(p))


def load_config(
    path: str | os.PathLike[str], trust: Trust, *, secrets_dir: str | None = None
) -> VerifiedConfig | VerificationError:
    """The verified configuration (one read: document, signature facts and object-hash
    together), or why its signature does not verify -- the chain reports that as its first
    failed link (exit 1). A file that cannot be read or parsed is bad input and raises
    InputError (exit 2). Secret files are only read when ``secrets_dir`` is given
    (auditors have none)."""
    try:
        return load_and_verify(
            path, trust, secrets_dir=secrets_dir, read_secrets=secrets_dir is not None
        )
    except VerificationError as exc:
        return exc


__all__ = [
    "evidence_from_attestation_file",
    "evidence_from_document",
    "evidence_from_files",
    "load_config",
]
