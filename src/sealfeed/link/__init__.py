"""sealfeed.link: attested mutual-TLS tunnels between the VMs of one DON (issue #20).

``plan`` (what to open, dial and admit; pure), ``measurements`` (the cvm-reverse-proxy
allow-list format; pure), ``admission`` (is this evidence an attested sealfeed TD with our
configuration? pure), ``protocol`` (the wire format), ``identity`` (ephemeral key +
quote), and the IO edges: ``collateral``, ``handshake``, ``tunnel``, ``service`` (the running
link), ``status`` (its status file). See docs/link.md.
"""

from sealfeed.link.admission import (
    ATTESTATION_REASONS,
    Admission,
    PeerEvidence,
    PeerRefused,
    Reason,
    admit,
)
from sealfeed.link.configuration import verified_configuration
from sealfeed.link.measurements import Measurements, entry_json, parse_measurements
from sealfeed.link.plan import LinkPlan, LinkPolicy, parse_plan, plan_summary
from sealfeed.link.status import DEFAULT_STATUS_PATH, format_status, read_status

__all__ = [
    "ATTESTATION_REASONS",
    "DEFAULT_STATUS_PATH",
    "Admission",
    "LinkPlan",
    "LinkPolicy",
    "Measurements",
    "PeerEvidence",
    "PeerRefused",
    "Reason",
    "admit",
    "entry_json",
    "format_status",
    "parse_measurements",
    "parse_plan",
    "plan_summary",
    "read_status",
    "verified_configuration",
]
