"""Verify a DCAP quote against collateral at a given time, as Intel's QVL does.

Pure: takes the quote, the collateral, ``now`` and the pinned root fingerprints; never
reads the clock or the network. Returns a frozen :class:`VerifiedReport` (TCB status,
advisories, QE / platform / TDX-module status, every check with its outcome) or raises
:class:`QuoteVerificationError` (exit 1) carrying the checks run so far.

The steps follow Intel's flow (DCAP QVL ``QuoteVerification.cpp`` / dcap-qvl
``verify_impl``), numbered as in docs/attest.md:

  Collateral (cacheable as :class:`VerifiedCollateral`):
   1. root CA pinned by SHA-256 fingerprint, self-signed, valid at ``now``
   2. root CA CRL signed by the root, ``thisUpdate <= now < nextUpdate``
   3. TCB signing chain (TCB info + QE identity issuer chains) -> root, not revoked
   4. TCB Info signature, ``issueDate <= now <= nextUpdate``
   5. QE Identity signature and window
   6. PCK CRL issuer (PCK CA) -> root, not revoked; PCK CRL signature and window
  Quote:
   7. header: version / TEE type / attestation key type / QE vendor id
   8. PCK chain from the quote -> pinned root; PCK leaf not revoked (else ``Revoked``)
   9. QE report signature by the PCK leaf key
  10. QE report_data[0:32] == SHA-256(attestation key || QE auth data)
  11. QE identity match (MRSIGNER, ISVPRODID, masked MISCSELECT / ATTRIBUTES) and QE TCB
  12. quote signature by the attestation key over header || body
  13. TCB Info fits the PCK (id/version per TEE, tcbType 0, FMSPC, PCE-ID); TCB level
  14. TDX module identity (MRSIGNERSEAM, SEAMATTRIBUTES, module ISVSVN) for TDX
  15. final status = platform converged with TDX module and QE status (Revoked fails)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from sealfeed.attest.collateral import Collateral
from sealfeed.attest.pck import PckExtension, parse_pck_extension
from sealfeed.attest.quote import (
    ATT_KEY_TYPE_ECDSA_P256,
    INTEL_QE_VENDOR_ID,
    DcapQuote,
    EnclaveReport,
    TdReport10,
    parse_quote,
)
from sealfeed.attest.tcbinfo import (
    QeIdentity,
    StatusWithAdvisories,
    TcbInfo,
    TcbStatus,
    converge_platform_and_module,
    converge_platform_and_qe,
    parse_qe_identity,
    parse_tcb_info,
)
from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256, normalize_fingerprint
from sealfeed.errors import InputError, VerificationError

_SHA256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class QuoteCheck:
    """One verification step: ``ok`` and a human reason."""

    step: int
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "name": self.name, "ok": self.ok, "detail": self.detail}


class QuoteVerificationError(VerificationError):
    """Evidence rejected (exit 1). ``check`` names the failing step; ``checks`` has every
    step run (the last one failed); ``status`` is set when the verdict is ``Revoked``."""

    def __init__(
        self,
        message: str,
        *,
        check: str,
        checks: Sequence[QuoteCheck] = (),
        status: TcbStatus | None = None,
    ) -> None:
        super().__init__(message, location=check)
        self.check = check
        self.checks = tuple(checks)
        self.status = status


class _Steps:
    """Collects checks; ``fail`` raises with everything recorded so far."""

    def __init__(self, initial: Iterable[QuoteCheck] = ()) -> None:
        self.checks: list[QuoteCheck] = list(initial)

    def ok(self, step: int, name: str, detail: str) -> None:
        self.checks.append(QuoteCheck(step, name, True, detail))

    def fail(
        self, step: int, name: str, detail: str, status: TcbStatus | None = None
    ) -> QuoteVerificationError:
        self.checks.append(QuoteCheck(step, name, False, detail))
        return QuoteVerificationError(detail, check=name, checks=self.checks, status=status)


def _utc(now: datetime | int | float) -> datetime:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise InputError("verification time must be timezone-aware")
        return now.astimezone(UTC)
    return datetime.fromtimestamp(float(now), UTC)


def _raw_sig_der(sig: bytes) -> bytes:
    """Raw 64-byte P-256 r||s (Intel's encoding) -> DER for ``cryptography``."""
    return encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))


def _ec_verify(key: Any, sig_raw: bytes, data: bytes) -> bool:
    if len(sig_raw) != 64 or not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(_raw_sig_der(sig_raw), data, _SHA256)
    except InvalidSignature:
        return False
    return True


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _load_chain(pem: str | bytes, what: str) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(f"{what}: not a PEM certificate chain ({exc})", location=what) from None
    return certs


@dataclass(frozen=True)
class _Window:
    """A validity window re-checked for every quote: [lo, hi] or [lo, hi)."""

    step: int
    name: str
    lo: datetime
    hi: datetime
    hi_inclusive: bool

    def contains(self, now: datetime) -> bool:
        return self.lo <= now and (now <= self.hi if self.hi_inclusive else now < self.hi)

    def describe(self, now: datetime) -> str:
        end = "]" if self.hi_inclusive else ")"
        return f"time {_ts(now)} outside [{_ts(self.lo)}, {_ts(self.hi)}{end}"


@dataclass(frozen=True)
class VerifiedCollateral:
    """Collateral whose signatures, chains and CRLs were verified; reusable for any quote
    of the same FMSPC/CA while ``now`` stays inside every window (re-checked per quote)."""

    collateral: Collateral
    trust_roots: frozenset[str]
    root: x509.Certificate
    root_crl: x509.CertificateRevocationList
    pck_ca: x509.Certificate
    pck_crl: x509.CertificateRevocationList
    tcb_info: TcbInfo
    qe_identity: QeIdentity
    windows: tuple[_Window, ...]
    checks: tuple[QuoteCheck, ...]
    #: DER of intermediates already verified against the root (PCK CA)
    verified_intermediates: frozenset[bytes] = field(repr=False)
    #: PCK chains (PEM bytes) whose signatures already verified against this collateral's
    #: root: (leaf, CA, SGX extension, CA subject). Only signatures are cached -- validity
    #: windows, CRL coverage and revocation are re-checked for every quote.
    pck_chains: dict[bytes, tuple[x509.Certificate, x509.Certificate, PckExtension, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def valid_from(self) -> datetime:
        return max(w.lo for w in self.windows)

    @property
    def valid_until(self) -> datetime:
        return min(w.hi for w in self.windows)

    def dates(self) -> dict[str, str]:
        f = "%Y-%m-%dT%H:%M:%SZ"
        return {
            "tcb_info_issue_date": self.tcb_info.issue_date.strftime(f),
            "tcb_info_next_update": self.tcb_info.next_update.strftime(f),
            "qe_identity_issue_date": self.qe_identity.issue_date.strftime(f),
            "qe_identity_next_update": self.qe_identity.next_update.strftime(f),
            "pck_crl_next_update": _crl_next(self.pck_crl).strftime(f),
            "root_ca_crl_next_update": _crl_next(self.root_crl).strftime(f),
            "tcb_evaluation_data_number": str(self.tcb_info.tcb_evaluation_data_number),
        }


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _crl_next(crl: x509.CertificateRevocationList) -> datetime:
    nu = crl.next_update_utc
    return nu if nu is not None else datetime.max.replace(tzinfo=UTC)


def _cert_window(step: int, name: str, cert: x509.Certificate) -> _Window:
    return _Window(step, name, cert.not_valid_before_utc, cert.not_valid_after_utc, True)


def _crl_window(step: int, name: str, crl: x509.CertificateRevocationList) -> _Window:
    # A CRL is stale at exactly nextUpdate (RFC 5280 5.1.2.5; dcap-qvl/webpki agree).
    return _Window(step, name, crl.last_update_utc, _crl_next(crl), False)


def _check_windows(steps: _Steps, windows: Iterable[_Window], now: datetime) -> None:
    for w in windows:
        if not w.contains(now):
            raise steps.fail(w.step, w.name, w.describe(now))


def verify_collateral(
    collateral: Collateral,
    *,
    now: datetime | int | float,
    trust_roots: Iterable[str] = (INTEL_SGX_ROOT_CA_SHA256,),
) -> VerifiedCollateral:
    """Steps 1-6: verify the collateral itself (independent of any quote)."""
    try:
        return _verify_collateral(collateral, now=now, trust_roots=trust_roots)
    except (ValueError, TypeError) as exc:
        # cryptography parses certificate/CRL fields lazily: malformed DER surfaces here
        raise InputError(f"malformed collateral: {exc}", location="collateral") from None


def _verify_collateral(
    collateral: Collateral,
    *,
    now: datetime | int | float,
    trust_roots: Iterable[str],
) -> VerifiedCollateral:
    now = _utc(now)
    roots = frozenset(normalize_fingerprint(f) for f in trust_roots)
    s = _Steps()
    windows: list[_Window] = []

    # Step 1: the root is the last certificate of the TCB signing chain; pinned by digest.
    tcb_chain = _load_chain(collateral.tcb_info_issuer_chain, "tcb_info_issuer_chain")
    qe_chain = _load_chain(collateral.qe_identity_issuer_chain, "qe_identity_issuer_chain")
    crl_chain = _load_chain(collateral.pck_crl_issuer_chain, "pck_crl_issuer_chain")
    if len(tcb_chain) < 2 or len(qe_chain) < 2 or len(crl_chain) < 2:
        raise s.fail(1, "root_ca", "collateral issuer chains must be <signer> + <root>")
    root = tcb_chain[-1]
    for name, chain in (("qe_identity", qe_chain), ("pck_crl", crl_chain)):
        if chain[-1] != root:
            raise s.fail(1, "root_ca", f"{name} issuer chain ends in a different root")
    fp = _fingerprint(root)
    if fp not in roots:
        raise s.fail(1, "root_ca", f"root CA SHA-256 {fp} is not pinned")
    if not _issued_by(root, root):
        raise s.fail(1, "root_ca", "root CA is not validly self-signed")
    w = _cert_window(1, "root_ca_validity", root)
    windows.append(w)
    _check_windows(s, [w], now)
    s.ok(1, "root_ca", f"pinned root {fp[:16]}... ({root.subject.rfc4514_string()})")

    # Step 2: root CA CRL.
    try:
        root_crl = x509.load_der_x509_crl(collateral.root_ca_crl)
    except ValueError as exc:
        raise InputError(f"root_ca_crl is not a DER CRL: {exc}", location="root_ca_crl") from None
    if root_crl.issuer != root.subject or not root_crl.is_signature_valid(root.public_key()):  # type: ignore[arg-type]
        raise s.fail(2, "root_ca_crl", "root CA CRL is not signed by the root CA")
    w = _crl_window(2, "root_ca_crl_validity", root_crl)
    windows.append(w)
    _check_windows(s, [w], now)
    if root_crl.get_revoked_certificate_by_serial_number(root.serial_number) is not None:
        raise s.fail(2, "root_ca_crl", "root CA is listed in its own CRL", TcbStatus.REVOKED)
    s.ok(2, "root_ca_crl", f"signed by root, next update {_crl_next(root_crl):%Y-%m-%d}")

    def intermediate(step: int, name: str, cert: x509.Certificate) -> None:
        if not _issued_by(cert, root):
            raise s.fail(
                step, name, f"{cert.subject.rfc4514_string()} is not signed by the root CA"
            )
        wi = _cert_window(step, f"{name}_validity", cert)
        windows.append(wi)
        _check_windows(s, [wi], now)
        if root_crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise s.fail(
                step,
                name,
                f"{cert.subject.rfc4514_string()} is revoked by the root CA CRL",
                TcbStatus.REVOKED,
            )

    # Step 3: TCB signing certificates.
    intermediate(3, "tcb_signing_chain", tcb_chain[0])
    if qe_chain[0] != tcb_chain[0]:
        intermediate(3, "tcb_signing_chain", qe_chain[0])
    s.ok(3, "tcb_signing_chain", f"{tcb_chain[0].subject.rfc4514_string()} -> root")

    # Step 4: TCB Info.
    tcb_info = parse_tcb_info(collateral.tcb_info)
    if not _ec_verify(
        tcb_chain[0].public_key(), collateral.tcb_info_signature, collateral.tcb_info.encode()
    ):
        raise s.fail(4, "tcb_info_signature", "TCB Info signature is invalid")
    w = _Window(4, "tcb_info_validity", tcb_info.issue_date, tcb_info.next_update, True)
    windows.append(w)
    _check_windows(s, [w], now)
    s.ok(
        4,
        "tcb_info_signature",
        f"TCB Info {tcb_info.id} v{tcb_info.version} FMSPC {tcb_info.fmspc.hex().upper()} "
        f"signed, valid until {_ts(tcb_info.next_update)}",
    )

    # Step 5: QE Identity.
    qe_identity = parse_qe_identity(collateral.qe_identity)
    if not _ec_verify(
        qe_chain[0].public_key(), collateral.qe_identity_signature, collateral.qe_identity.encode()
    ):
        raise s.fail(5, "qe_identity_signature", "QE Identity signature is invalid")
    w = _Window(5, "qe_identity_validity", qe_identity.issue_date, qe_identity.next_update, True)
    windows.append(w)
    _check_windows(s, [w], now)
    s.ok(
        5,
        "qe_identity_signature",
        f"QE Identity {qe_identity.id} v{qe_identity.version} signed, "
        f"valid until {_ts(qe_identity.next_update)}",
    )

    # Step 6: PCK CRL and its issuer (PCK Platform/Processor CA).
    pck_ca = crl_chain[0]
    intermediate(6, "pck_crl", pck_ca)
    try:
        pck_crl = x509.load_der_x509_crl(collateral.pck_crl)
    except ValueError as exc:
        raise InputError(f"pck_crl is not a DER CRL: {exc}", location="pck_crl") from None
    if pck_crl.issuer != pck_ca.subject or not pck_crl.is_signature_valid(pck_ca.public_key()):  # type: ignore[arg-type]
        raise s.fail(6, "pck_crl", "PCK CRL is not signed by its issuer chain")
    w = _crl_window(6, "pck_crl_validity", pck_crl)
    windows.append(w)
    _check_windows(s, [w], now)
    s.ok(6, "pck_crl", f"signed by {pck_ca.subject.rfc4514_string()}, {len(pck_crl)} revoked")

    return VerifiedCollateral(
        collateral=collateral,
        trust_roots=roots,
        root=root,
        root_crl=root_crl,
        pck_ca=pck_ca,
        pck_crl=pck_crl,
        tcb_info=tcb_info,
        qe_identity=qe_identity,
        windows=tuple(windows),
        checks=tuple(s.checks),
        verified_intermediates=frozenset({pck_ca.public_bytes(Encoding.DER)}),
    )


@dataclass(frozen=True)
class VerifiedReport:
    """A quote that passed steps 1-15, with its TCB verdict (policy not yet applied)."""

    quote: DcapQuote
    tcb_status: TcbStatus
    advisory_ids: tuple[str, ...]
    qe_status: StatusWithAdvisories
    platform_status: StatusWithAdvisories
    module_status: StatusWithAdvisories | None
    pck: PckExtension
    pck_ca: str
    collateral_dates: dict[str, str]
    checks: tuple[QuoteCheck, ...]
    now: datetime

    @property
    def tee(self) -> str:
        return self.quote.tee

    @property
    def report(self) -> Any:
        return self.quote.report

    def to_json(self) -> dict[str, Any]:
        q = self.quote
        return {
            "tee": q.tee,
            "header": {
                "version": q.header.version,
                "attestation_key_type": q.header.attestation_key_type,
                "tee_type": f"0x{q.header.tee_type:08x}",
                "qe_svn": q.header.qe_svn,
                "pce_svn": q.header.pce_svn,
                "qe_vendor_id": q.header.qe_vendor_id.hex(),
                "user_data": q.header.user_data.hex(),
            },
            "body_type": q.body_type,
            "body": q.report.fields(),
            "fmspc": self.pck.fmspc.hex().upper(),
            "pce_id": self.pck.pce_id.hex().upper(),
            "pck_ca": self.pck_ca,
            "ppid": self.pck.ppid.hex(),
            "tcb_status": self.tcb_status.value,
            "advisory_ids": list(self.advisory_ids),
            "qe_status": self.qe_status.to_json(),
            "platform_status": self.platform_status.to_json(),
            "tdx_module_status": self.module_status.to_json() if self.module_status else None,
            "collateral": self.collateral_dates,
            "verified_at": self.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checks": [c.to_json() for c in self.checks],
        }


def _pck_ca_kind(cert: x509.Certificate) -> str:
    cn = cert.subject.rfc4514_string()
    return "processor" if "Processor" in cn else "platform"


def _match_qe_identity(
    s: _Steps, qe: EnclaveReport, ident: QeIdentity, tdx: bool
) -> StatusWithAdvisories:
    step, name = 11, "qe_identity"
    if qe.mr_signer != ident.mrsigner:
        raise s.fail(step, name, f"QE MRSIGNER {qe.mr_signer.hex()} != {ident.mrsigner.hex()}")
    if qe.isv_prod_id != ident.isv_prod_id:
        raise s.fail(step, name, f"QE ISVPRODID {qe.isv_prod_id} != {ident.isv_prod_id}")
    if qe.misc_select & ident.miscselect_mask != ident.miscselect & ident.miscselect_mask:
        raise s.fail(step, name, "QE MISCSELECT does not match (masked)")
    for i, (a, e, m) in enumerate(
        zip(qe.attributes, ident.attributes, ident.attributes_mask, strict=True)
    ):
        if a & m != e & m:
            raise s.fail(step, name, f"QE ATTRIBUTES byte {i} does not match (masked)")
    if qe.attributes[0] & 0x02:  # SGX ATTRIBUTES.DEBUG (SDM 38.7.1): the QE must be production
        raise s.fail(step, name, "QE is a debug enclave")
    for lv in ident.tcb_levels:
        if qe.isv_svn >= lv.isv_svn:
            st = StatusWithAdvisories(lv.status, lv.advisory_ids)
            s.ok(step, name, f"QE matches {ident.id}; ISVSVN {qe.isv_svn} -> {lv.status.value}")
            return st
    raise s.fail(step, name, f"QE ISVSVN {qe.isv_svn} is below every QE Identity TCB level")


def _match_platform(
    s: _Steps, quote: DcapQuote, tcb: TcbInfo, pck: PckExtension
) -> StatusWithAdvisories:
    step, name = 13, "tcb_level"
    td = quote.td_report
    if td is not None:
        if tcb.id != "TDX" or tcb.version < 3:
            raise s.fail(
                step, name, f"TDX quote needs TDX TCB Info v3, got {tcb.id} v{tcb.version}"
            )
    elif tcb.id != "SGX" or tcb.version not in (2, 3):
        raise s.fail(step, name, f"SGX quote needs SGX TCB Info v2/v3, got {tcb.id} v{tcb.version}")
    if tcb.tcb_type != 0:  # PCS API v4: only tcbType 0 is defined
        raise s.fail(step, name, f"unsupported tcbType {tcb.tcb_type}")
    if tcb.fmspc != pck.fmspc:
        raise s.fail(
            step,
            name,
            f"FMSPC mismatch: PCK {pck.fmspc.hex().upper()}, TCB Info {tcb.fmspc.hex().upper()}",
        )
    if tcb.pce_id != pck.pce_id:
        raise s.fail(
            step, name, f"PCE-ID mismatch: PCK {pck.pce_id.hex()}, TCB Info {tcb.pce_id.hex()}"
        )
    for i, lv in enumerate(tcb.tcb_levels):
        if len(lv.sgx_components) != 16:
            raise s.fail(step, name, f"TCB level {i} has {len(lv.sgx_components)} SGX components")
        if any(p < r for p, r in zip(pck.tcb_components, lv.sgx_components, strict=True)):
            continue
        if pck.pce_svn < lv.pce_svn:
            continue
        if td is not None:
            if len(lv.tdx_components) != 16:
                raise s.fail(
                    step, name, f"TCB level {i} has {len(lv.tdx_components)} TDX components"
                )
            # Intel QVL: with a TDX module version (TEE_TCB_SVN[1]) > 0 the first two
            # bytes are the module SVN/version, checked by the module identity instead.
            start = 2 if td.tee_tcb_svn[1] > 0 else 0
            if any(td.tee_tcb_svn[j] < lv.tdx_components[j] for j in range(start, 16)):
                continue
        s.ok(
            step,
            name,
            f"TCB level {lv.tcb_date} ({lv.status.value}) for FMSPC {pck.fmspc.hex().upper()}",
        )
        return StatusWithAdvisories(lv.status, lv.advisory_ids)
    raise s.fail(step, name, "no matching TCB level (TCB level not supported)")


def _match_module(s: _Steps, td: TdReport10, tcb: TcbInfo) -> StatusWithAdvisories | None:
    step, name = 14, "tdx_module"
    if tcb.tdx_module is None:
        raise s.fail(step, name, "TDX TCB Info has no tdxModule")
    ident = tcb.tdx_module
    module_svn, module_version = td.tee_tcb_svn[0], td.tee_tcb_svn[1]
    levels = None
    if module_version > 0 and tcb.tdx_module_identities:
        want = f"TDX_{module_version:02X}"
        found = [m for m in tcb.tdx_module_identities if m.id.upper() == want]
        if not found:
            raise s.fail(step, name, f"no TDX module identity {want} in TCB Info")
        ident = found[0]
        levels = ident.tcb_levels
    if td.mr_signer_seam != ident.mrsigner:
        raise s.fail(
            step, name, f"MRSIGNERSEAM {td.mr_signer_seam.hex()} != {ident.mrsigner.hex()}"
        )
    for a, e, m in zip(td.seam_attributes, ident.attributes, ident.attributes_mask, strict=True):
        if a & m != e & m:
            raise s.fail(step, name, "SEAMATTRIBUTES do not match (masked)")
    if levels is None:
        s.ok(step, name, "TDX module signer and attributes match")
        return None
    for lv in levels:
        if module_svn >= lv.isv_svn:
            s.ok(step, name, f"TDX module {ident.id} ISVSVN {module_svn} -> {lv.status.value}")
            return StatusWithAdvisories(lv.status, lv.advisory_ids)
    raise s.fail(step, name, f"TDX module ISVSVN {module_svn} is below every {ident.id} TCB level")


_PCK_CACHE_MAX = 4096


def _verify_pck_signatures(
    s: _Steps, vc: VerifiedCollateral, pem: bytes
) -> tuple[x509.Certificate, x509.Certificate, PckExtension, str]:
    """Step 8, signature part: leaf -> PCK CA -> pinned root; parse the SGX extension."""
    try:
        chain = x509.load_pem_x509_certificates(pem.rstrip(b"\x00"))
    except ValueError as exc:
        raise s.fail(8, "pck_chain", f"PCK chain is not PEM: {exc}") from None
    if len(chain) < 2:
        raise s.fail(8, "pck_chain", "PCK chain has fewer than 2 certificates")
    leaf, ca = chain[0], chain[1]
    quote_root = chain[-1]
    if _fingerprint(quote_root) not in vc.trust_roots or quote_root != vc.root:
        raise s.fail(8, "pck_chain", f"PCK chain ends in unpinned root {_fingerprint(quote_root)}")
    if ca.public_bytes(Encoding.DER) not in vc.verified_intermediates and not _issued_by(
        ca, vc.root
    ):
        raise s.fail(8, "pck_chain", "PCK CA is not signed by the root CA")
    if not _issued_by(leaf, ca):
        raise s.fail(8, "pck_chain", "PCK leaf is not signed by the PCK CA")
    return leaf, ca, parse_pck_extension(leaf), ca.subject.rfc4514_string()


def verify_quote(
    quote: bytes | DcapQuote,
    collateral: Collateral | VerifiedCollateral,
    *,
    now: datetime | int | float,
    trust_roots: Iterable[str] = (INTEL_SGX_ROOT_CA_SHA256,),
) -> VerifiedReport:
    """Verify ``quote`` against ``collateral`` at time ``now`` (steps 1-15).

    Pass a :class:`VerifiedCollateral` (from :func:`verify_collateral`) to skip steps
    1-6 signature work; its time windows are still re-checked against ``now``."""
    try:
        return _verify_quote(quote, collateral, now=now, trust_roots=trust_roots)
    except (ValueError, TypeError) as exc:
        # lazily parsed certificate fields inside the quote's PCK chain
        raise InputError(f"malformed certificate data: {exc}", location="quote") from None


def _verify_quote(
    quote: bytes | DcapQuote,
    collateral: Collateral | VerifiedCollateral,
    *,
    now: datetime | int | float,
    trust_roots: Iterable[str],
) -> VerifiedReport:
    now = _utc(now)
    q = parse_quote(quote) if isinstance(quote, (bytes, bytearray, memoryview)) else quote
    if isinstance(collateral, VerifiedCollateral):
        roots = frozenset(normalize_fingerprint(f) for f in trust_roots)
        if _fingerprint(collateral.root) not in roots:
            # verified under other pins: verify again under these (fails at step 1)
            vc = verify_collateral(collateral.collateral, now=now, trust_roots=roots)
        else:
            vc = collateral
            _check_windows(_Steps(vc.checks), vc.windows, now)
    else:
        vc = verify_collateral(collateral, now=now, trust_roots=trust_roots)
    s = _Steps(vc.checks)

    # Step 7: header.
    h = q.header
    if h.attestation_key_type != ATT_KEY_TYPE_ECDSA_P256:
        raise s.fail(7, "header", f"unsupported attestation key type {h.attestation_key_type}")
    if h.qe_vendor_id != INTEL_QE_VENDOR_ID:
        raise s.fail(7, "header", f"unknown QE vendor id {h.qe_vendor_id.hex()}")
    if (h.is_tdx and h.version not in (4, 5)) or (not h.is_tdx and h.version != 3):
        raise s.fail(7, "header", f"{q.tee} quote with version {h.version}")
    s.ok(7, "header", f"{q.tee} quote v{h.version}, ECDSA-P256, Intel QE")
    # The QE Identity must be the one for this TEE (checked before the PCK chain, as
    # dcap-qvl does, so SGX collateral for a TDX quote is named as such).
    ident = vc.qe_identity
    want_id, versions = ("TD_QE", (2, 3)) if h.is_tdx else ("QE", (2,))
    if ident.id != want_id or ident.version not in versions:
        raise s.fail(
            7,
            "qe_identity",
            f"QE Identity {ident.id} v{ident.version} does not apply to a {q.tee} quote "
            f"(expected {want_id})",
        )
    s.ok(7, "qe_identity", f"QE Identity {ident.id} v{ident.version} applies to {q.tee}")

    # Step 8: PCK chain from the quote.
    sd = q.signature_data
    if sd.pck_chain_pem is None:
        raise s.fail(
            8,
            "pck_chain",
            f"certification data type {sd.qe.certification_data.cert_type} carries no PCK chain",
        )
    cached = vc.pck_chains.get(sd.pck_chain_pem)
    if cached is not None:
        leaf, ca, pck, ca_name = cached
    else:
        leaf, ca, pck, ca_name = _verify_pck_signatures(s, vc, sd.pck_chain_pem)
        if len(vc.pck_chains) < _PCK_CACHE_MAX:
            vc.pck_chains[sd.pck_chain_pem] = (leaf, ca, pck, ca_name)
    if ca.public_bytes(Encoding.DER) not in vc.verified_intermediates:
        if not _cert_window(8, "pck_ca_validity", ca).contains(now):
            raise s.fail(8, "pck_chain", "PCK CA is outside its validity period")
        if vc.root_crl.get_revoked_certificate_by_serial_number(ca.serial_number) is not None:
            raise s.fail(8, "pck_chain", "PCK CA is revoked", TcbStatus.REVOKED)
    w = _cert_window(8, "pck_leaf_validity", leaf)
    if not w.contains(now):
        raise s.fail(8, "pck_chain", w.describe(now))
    if vc.pck_crl.issuer != leaf.issuer:
        raise s.fail(
            8,
            "pck_chain",
            f"PCK CRL of {vc.pck_crl.issuer.rfc4514_string()} does not cover a PCK "
            f"issued by {leaf.issuer.rfc4514_string()}",
        )
    if vc.pck_crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None:
        raise s.fail(
            8, "pck_chain", f"PCK certificate {leaf.serial_number:x} is revoked", TcbStatus.REVOKED
        )
    s.ok(8, "pck_chain", f"PCK {leaf.serial_number:x} -> {ca_name} -> pinned root; not revoked")

    # Step 9: QE report signed by the PCK key.
    if not _ec_verify(leaf.public_key(), sd.qe.qe_report_signature, sd.qe.qe_report):
        raise s.fail(9, "qe_report_signature", "QE report signature by the PCK key is invalid")
    s.ok(9, "qe_report_signature", "QE report signed by the PCK key")

    # Step 10: QE report binds the attestation key.
    qe_report = sd.qe.qe_report_body
    digest = hashlib.sha256(sd.attestation_key + sd.qe.qe_auth_data).digest()
    if qe_report.report_data[:32] != digest:
        raise s.fail(
            10, "qe_report_data", "QE report_data[0:32] != SHA-256(attestation key || QE auth data)"
        )
    s.ok(10, "qe_report_data", "QE report binds the attestation key")

    # Step 11: QE identity.
    qe_status = _match_qe_identity(s, qe_report, vc.qe_identity, h.is_tdx)

    # Step 12: quote signature.
    try:
        att_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + sd.attestation_key
        )
    except ValueError:
        raise s.fail(12, "quote_signature", "attestation key is not a P-256 point") from None
    if not _ec_verify(att_key, sd.signature, q.signed):
        raise s.fail(12, "quote_signature", "quote signature by the attestation key is invalid")
    s.ok(12, "quote_signature", "header || body signed by the attestation key")

    # Steps 13-15: TCB.
    platform = _match_platform(s, q, vc.tcb_info, pck)
    module = None
    td = q.td_report
    if td is not None:
        module = _match_module(s, td, vc.tcb_info)
    merged = converge_platform_and_module(platform, module) if module else platform
    final = converge_platform_and_qe(merged, qe_status)
    if final.status is TcbStatus.REVOKED:
        raise s.fail(15, "tcb_status", "TCB status is Revoked", TcbStatus.REVOKED)
    s.ok(15, "tcb_status", f"{final.status.value} {list(final.advisory_ids)}")
    return VerifiedReport(
        quote=q,
        tcb_status=final.status,
        advisory_ids=final.advisory_ids,
        qe_status=qe_status,
        platform_status=platform,
        module_status=module,
        pck=pck,
        pck_ca=_pck_ca_kind(ca),
        collateral_dates=vc.dates(),
        checks=tuple(s.checks),
        now=now,
    )


__all__ = [
    "QuoteCheck",
    "QuoteVerificationError",
    "VerifiedCollateral",
    "VerifiedReport",
    "verify_collateral",
    "verify_quote",
]
