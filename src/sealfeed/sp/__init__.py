"""Super Protocol artefacts: order reports, TEE certificates, TD measurement allow-list,
resource metadata. Pure parsing/verification (:mod:`sealfeed.sp.orderreport`), the one
order-report rule set (:mod:`sealfeed.sp.rules`), ``resource.json`` (:mod:`sealfeed.sp.resource`).
"""

from sealfeed.sp.orderreport import (
    ChainCheck,
    OrderReport,
    load_certificate,
    load_order_report,
    parse_order_report,
    runtime_hash,
    spki_sha256,
    verify_chain,
    verify_measurement_signature,
    verify_workload_binding,
)
from sealfeed.sp.resource import measured_image_digest, merge_resource, resource_document
from sealfeed.sp.rules import ReportChecks, SpAnchors, check_order_report

__all__ = [
    "ChainCheck",
    "OrderReport",
    "ReportChecks",
    "SpAnchors",
    "check_order_report",
    "load_certificate",
    "load_order_report",
    "measured_image_digest",
    "merge_resource",
    "parse_order_report",
    "resource_document",
    "runtime_hash",
    "spki_sha256",
    "verify_chain",
    "verify_measurement_signature",
    "verify_workload_binding",
]
