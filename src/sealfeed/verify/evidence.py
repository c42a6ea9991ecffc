"""The IO edge of ``sealfeed verify``: evidence and configuration off disk.

Everything else in the package takes loaded values. A future ``verify --url`` builds the
same :class:`~sealfeed.verify.model.Evidence` from a fetched document instead of files.
"""

from __future__ import annotations

import os
from pathlib import Path

from sealfeed.attest.files import read_quote_file
from sealfeed.config.loader import Trust, VerifiedConfig, load_and_verify
from sealfeed.errors import VerificationError
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


__all__ = ["evidence_from_files", "load_config"]
