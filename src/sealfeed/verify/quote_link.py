"""A TDX/SGX quote as links of the ``sealfeed verify`` chain, over :mod:`sealfeed.attest`.

``quote``: genuine (signatures, PCK chain, CRLs) and its TCB status is what the collateral
says at ``at``; ``policy``: the verified report satisfies the attestation policy. Bytes after
the quote's end are never evidence: they are reported as unauthenticated in the ``quote``
link's data, and the policy may forbid them (``allow_trailing_bytes``).

Collateral comes exactly as ``sealfeed attest verify-quote`` gets it
(:func:`sealfeed.attest.obtain_collateral` over a typed :class:`CollateralSource`):
unavailable collateral raises ExternalError (exit 3), missing local collateral or a
malformed quote raises InputError (exit 2), a quote that fails is a failed link (exit 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sealfeed.attest import (
    INTEL_SGX_ROOT_CA_SHA256,
    CollateralSource,
    EnclaveReport,
    Policy,
    PolicyError,
    QuoteVerificationError,
    evaluate_policy,
    obtain_collateral,
    parse_quote,
    sp_measurement,
    verify_quote,
)
from sealfeed.verify.model import ChainCheck, QuoteEvidence, QuoteVerifier


def td_pinned(policy: Policy) -> bool:
    """The policy names the code in the TD: the Super Protocol measurement, or MRTD and
    every RTMR."""
    return policy.sp_measurement is not None or (
        policy.mr_td is not None
        and None not in (policy.rtmr0, policy.rtmr1, policy.rtmr2, policy.rtmr3)
    )


def make_quote_verifier(
    *,
    collateral: CollateralSource,
    policy: Policy,
    at: dt.datetime,
    trust_roots: Iterable[str] | None = None,
) -> QuoteVerifier:
    """Raw quote -> (``quote``, ``policy`` checks, report_data, Super Protocol TD measurement)."""
    roots = list(trust_roots or [INTEL_SGX_ROOT_CA_SHA256])
    pinned = td_pinned(policy)

    def verify(raw: bytes) -> QuoteEvidence:
        quote = parse_quote(raw)
        coll, how = obtain_collateral(collateral, quote, at)
        td = quote.td_report
        body = quote.report
        report_data = (
            td.report_data
            if td is not None
            else (body.report_data if isinstance(body, EnclaveReport) else None)
        )
        measurement = sp_measurement(td.td_attributes, td.mr_td, td.rtmrs) if td else None
        tail = {"trailing_bytes": quote.trailing_json()} if quote.trailing else {}
        note = (
            ""
            if quote.trailing_is_zero_padding
            else f"; {len(quote.trailing)} trailing bytes after the quote are UNAUTHENTICATED "
            "(ignored)"
        )
        try:
            report = verify_quote(quote, coll, now=at, trust_roots=roots)
        except QuoteVerificationError as exc:
            return QuoteEvidence(
                (ChainCheck("quote", False, exc.message + note, tail),),
                report_data,
                measurement,
                pinned,
            )
        checks = [
            ChainCheck(
                "quote",
                True,
                f"genuine {report.tee} quote, TCB {report.tcb_status.value} (collateral: {how})"
                + note,
                {
                    "tcb_status": report.tcb_status.value,
                    "advisories": list(report.advisory_ids),
                    **tail,
                },
            )
        ]
        try:
            applied = evaluate_policy(report, policy)
            checks.append(
                ChainCheck(
                    "policy", True, f"{len(applied)} policy checks passed", {"applied": applied}
                )
            )
        except PolicyError as exc:
            checks.append(ChainCheck("policy", False, exc.message))
        return QuoteEvidence(tuple(checks), report_data, measurement, pinned)

    return verify


__all__ = ["make_quote_verifier", "td_pinned"]
