"""The values ``sealfeed verify`` works on: evidence in, links out, one verdict (pure data).

Evidence is what the appliance presents -- a raw TDX quote, a Super Protocol order report,
or both -- wherever it came from (files today; a document fetched from the appliance
later): :class:`Evidence` carries the bytes/parsed report and a ``source`` label, so the
chain (:mod:`sealfeed.verify.chain`) never knows or cares how it was obtained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sealfeed.config.loader import VerifiedConfig
from sealfeed.errors import SealfeedError
from sealfeed.sp.orderreport import ChainCheck, OrderReport
from sealfeed.sp.rules import SpAnchors


@dataclass(frozen=True)
class Evidence:
    """What the appliance presented. ``source`` says where it came from ("files", or the
    URL it was fetched from); it is reported, never trusted.

    From an attestation document (``verify --url`` / ``--attestation``, ADR 0130):
    ``import_key`` is the secrets-import key the quote's second report_data half must commit
    to (ADR 0134); ``claims`` are what the appliance *says* it binds (image, configuration
    hash) -- used only to explain a mismatch, never to decide; ``unattested`` is the
    appliance's own reason when it presents no quote."""

    quote: bytes | None = None
    order_report: OrderReport | None = None
    source: str = "files"
    import_key: bytes | None = None
    claims: Mapping[str, str | None] = field(default_factory=dict)
    unattested: str | None = None


@dataclass(frozen=True)
class QuoteEvidence:
    """What the quote verifier established (:mod:`sealfeed.verify.quote_link`)."""

    checks: tuple[ChainCheck, ...]
    report_data: bytes | None
    #: Super Protocol TD measurement SHA-256(td_attributes || mrtd || rtmr0..3), TDX only
    td_measurement: bytes | None
    #: the policy pins the TD's own measurements (MRTD + RTMR0-3, or the Super Protocol TD
    #: measurement): only then is the code that wrote report_data known
    td_pinned: bool = False


#: raw quote bytes -> what they establish (may raise InputError / ExternalError)
QuoteVerifier = Callable[[bytes], QuoteEvidence]


@dataclass(frozen=True)
class Inputs:
    """Everything one verdict depends on, already loaded. ``config`` is the verified
    configuration, or the error that kept it from verifying (a failed first link)."""

    config: VerifiedConfig | SealfeedError
    measurement: Mapping[str, Any]
    at: dt.datetime
    evidence: Evidence
    sp: SpAnchors = field(default_factory=lambda: SpAnchors(ca=None))


@dataclass(frozen=True)
class Verdict:
    checks: tuple[ChainCheck, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> ChainCheck | None:
        return next((c for c in self.checks if not c.ok), None)

    def to_json(self) -> dict[str, Any]:
        fail = self.first_failure
        return {
            "ok": self.ok,
            "verdict": "accepted" if self.ok else "rejected",
            "failing_link": fail.name if fail else None,
            "facts": dict(self.facts),
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "detail": c.detail,
                    **({"data": dict(c.data)} if c.data else {}),
                }
                for c in self.checks
            ],
        }


__all__ = ["ChainCheck", "Evidence", "Inputs", "QuoteEvidence", "QuoteVerifier", "Verdict"]
