"""One verdict from image measurement + signed configuration + TDX evidence.

The chain a data-feed consumer needs, each link a :class:`Check`, in the order a failure
should be explained:

1. ``config-signature`` -- the configuration verifies with the owner's key (fail closed);
2. ``image-measurement`` -- the golden measurement names an image digest;
3. ``quote`` / ``policy`` -- the TDX quote is genuine, its TCB acceptable, its TD matches the
   policy (sealfeed.attest);
4. the binding between them:

   * bare quote (``--quote``): ``report_data[0:32] == SHA-256("sealfeed-binding-v1\\0" ||
     image sha256 || object-hash(configuration document))`` -- what the appliance asks the TDX
     module to sign at start-up (:func:`expected_report_data`). report_data is written by the
     code in the TD, so this link counts only when the policy also pins the TD's measurements
     (``td-pinned``): a TD image whose rootfs is the appliance image, measured into MRTD/RTMRs;
   * Super Protocol order report (``--order-report``): the TEE certificate chains to the pinned
     Super Protocol CA, its TD measurement is on the TEE loader's signed allow-list, its
     workloadInfo hash covers the report, whose ``Image`` runtime hash is the measured image
     digest and whose ``argsHash`` is object-hash of the signed configuration; when the quote is
     at hand it must sign the certificate's key (``report_data[0:32] == SHA-256(SPKI)``,
     pki-common ``getPublicKeyHash``) and carry the same TD measurement.

Pure: inputs are loaded objects; :func:`run` never touches the network or the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from sealfeed.attest.binding import APPLIANCE_DOMAIN, appliance_report_data
from sealfeed.config.loader import Trust, load_and_verify, read_config_document
from sealfeed.config.objecthash import object_hash
from sealfeed.errors import SealfeedError
from sealfeed.sp import orderreport as spr
from sealfeed.sp.orderreport import Check

BINDING_DOMAIN = APPLIANCE_DOMAIN
expected_report_data = appliance_report_data


@dataclass(frozen=True)
class QuoteEvidence:
    """What the quote verifier established (filled by an adapter over sealfeed.attest)."""

    checks: tuple[Check, ...]
    report_data: bytes | None
    td_measurement: bytes | None
    #: the policy pins the TD's own measurements (MRTD + RTMR0-3, or the Super Protocol TD
    #: measurement): only then is the code that wrote report_data known
    td_pinned: bool = False


QuoteVerifier = Callable[[bytes], QuoteEvidence]


@dataclass(frozen=True)
class Inputs:
    config_path: Path
    trust: Trust
    measurement: Mapping[str, Any]
    at: dt.datetime
    quote: bytes | None = None
    order_report: spr.OrderReport | None = None
    sp_ca: x509.Certificate | None = None
    tee_loader_cert: x509.Certificate | None = None
    signatures_dir: Path | None = None
    secrets_dir: str | None = None


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first_failure(self) -> Check | None:
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


def measured_image_digest(measurement: Mapping[str, Any]) -> str | None:
    """The image archive's sha256 (hex) from a golden measurement, as
    ``sealfeed.image.load_measurement`` validated it (``archive_sha256: "sha256:<hex>"``)."""
    value = measurement.get("archive_sha256")
    return value.removeprefix("sha256:") if isinstance(value, str) else None


def _config_link(inputs: Inputs) -> tuple[Check, str | None]:
    try:
        _cfg, sig = load_and_verify(
            inputs.config_path,
            inputs.trust,
            secrets_dir=inputs.secrets_dir,
            read_secrets=inputs.secrets_dir is not None,
        )
        doc = read_config_document(inputs.config_path)
    except SealfeedError as exc:
        return Check("config-signature", False, str(exc)), None
    config_hash = object_hash(doc.document)
    return (
        Check(
            "config-signature",
            True,
            f"signed by {sig.key_fingerprint} ({sig.scheme.value})",
            {"digest": sig.digest, "config_hash": config_hash, "key_id": sig.key_id},
        ),
        config_hash,
    )


def _sp_links(
    inputs: Inputs, image: str | None, config_hash: str | None, quote: QuoteEvidence | None
) -> list[Check]:
    report = inputs.order_report
    assert report is not None
    checks: list[Check] = []
    if inputs.sp_ca is None:
        checks.append(Check("sp-cert-chain", False, "no Super Protocol CA given (--sp-ca)"))
    else:
        checks.append(spr.verify_chain(report, inputs.sp_ca, inputs.at))
    # every non-root certificate must carry an allowed TDX challenge (sdk-js validateChallenge)
    measurement: bytes | None = None
    for cert in report.certificates:
        ctype, cid = spr.challenge_of(cert)
        if ctype != "tdx" or not cid:
            checks.append(Check("sp-challenge", False,
                                f"{cert.subject.rfc4514_string()} has challenge {ctype or '[none]'}, not tdx"))  # fmt: skip
            break
        if cert is report.leaf:
            measurement = cid
    else:
        checks.append(Check("sp-challenge", True, "every certificate carries a TDX challenge"))
    if measurement is not None:
        if inputs.tee_loader_cert is None or inputs.signatures_dir is None:
            checks.append(Check("sp-td-measurement", False,
                                "need --tee-loader-cert and --sp-signatures to check the TD measurement"))  # fmt: skip
        else:
            sig_path = spr.find_measurement_signature(inputs.signatures_dir, measurement)
            if sig_path is None:
                checks.append(Check("sp-td-measurement", False,
                                    f"TD measurement {measurement.hex()} is not on the allow-list"))  # fmt: skip
            else:
                sig_doc = spr.load_signature_doc(sig_path)
                checks.append(
                    spr.verify_measurement_signature(measurement, sig_doc, inputs.tee_loader_cert)
                )
    checks.append(spr.verify_workload_binding(report))
    images = report.runtime("Image")
    got_image = spr.runtime_hash(images[0]) if images else None
    if got_image is None:
        checks.append(Check("image-hash", False, "workloadInfo has no Image runtime entry"))
    elif got_image != image:
        checks.append(
            Check(
                "image-hash", False, f"the order runs image {got_image}, not the measured {image}"
            )
        )
    else:
        checks.append(Check("image-hash", True, f"the order runs the measured image {image}"))
    args = [spr.runtime_hash(ri, "argsHash") for ri in report.workload_info.get("runtimeInfo", [])]
    args = [a for a in args if a]
    if config_hash is None:
        checks.append(Check("config-hash", False, "no verified configuration to compare"))
    elif config_hash not in args:
        checks.append(Check("config-hash", False,
                            f"the order's configuration hash {args or '[none]'} is not the signed configuration's {config_hash}"))  # fmt: skip
    else:
        checks.append(Check("config-hash", True, "the order runs the signed configuration"))
    if quote is not None:
        if quote.report_data is None or quote.report_data[:32] != spr.spki_sha256(report.leaf):
            checks.append(Check("quote-binds-certificate", False,
                                "quote report_data does not commit to the TEE certificate's key"))  # fmt: skip
        else:
            checks.append(
                Check(
                    "quote-binds-certificate", True, "quote report_data = SHA-256(certificate key)"
                )
            )
        if measurement is not None and quote.td_measurement != measurement:
            checks.append(Check("quote-td-measurement", False,
                                "quote TD measurement differs from the certificate's challenge id"))  # fmt: skip
    return checks


def run(inputs: Inputs, quote_verifier: QuoteVerifier | None = None) -> Verdict:
    checks: list[Check] = []
    config_link, config_hash = _config_link(inputs)
    checks.append(config_link)
    image = measured_image_digest(inputs.measurement)
    checks.append(
        Check("image-measurement", True, f"golden image sha256 {image}", {"image_sha256": image})
        if image
        else Check("image-measurement", False, "measurement names no image archive sha256")
    )
    evidence: QuoteEvidence | None = None
    if inputs.quote is not None:
        if quote_verifier is None:
            checks.append(Check("quote", False, "no quote verifier available"))
        else:
            evidence = quote_verifier(inputs.quote)
            checks.extend(evidence.checks)
    if inputs.order_report is not None:
        checks.extend(_sp_links(inputs, image, config_hash, evidence))
    elif evidence is not None:
        checks.append(
            Check("td-pinned", True, "the policy pins the TD measurements (MRTD, RTMR0-3)")
            if evidence.td_pinned
            else Check(
                "td-pinned",
                False,
                "the policy does not pin the TD measurements (mr_td + rtmr0..3, or "
                "sp_measurement): report_data is only as trustworthy as the code that wrote it, "
                "so an unpinned TD could claim any image (--policy)",
            )
        )
        if image is None or config_hash is None:
            checks.append(Check("report-data-binding", False, "nothing verified to bind to"))
        elif evidence.report_data == expected_report_data(image, config_hash):
            checks.append(Check("report-data-binding", True,
                                "the quote vouches for exactly this image and this configuration"))  # fmt: skip
        else:
            checks.append(Check("report-data-binding", False,
                                "quote report_data does not bind this image + configuration "
                                f"(expected {expected_report_data(image, config_hash)[:32].hex()}, "
                                f"got {(evidence.report_data or b'')[:32].hex()})"))  # fmt: skip
    else:
        checks.append(Check("evidence", False, "no TDX evidence given (--quote or --order-report)"))
    facts = {"image_sha256": image, "config_hash": config_hash, "at": inputs.at.isoformat()}
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


__all__ = [
    "BINDING_DOMAIN",
    "Inputs",
    "QuoteEvidence",
    "QuoteVerifier",
    "Verdict",
    "expected_report_data",
    "measured_image_digest",
    "render_human",
    "run",
]
