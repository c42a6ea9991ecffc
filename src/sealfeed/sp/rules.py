"""The one rule set for a Super Protocol order report, used by ``sealfeed sp check-report``
and by ``sealfeed verify --order-report`` (which then adds the links to the image, the
configuration and the quote). Same inputs, same checks, same verdict.

Rules, in the order a failure should be explained:

1. ``sp-cert-chain`` -- leaf -> ... -> the pinned Super Protocol CA: signatures, issuers,
   validity at ``at`` (no CA given is a failure: nothing is trusted by default);
2. ``sp-challenge`` -- *every* certificate of the chain carries a TDX challenge with an id
   (sdk-js ``validateChallenge`` walks the whole chain; a TDX leaf under a sub-CA issued for
   another challenge type is not a TDX order);
3. ``sp-td-measurement`` -- the leaf's challenge id (the TD measurement) is on the TEE
   loader's signed allow-list (sp-vm ``signatures/``); without the loader certificate and
   the allow-list this cannot be shown, which is a failure, not a skipped check;
4. ``sp-workload-info`` -- the leaf vouches for the report's workloadInfo (object-hash).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from sealfeed.sp.orderreport import (
    ChainCheck,
    OrderReport,
    challenge_of,
    find_measurement_signature,
    load_signature_doc,
    verify_chain,
    verify_measurement_signature,
    verify_workload_binding,
)


@dataclass(frozen=True)
class SpAnchors:
    """What an order report is checked against (all from the auditor, never the report)."""

    #: the Super Protocol root CA the TEE certificate must chain to (``--sp-ca``)
    ca: x509.Certificate | None
    #: the TEE loader certificate whose key signs the TD measurement allow-list
    tee_loader_cert: x509.Certificate | None = None
    #: sp-vm ``signatures/`` directory (the allow-list)
    signatures_dir: Path | None = None


@dataclass(frozen=True)
class ReportChecks:
    checks: tuple[ChainCheck, ...]
    #: the leaf's TDX challenge id (the TD measurement) when every certificate carries a TDX
    #: challenge; None otherwise
    td_measurement: bytes | None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def _challenges(report: OrderReport) -> tuple[ChainCheck, bytes | None]:
    for cert in report.certificates:
        ctype, cid = challenge_of(cert)
        if ctype != "tdx" or not cid:
            return (
                ChainCheck(
                    "sp-challenge",
                    False,
                    f"{cert.subject.rfc4514_string()} has challenge {ctype or '[none]'}"
                    f"{'' if cid or ctype != 'tdx' else ' without an id'}, not tdx",
                ),
                None,
            )
    _, measurement = challenge_of(report.leaf)
    return (
        ChainCheck(
            "sp-challenge",
            True,
            f"every certificate ({len(report.certificates)}) carries a TDX challenge",
        ),
        measurement,
    )


def _td_measurement(measurement: bytes, anchors: SpAnchors) -> ChainCheck:
    if anchors.tee_loader_cert is None or anchors.signatures_dir is None:
        return ChainCheck(
            "sp-td-measurement",
            False,
            f"TD measurement {measurement.hex()} not checked: need --tee-loader-cert and "
            "--sp-signatures (the TEE loader's signed allow-list)",
        )
    path = find_measurement_signature(anchors.signatures_dir, measurement)
    if path is None:
        return ChainCheck(
            "sp-td-measurement",
            False,
            f"TD measurement {measurement.hex()} is not on the allow-list",
        )
    return verify_measurement_signature(
        measurement, load_signature_doc(path), anchors.tee_loader_cert
    )


def check_order_report(report: OrderReport, anchors: SpAnchors, at: dt.datetime) -> ReportChecks:
    """Apply rules 1-4 to ``report`` at time ``at``; never raises for a failing rule."""
    checks: list[ChainCheck] = []
    if anchors.ca is None:
        checks.append(ChainCheck("sp-cert-chain", False, "no Super Protocol CA given (--sp-ca)"))
    else:
        checks.append(verify_chain(report, anchors.ca, at))
    challenge, measurement = _challenges(report)
    checks.append(challenge)
    if measurement is not None:
        checks.append(_td_measurement(measurement, anchors))
    checks.append(verify_workload_binding(report))
    return ReportChecks(tuple(checks), measurement)


__all__ = ["ReportChecks", "SpAnchors", "check_order_report"]
