"""Super Protocol order report as links of the ``sealfeed verify`` chain (pure).

The report itself is judged by the one rule set :func:`sealfeed.sp.check_order_report`
(the same checks ``sealfeed sp check-report`` prints); this module adds what only the full
chain knows: the order runs the measured image (``image-hash``) with the signed
configuration (``config-hash``), and, when the TEE's quote is at hand, the quote signs the
TEE certificate's key (``quote-binds-certificate``, pki-common ``getPublicKeyHash``) and
carries the certificate's TD measurement (``quote-td-measurement``).
"""

from __future__ import annotations

import datetime as dt

from sealfeed.sp.orderreport import OrderReport, runtime_hash, spki_sha256
from sealfeed.sp.rules import SpAnchors, check_order_report
from sealfeed.verify.model import ChainCheck, QuoteEvidence


def _image_link(report: OrderReport, image: str | None) -> ChainCheck:
    images = report.runtime("Image")
    got = runtime_hash(images[0]) if images else None
    if got is None:
        return ChainCheck("image-hash", False, "workloadInfo has no Image runtime entry")
    if got != image:
        return ChainCheck(
            "image-hash", False, f"the order runs image {got}, not the measured {image}"
        )
    return ChainCheck("image-hash", True, f"the order runs the measured image {image}")


def _config_link(report: OrderReport, config_hash: str | None) -> ChainCheck:
    args = [runtime_hash(ri, "argsHash") for ri in report.workload_info.get("runtimeInfo", [])]
    args = [a for a in args if a]
    if config_hash is None:
        return ChainCheck("config-hash", False, "no verified configuration to compare")
    if config_hash not in args:
        return ChainCheck("config-hash", False,
                     f"the order's configuration hash {args or '[none]'} is not the signed "
                     f"configuration's {config_hash}")  # fmt: skip
    return ChainCheck("config-hash", True, "the order runs the signed configuration")


def _quote_links(
    report: OrderReport, quote: QuoteEvidence, measurement: bytes | None
) -> list[ChainCheck]:
    checks = []
    if quote.report_data is None or quote.report_data[:32] != spki_sha256(report.leaf):
        checks.append(ChainCheck("quote-binds-certificate", False,
                            "quote report_data does not commit to the TEE certificate's key"))  # fmt: skip
    else:
        checks.append(
            ChainCheck(
                "quote-binds-certificate", True, "quote report_data = SHA-256(certificate key)"
            )
        )
    if measurement is not None:
        if quote.td_measurement != measurement:
            checks.append(ChainCheck("quote-td-measurement", False,
                                "quote TD measurement differs from the certificate's challenge id"))  # fmt: skip
        else:
            checks.append(ChainCheck("quote-td-measurement", True,
                                "quote TD measurement = the certificate's challenge id"))  # fmt: skip
    return checks


def sp_links(
    report: OrderReport,
    anchors: SpAnchors,
    at: dt.datetime,
    image: str | None,
    config_hash: str | None,
    quote: QuoteEvidence | None,
) -> list[ChainCheck]:
    result = check_order_report(report, anchors, at)
    checks = list(result.checks)
    checks.append(_image_link(report, image))
    checks.append(_config_link(report, config_hash))
    if quote is not None:
        checks.extend(_quote_links(report, quote, result.td_measurement))
    return checks


__all__ = ["sp_links"]
