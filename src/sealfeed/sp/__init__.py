"""Super Protocol artefacts: order reports, TEE certificates, TD measurement allow-list,
resource metadata. Pure parsing/verification; see :mod:`sealfeed.sp.orderreport`."""

from sealfeed.sp.orderreport import (
    Check,
    OrderReport,
    load_order_report,
    parse_order_report,
    verify_chain,
    verify_measurement_signature,
    verify_workload_binding,
)
from sealfeed.sp.resource import resource_document

__all__ = [
    "Check",
    "OrderReport",
    "load_order_report",
    "parse_order_report",
    "resource_document",
    "verify_chain",
    "verify_measurement_signature",
    "verify_workload_binding",
]
