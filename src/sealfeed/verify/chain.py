"""One verdict from image measurement + signed configuration + TDX evidence (pure).

The chain a data-feed consumer needs, each link a :class:`~sealfeed.verify.model.ChainCheck`, in
the order a failure should be explained:

1. ``config-signature`` -- the configuration verifies with the owner's key (fail closed);
   its object-hash ``config_hash`` comes from the same read (:class:`VerifiedConfig`);
2. ``image-measurement`` -- the golden measurement names an image digest;
3. ``quote`` / ``policy`` -- the TDX quote is genuine, its TCB acceptable, its TD matches the
   policy (:mod:`sealfeed.verify.quote_link` over :mod:`sealfeed.attest`);
4. the binding between them:

   * bare quote: ``report_data[:32] == appliance_report_data(image, config_hash)[:32]``
     (:mod:`sealfeed.attest.binding`, ADR 0003) -- what the appliance asks the TDX module
     to sign at start-up. report_data is written by the code in the TD, so this link counts
     only when the policy also pins the TD's measurements (``td-pinned``). From an
     attestation document (``--url``/``--attestation``, ADR 0130), ``report_data[32:64]``
     must also commit to the document's import key (``import-key-binding``, ADR 0134); the
     document's own image/configuration claims only explain a mismatch;
   * Super Protocol order report: the order-report rule set (:mod:`sealfeed.sp.rules`,
     shared with ``sealfeed sp check-report``) plus the links to the image, the
     configuration and the quote (:mod:`sealfeed.verify.sp_link`).

Pure: inputs are loaded objects; :func:`run` never touches the network, the disk or the
clock (a quote verifier passed in may fetch collateral: that is its business).
"""

from __future__ import annotations

from sealfeed.attest.appliance import import_key_id
from sealfeed.attest.binding import appliance_report_data, import_key_commitment
from sealfeed.config.loader import VerifiedConfig
from sealfeed.sp.resource import measured_image_digest
from sealfeed.verify.model import (
    ChainCheck,
    Evidence,
    Inputs,
    QuoteEvidence,
    QuoteVerifier,
    Verdict,
)
from sealfeed.verify.sp_link import sp_links


def _config_link(inputs: Inputs) -> tuple[ChainCheck, str | None]:
    outcome = inputs.config
    if not isinstance(outcome, VerifiedConfig):
        return ChainCheck("config-signature", False, str(outcome)), None
    sig = outcome.signature
    return (
        ChainCheck(
            "config-signature",
            True,
            f"signed by {sig.key_fingerprint} ({sig.scheme.value})",
            {"digest": sig.digest, "config_hash": outcome.config_hash, "key_id": sig.key_id},
        ),
        outcome.config_hash,
    )


def _claims_hint(ev: Evidence, image: str, config_hash: str) -> str:
    """What the appliance *says* it binds, when that explains a mismatch (never decides)."""
    hints = []
    claimed_image = ev.claims.get("image_sha256")
    if claimed_image and claimed_image != image:
        source = ev.claims.get("image_source") or "?"
        hints.append(f"the appliance bound image {claimed_image} (from {source}), the golden "
                     f"measurement is {image}")  # fmt: skip
    claimed_config = ev.claims.get("config_hash")
    if claimed_config and claimed_config != config_hash:
        hints.append(f"the appliance bound configuration {claimed_config}, the verified "
                     f"configuration hashes to {config_hash}")  # fmt: skip
    return "; ".join(hints)


def _binding_links(
    evidence: QuoteEvidence, image: str | None, config_hash: str | None, ev: Evidence
) -> list[ChainCheck]:
    checks = [
        ChainCheck("td-pinned", True, "the policy pins the TD measurements (MRTD, RTMR0-3)")
        if evidence.td_pinned
        else ChainCheck(
            "td-pinned",
            False,
            "the policy does not pin the TD measurements (mr_td + rtmr0..3, or "
            "sp_measurement): report_data is only as trustworthy as the code that wrote it, "
            "so an unpinned TD could claim any image (--policy)",
        )
    ]
    if image is None or config_hash is None:
        checks.append(ChainCheck("report-data-binding", False, "nothing verified to bind to"))
        return checks
    # the first half binds image + configuration (ADR 0003); the second half is the
    # import-key commitment, or zeros (ADR 0134)
    expected = appliance_report_data(image, config_hash)[:32]
    got = evidence.report_data or b""
    if got[:32] == expected:
        tail = got[32:64]
        note = ""
        if ev.import_key is None and any(tail):
            note = " (it also commits to an import key: checked with the attestation document)"
        checks.append(ChainCheck("report-data-binding", True,
                            "the quote vouches for exactly this image and this configuration"
                            + note))  # fmt: skip
    else:
        hint = _claims_hint(ev, image, config_hash)
        checks.append(ChainCheck("report-data-binding", False,
                            "quote report_data does not bind this image + configuration "
                            f"(expected {expected.hex()}, got {got[:32].hex()})"
                            + (f": {hint}" if hint else "")))  # fmt: skip
    if ev.import_key is not None:
        kid = import_key_id(ev.import_key)
        if got[32:64] == import_key_commitment(ev.import_key):
            checks.append(ChainCheck("import-key-binding", True,
                                f"the quote commits to the import key {kid}",
                                {"import_key": kid}))  # fmt: skip
        else:
            checks.append(ChainCheck("import-key-binding", False,
                                f"the document's import key {kid} is not the one the quote "
                                "commits to (report_data[32:64])"))  # fmt: skip
    return checks


def run(inputs: Inputs, quote_verifier: QuoteVerifier | None = None) -> Verdict:
    checks: list[ChainCheck] = []
    config_link, config_hash = _config_link(inputs)
    checks.append(config_link)
    image = measured_image_digest(inputs.measurement)
    checks.append(
        ChainCheck(
            "image-measurement", True, f"golden image sha256 {image}", {"image_sha256": image}
        )
        if image
        else ChainCheck("image-measurement", False, "measurement names no image archive sha256")
    )
    ev = inputs.evidence
    quote: QuoteEvidence | None = None
    if ev.unattested is not None:
        checks.append(ChainCheck("evidence", False,
                            f"the appliance presents no attestation: {ev.unattested}"))  # fmt: skip
    if ev.quote is not None:
        if quote_verifier is None:
            checks.append(ChainCheck("quote", False, "no quote verifier available"))
        else:
            quote = quote_verifier(ev.quote)
            checks.extend(quote.checks)
    if ev.order_report is not None:
        checks.extend(sp_links(ev.order_report, inputs.sp, inputs.at, image, config_hash, quote))
    elif quote is not None:
        checks.extend(_binding_links(quote, image, config_hash, ev))
    elif ev.quote is None and ev.unattested is None:
        checks.append(
            ChainCheck("evidence", False, "no TDX evidence given (--quote or --order-report)")
        )
    facts = {
        "image_sha256": image,
        "config_hash": config_hash,
        "at": inputs.at.isoformat(),
        "evidence": ev.source,
    }
    return Verdict(tuple(checks), facts)


def render_human(verdict: Verdict) -> str:
    lines: list[str] = []
    fail = verdict.first_failure
    if verdict.ok:
        lines.append(
            "ACCEPTED: the appliance is the measured image running the signed configuration"
        )
    else:
        assert fail is not None
        lines.append(f"REJECTED at {fail.name}: {fail.detail}")
    for c in verdict.checks:
        lines.append(f"  [{'ok' if c.ok else 'FAIL':>4}] {c.name}: {c.detail}")
    return "\n".join(lines)


__all__ = ["render_human", "run"]
