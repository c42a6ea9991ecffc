"""Admission of a peer: is this evidence an attested sealfeed TD we may talk to? (pure)

A peer's *evidence* is its identity quote, the SPKI of the ephemeral key the quote binds,
the configuration hash it claims and its VM name. :func:`verify_peer_quote` runs our DCAP
verifier (steps 1-15, sealfeed.attest) and :func:`admit` then checks, in this order:

1. the quote is a TDX quote whose report_data is the peer binding of *this* key
   (:func:`sealfeed.attest.binding.peer_report_data`) -- else ``binding`` (a quote
   replayed with another TLS key lands here);
2. the claimed configuration hash is ours -- else ``config_hash``;
3. the quote was issued within ``max_age`` (and not in the future) -- else ``stale``;
4. the attest policy: debug TDs refused (``debug``), TCB status / advisories allowed
   (``tcb_status``), SEPT_VE_DISABLE, reserved attributes, MR_SERVICE_TD (``policy``);
5. MRTD/RTMR0-3 match an allowed entry (cvm-reverse-proxy format) -- else
   ``measurements``.

Every refusal is a :class:`PeerRefused` with a reason code (a metrics label, docs/link.md
"Reasons") and a one-line human detail. Nothing here reads the clock or the network.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sealfeed.attest.binding import peer_issued_at, peer_report_data
from sealfeed.attest.policy import PolicyError, evaluate_policy
from sealfeed.attest.quote import DcapQuote, QuoteParseError, parse_quote
from sealfeed.attest.tcbinfo import TcbStatus
from sealfeed.attest.verify import (
    QuoteVerificationError,
    VerifiedCollateral,
    VerifiedReport,
    verify_quote,
)
from sealfeed.errors import SealfeedError, VerificationError
from sealfeed.link.measurements import td_registers
from sealfeed.link.plan import LinkPolicy


class Reason(enum.StrEnum):
    """Why a peer, a tunnel or a handshake was refused (the ``reason`` metrics label)."""

    QUOTE = "quote"  # the quote does not verify (signature, chain, malformed)
    REVOKED = "revoked"  # the platform (PCK / CA) is revoked
    COLLATERAL = "collateral"  # no usable collateral (missing, invalid, expired)
    BINDING = "binding"  # report_data does not bind the presented key (replayed quote)
    CONFIG_HASH = "config_hash"  # the peer runs another configuration
    STALE = "stale"  # the identity quote is too old (or from the future)
    DEBUG = "debug"  # a debug TD
    TCB_STATUS = "tcb_status"  # TCB status / advisories not accepted by policy
    MEASUREMENTS = "measurements"  # MRTD/RTMRs match no allowed entry (other image)
    POLICY = "policy"  # any other attest policy rule
    PROOF = "proof"  # the key's signature over this session does not verify
    PROTOCOL = "protocol"  # malformed or unexpected message
    UNKNOWN_PEER = "unknown_peer"  # a VM name the plan does not list
    UNKNOWN_TARGET = "unknown_target"  # a target this VM does not serve
    TARGET_UNREACHABLE = "target_unreachable"  # the local target refused the connection
    REFUSED_BY_PEER = "refused_by_peer"  # the peer refused *our* evidence
    UNREACHABLE = "unreachable"  # TCP/TLS to the peer failed
    TIMEOUT = "timeout"  # no answer within the handshake timeout


#: reasons that are facts about a TD's evidence: the peer "stops verifying"
ATTESTATION_REASONS = frozenset(
    {
        Reason.QUOTE,
        Reason.REVOKED,
        Reason.COLLATERAL,
        Reason.BINDING,
        Reason.CONFIG_HASH,
        Reason.STALE,
        Reason.DEBUG,
        Reason.TCB_STATUS,
        Reason.MEASUREMENTS,
        Reason.POLICY,
        Reason.PROOF,
    }
)


class PeerRefused(VerificationError):
    """A peer (or a handshake with it) was refused; ``reason`` is the metrics label."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail, location=f"link ({reason.value})")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PeerEvidence:
    """What a peer presents: its VM name, claimed configuration hash, identity quote and
    the DER SubjectPublicKeyInfo of the key the quote binds."""

    vm: str
    config_hash: str
    quote: bytes
    spki: bytes

    @cached_property
    def spki_sha256(self) -> bytes:
        return hashlib.sha256(self.spki).digest()

    @cached_property
    def quote_sha256(self) -> bytes:
        return hashlib.sha256(self.quote).digest()


@dataclass(frozen=True)
class Admission:
    """Evidence that passed every check, and until when it may be relied on."""

    vm: str
    spki_sha256: bytes
    quote_sha256: bytes
    issued_at: int
    tcb_status: str
    advisory_ids: tuple[str, ...]
    measurement_id: str
    fmspc: str
    verified_at: float
    #: min(issued_at + max_age, collateral validity): re-verify or drop before this
    valid_until: float

    def to_json(self) -> dict[str, Any]:
        return {
            "vm": self.vm,
            "key_sha256": self.spki_sha256.hex(),
            "quote_sha256": self.quote_sha256.hex(),
            "issued_at": self.issued_at,
            "tcb_status": self.tcb_status,
            "advisory_ids": list(self.advisory_ids),
            "measurement_id": self.measurement_id,
            "fmspc": self.fmspc,
            "verified_at": self.verified_at,
            "valid_until": self.valid_until,
        }


def parse_peer_quote(raw: bytes) -> DcapQuote:
    """Parse and require a TDX quote (``quote`` refusal otherwise)."""
    try:
        q = parse_quote(raw)
    except (QuoteParseError, SealfeedError) as exc:
        raise PeerRefused(Reason.QUOTE, f"malformed quote: {exc}") from None
    if q.td_report is None:
        raise PeerRefused(Reason.QUOTE, f"a {q.tee} quote, not a TDX quote")
    return q


def verify_peer_quote(
    quote: DcapQuote, collateral: VerifiedCollateral, *, now: float, trust_roots: tuple[str, ...]
) -> VerifiedReport:
    """DCAP verification (sealfeed.attest steps 1-15) with the failure mapped to a reason:
    steps 1-6 are the collateral's, a ``Revoked`` verdict is ``revoked``, the rest ``quote``."""
    try:
        return verify_quote(quote, collateral, now=now, trust_roots=trust_roots)
    except QuoteVerificationError as exc:
        if exc.status is TcbStatus.REVOKED:
            raise PeerRefused(Reason.REVOKED, f"{exc.check}: {exc.message}") from None
        step = exc.checks[-1].step if exc.checks else 0
        reason = Reason.COLLATERAL if 1 <= step <= 6 else Reason.QUOTE
        raise PeerRefused(reason, f"{exc.check}: {exc.message}") from None
    except SealfeedError as exc:
        raise PeerRefused(Reason.QUOTE, f"quote verification: {exc}") from None


def _policy_reason(err: PolicyError) -> Reason:
    fields = {f for f, _, _ in err.mismatches}
    if "td_attributes.DEBUG" in fields or "attributes.DEBUG" in fields:
        return Reason.DEBUG
    if fields & {"tcb_status", "advisory_ids"}:
        return Reason.TCB_STATUS
    return Reason.POLICY


def admit(
    evidence: PeerEvidence,
    report: VerifiedReport,
    *,
    policy: LinkPolicy,
    config_hash: str,
    max_age: float,
    collateral_valid_until: datetime,
    now: float,
    clock_skew: float = 60.0,
) -> Admission:
    """Checks 1-5 of the module docstring on a quote that passed DCAP verification."""
    td = report.quote.td_report
    if td is None:  # parse_peer_quote refuses these; keep the invariant local
        raise PeerRefused(Reason.QUOTE, "not a TDX quote")
    rd = td.report_data
    issued_at = peer_issued_at(rd)
    if issued_at is None:
        raise PeerRefused(Reason.BINDING, "report_data is not a sealfeed peer binding")
    try:
        expected = peer_report_data(evidence.spki_sha256, evidence.config_hash, issued_at)
    except ValueError as exc:
        raise PeerRefused(Reason.PROTOCOL, f"claimed configuration hash: {exc}") from None
    if rd != expected:
        raise PeerRefused(
            Reason.BINDING,
            "the quote does not bind the presented TLS key and configuration hash "
            "(a quote replayed with another key?)",
        )
    if evidence.config_hash.lower() != config_hash.lower():
        raise PeerRefused(
            Reason.CONFIG_HASH,
            f"peer runs configuration {evidence.config_hash[:16]}..., "
            f"this VM {config_hash[:16]}...",
        )
    age = now - issued_at
    if age > max_age or age < -clock_skew:
        raise PeerRefused(
            Reason.STALE,
            f"identity quote issued {age:.0f} s ago (allowed 0..{max_age:.0f} s, "
            f"{clock_skew:.0f} s clock skew)",
        )
    try:
        evaluate_policy(report, policy.attest)
    except PolicyError as exc:
        raise PeerRefused(_policy_reason(exc), exc.message) from None
    regs = td_registers(td.mr_td, td.rtmrs)
    entry = policy.measurements.match(regs)
    if entry is None:
        raise PeerRefused(Reason.MEASUREMENTS, policy.measurements.explain(regs))
    valid_until = min(float(issued_at) + max_age, collateral_valid_until.timestamp())
    return Admission(
        vm=evidence.vm,
        spki_sha256=evidence.spki_sha256,
        quote_sha256=evidence.quote_sha256,
        issued_at=issued_at,
        tcb_status=report.tcb_status.value,
        advisory_ids=tuple(report.advisory_ids),
        measurement_id=entry.measurement_id,
        fmspc=report.pck.fmspc.hex().upper(),
        verified_at=now,
        valid_until=valid_until,
    )


__all__ = [
    "ATTESTATION_REASONS",
    "Admission",
    "PeerEvidence",
    "PeerRefused",
    "Reason",
    "admit",
    "parse_peer_quote",
    "verify_peer_quote",
]
