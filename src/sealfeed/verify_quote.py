"""Adapter: sealfeed.attest's quote verification as links of the ``sealfeed verify`` chain."""

from __future__ import annotations

import argparse
import datetime as dt

from sealfeed.sp.orderreport import Check
from sealfeed.verification import QuoteEvidence, QuoteVerifier


def make_quote_verifier(
    *,
    collateral: str | None,
    pccs: str | None,
    policy: str | None,
    at: dt.datetime,
    trust_roots: list[str] | None = None,
) -> QuoteVerifier:
    """Quote -> (``quote``, ``policy`` checks, report_data, Super Protocol TD measurement).

    Collateral comes exactly as ``sealfeed attest verify-quote`` gets it (file, cache
    directory or PCS/PCCS); unavailable collateral raises ExternalError (exit 3); a
    malformed quote raises InputError (exit 2); a quote that fails is a failed link.
    """
    from sealfeed.attest import (
        Policy,
        PolicyError,
        QuoteVerificationError,
        evaluate_policy,
        load_policy,
        parse_quote,
        verify_quote,
    )
    from sealfeed.attest.cli import obtain_collateral
    from sealfeed.attest.policy import sp_measurement
    from sealfeed.attest.quote import EnclaveReport
    from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256

    roots = trust_roots or [INTEL_SGX_ROOT_CA_SHA256]
    pol = load_policy(policy) if policy else Policy()
    td_pinned = pol.sp_measurement is not None or (
        pol.mr_td is not None and None not in (pol.rtmr0, pol.rtmr1, pol.rtmr2, pol.rtmr3)
    )
    source = argparse.Namespace(collateral=collateral, pccs=pccs, cache_dir=None, root_crl_url=None)

    def verify(raw: bytes) -> QuoteEvidence:
        quote = parse_quote(raw)
        coll, how = obtain_collateral(source, quote, at)
        td = quote.td_report
        body = quote.report
        report_data = (
            td.report_data
            if td is not None
            else (body.report_data if isinstance(body, EnclaveReport) else None)
        )
        measurement = sp_measurement(td.td_attributes, td.mr_td, td.rtmrs) if td else None
        try:
            report = verify_quote(quote, coll, now=at, trust_roots=roots)
        except QuoteVerificationError as exc:
            return QuoteEvidence(
                (Check("quote", False, exc.message),), report_data, measurement, td_pinned
            )
        checks = [
            Check(
                "quote",
                True,
                f"genuine {report.tee} quote, TCB {report.tcb_status.value} (collateral: {how})",
                {"tcb_status": report.tcb_status.value, "advisories": list(report.advisory_ids)},
            )
        ]
        try:
            applied = evaluate_policy(report, pol)
            checks.append(
                Check("policy", True, f"{len(applied)} policy checks passed", {"applied": applied})
            )
        except PolicyError as exc:
            checks.append(Check("policy", False, exc.message))
        return QuoteEvidence(tuple(checks), report_data, measurement, td_pinned)

    return verify


__all__ = ["make_quote_verifier"]
