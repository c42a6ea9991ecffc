"""Adapter: sealfeed.attest's quote verification as links of the ``sealfeed verify`` chain."""

from __future__ import annotations

import datetime as dt

from sealfeed.errors import ExternalError
from sealfeed.verification import QuoteEvidence, QuoteVerifier


def make_quote_verifier(
    *, collateral: str | None, pccs: str | None, policy: str | None, at: dt.datetime
) -> QuoteVerifier:
    try:
        import sealfeed.attest  # noqa: F401
    except ImportError:
        raise ExternalError("the quote verifier (sealfeed.attest) is not installed") from None
    raise ExternalError("quote verification is not wired yet")  # replaced when attest lands


__all__ = ["QuoteEvidence", "make_quote_verifier"]
