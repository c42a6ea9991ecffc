"""A synthetic Intel-like DCAP PKI for tests: root CA, PCK CA, PCK leaf (with the Intel
SGX extension), TCB signing cert, root and PCK CRLs, TCB Info, QE Identity, QE report and
a signed quote -- all built with ``cryptography``, every knob adjustable, so a test can
break exactly one rule.

Usage (also meant for the ``sealfeed verify`` end-to-end tests, issue #12)::

    from tests.fakes.intel_pki import Scenario

    built = Scenario().build()                       # a valid TDX v4 quote + collateral
    verify_quote(built.quote, built.collateral, now=built.now,
                 trust_roots=[built.root_fingerprint])

    Scenario(report_data=b"\\x01" * 64).build()      # choose report_data
    Scenario(td_attributes=bytes.fromhex("0100001000000000")).build()   # debug TD
    Scenario(revoke_pck=True).build()                # PCK in the PCK CRL -> Revoked
    Scenario(quote_version=5, body_type=3, mr_service_td=b"\\x01" * 48).build()
    Scenario(tee="SGX").build()                      # SGX v3 quote

``Scenario`` is a frozen dataclass: use ``dataclasses.replace(base, field=...)``. The
defaults mirror the real ``tdx_quote`` sample (FMSPC B0C06F000000, TEE_TCB_SVN 06 01 03,
TD_QE ISVSVN 6). Keys are generated once per process and cached by role, so building a
scenario costs a few milliseconds.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from sealfeed.attest.collateral import Collateral
from sealfeed.attest.quote import (
    CertificationData,
    DcapQuote,
    EnclaveReport,
    QeReportCertificationData,
    QuoteHeader,
    QuoteSignatureData,
    TdReport10,
    TdReport15,
)

DEFAULT_NOW = datetime(2025, 7, 1, tzinfo=UTC)
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
QE_MRSIGNER = bytes.fromhex("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
#: SEPT_VE_DISABLE (bit 28) set, DEBUG clear -- as in every real sample
TD_ATTRIBUTES_PROD = bytes.fromhex("0000001000000000")
TD_ATTRIBUTES_DEBUG = bytes.fromhex("0100001000000000")


@functools.cache
def key(role: str) -> ec.EllipticCurvePrivateKey:
    """One P-256 key per role name ("root", "pck_ca", "pck", "tcb", "att", "other", ...)."""
    return ec.generate_private_key(ec.SECP256R1())


def raw_sign(k: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-P256-SHA256 as Intel encodes it: raw 64-byte r||s."""
    r, s = decode_dss_signature(k.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_public(k: ec.EllipticCurvePrivateKey) -> bytes:
    return k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]


# --- tiny DER encoder for the SGX extension ----------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out.extend(reversed(chunk))
    return _der(0x06, bytes(out))


def _int(n: int, tag: int = 0x02) -> bytes:
    b = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")  # leading 0 keeps it positive
    return _der(tag, b)


def _seq(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


SGX_OID = "1.2.840.113741.1.13.1"


def sgx_extension(
    *,
    ppid: bytes,
    tcb_components: tuple[int, ...],
    pce_svn: int,
    pce_id: bytes,
    fmspc: bytes,
    sgx_type: int = 1,
) -> bytes:
    """DER of Intel's SGX extension (SGX PCK Certificate and CRL Profile, 1.3.5)."""
    tcb = [_seq(_oid(f"{SGX_OID}.2.{i + 1}"), _int(v)) for i, v in enumerate(tcb_components)]
    tcb.append(_seq(_oid(f"{SGX_OID}.2.17"), _int(pce_svn)))
    tcb.append(_seq(_oid(f"{SGX_OID}.2.18"), _der(0x04, bytes(tcb_components))))
    return _seq(
        _seq(_oid(f"{SGX_OID}.1"), _der(0x04, ppid)),
        _seq(_oid(f"{SGX_OID}.2"), _seq(*tcb)),
        _seq(_oid(f"{SGX_OID}.3"), _der(0x04, pce_id)),
        _seq(_oid(f"{SGX_OID}.4"), _der(0x04, fmspc)),
        _seq(_oid(f"{SGX_OID}.5"), _int(sgx_type, 0x0A)),
    )


# --- certificates and CRLs ------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Intel Corporation"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def make_cert(
    *,
    subject: str,
    issuer: str,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for ext in extensions:
        b = b.add_extension(ext, critical=False)
    return b.sign(signing_key, hashes.SHA256())


def make_crl(
    *,
    issuer: str,
    signing_key: ec.EllipticCurvePrivateKey,
    this_update: datetime,
    next_update: datetime,
    revoked: tuple[int, ...] = (),
) -> x509.CertificateRevocationList:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(issuer))
        .last_update(this_update)
        .next_update(next_update)
    )
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(this_update)
            .build()
        )
    return b.sign(signing_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certs)


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _comps(svns: tuple[int, ...]) -> list[dict[str, int]]:
    return [{"svn": v} for v in svns]


def tdx_level(
    sgx: tuple[int, ...],
    pce: int,
    tdx: tuple[int, ...],
    status: str,
    advisories: tuple[str, ...] = (),
    date: str = "2024-03-13T00:00:00Z",
) -> dict[str, Any]:
    lv: dict[str, Any] = {
        "tcb": {"sgxtcbcomponents": _comps(sgx), "pcesvn": pce, "tdxtcbcomponents": _comps(tdx)},
        "tcbDate": date,
        "tcbStatus": status,
    }
    if advisories:
        lv["advisoryIDs"] = list(advisories)
    return lv


def sgx_level(
    sgx: tuple[int, ...],
    pce: int,
    status: str,
    advisories: tuple[str, ...] = (),
    date: str = "2024-03-13T00:00:00Z",
) -> dict[str, Any]:
    lv: dict[str, Any] = {
        "tcb": {"sgxtcbcomponents": _comps(sgx), "pcesvn": pce},
        "tcbDate": date,
        "tcbStatus": status,
    }
    if advisories:
        lv["advisoryIDs"] = list(advisories)
    return lv


def _pad16(*v: int) -> tuple[int, ...]:
    return tuple(v) + (0,) * (16 - len(v))


PCK_TCB = _pad16(3, 3, 2, 2, 4, 1, 0, 5)
DEFAULT_TDX_LEVELS = (
    tdx_level(PCK_TCB, 11, _pad16(5, 0, 3), "UpToDate"),
    tdx_level(
        _pad16(2, 2, 2, 2, 3, 1, 0, 5),
        11,
        _pad16(5, 0, 2),
        "OutOfDate",
        ("INTEL-SA-00837",),
        "2023-08-09T00:00:00Z",
    ),
)
DEFAULT_SGX_LEVELS = (
    sgx_level(PCK_TCB, 11, "UpToDate"),
    sgx_level(
        _pad16(2, 2, 2, 2, 3, 1, 0, 5), 11, "OutOfDate", ("INTEL-SA-00837",), "2023-08-09T00:00:00Z"
    ),
)
DEFAULT_MODULE_LEVELS = (
    {"tcb": {"isvsvn": 4}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"},
    {
        "tcb": {"isvsvn": 2},
        "tcbDate": "2023-08-09T00:00:00Z",
        "tcbStatus": "OutOfDate",
        "advisoryIDs": ["INTEL-SA-00960"],
    },
)
DEFAULT_QE_LEVELS = (
    {"tcb": {"isvsvn": 4}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"},
    {
        "tcb": {"isvsvn": 2},
        "tcbDate": "2023-08-09T00:00:00Z",
        "tcbStatus": "OutOfDate",
        "advisoryIDs": ["INTEL-SA-00615"],
    },
)


@dataclass(frozen=True)
class Built:
    """A built scenario: verify ``quote`` with ``collateral`` at ``now`` pinning
    ``root_fingerprint``."""

    quote: bytes
    collateral: Collateral
    root_fingerprint: str
    now: datetime
    root: x509.Certificate
    pck: x509.Certificate
    parsed: DcapQuote


@dataclass(frozen=True)
class Scenario:
    """Every knob of the synthetic PKI; the defaults give a valid, UpToDate TDX quote."""

    now: datetime = DEFAULT_NOW
    tee: str = "TDX"  # "TDX" or "SGX"
    quote_version: int = 4  # TDX: 4 or 5; SGX: 3
    body_type: int = 2  # v5 only: 2 = TD report 1.0, 3 = TD report 1.5
    # --- keys by role (change one to break exactly one signature) ---
    root_key: str = "root"
    root_name: str = "Intel SGX Root CA"
    pck_ca_key: str = "pck_ca"
    pck_ca_name: str = "Intel SGX PCK Platform CA"
    pck_leaf_signed_by: str = "pck_ca"  # key role that signs the PCK leaf
    pck_ca_signed_by: str = "root"
    tcb_key: str = "tcb"
    tcb_signed_by: str = "root"
    tcb_info_signed_by: str = "tcb"
    qe_identity_signed_by: str = "tcb"
    root_crl_signed_by: str = "root"
    pck_crl_signed_by: str = "pck_ca"
    qe_report_signed_by: str = "pck"
    quote_signed_by: str = "att"
    # --- validity ---
    pck_not_before: timedelta = timedelta(days=-100)
    pck_not_after: timedelta = timedelta(days=2000)
    root_crl_this_update: timedelta = timedelta(days=-30)
    root_crl_next_update: timedelta = timedelta(days=300)
    pck_crl_this_update: timedelta = timedelta(days=-1)
    pck_crl_next_update: timedelta = timedelta(days=29)
    tcb_info_issue: timedelta = timedelta(days=-1)
    tcb_info_next: timedelta = timedelta(days=29)
    qe_identity_issue: timedelta = timedelta(days=-1)
    qe_identity_next: timedelta = timedelta(days=29)
    # --- revocation ---
    revoke_pck: bool = False
    revoke_pck_ca: bool = False
    revoke_tcb_signing: bool = False
    # --- PCK certificate (Intel SGX extension) ---
    ppid: bytes = bytes(range(16))
    pck_tcb: tuple[int, ...] = PCK_TCB
    pck_pce_svn: int = 11
    pck_fmspc: bytes = bytes.fromhex("b0c06f000000")
    pck_pce_id: bytes = bytes(2)
    # --- TCB Info / QE Identity (dicts merged over the generated JSON; None deletes) ---
    tcb_levels: tuple[dict[str, Any], ...] | None = None
    module_levels: tuple[dict[str, Any], ...] = DEFAULT_MODULE_LEVELS
    tcb_info_patch: tuple[tuple[str, Any], ...] = ()
    qe_levels: tuple[dict[str, Any], ...] = DEFAULT_QE_LEVELS
    qe_identity_patch: tuple[tuple[str, Any], ...] = ()
    tamper_tcb_info: bool = False  # change the text after signing
    tamper_qe_identity: bool = False
    # --- QE report ---
    qe_mr_signer: bytes = QE_MRSIGNER
    qe_isv_prod_id: int | None = None  # default: 2 for TD_QE, 1 for QE
    qe_isv_svn: int = 6
    qe_attributes: bytes = bytes.fromhex("11000000000000000000000000000000")
    qe_misc_select: int = 0
    qe_auth_data: bytes = bytes(range(32))
    break_qe_report_data: bool = False
    # --- quote header / body ---
    qe_vendor_id: bytes = INTEL_QE_VENDOR_ID
    attestation_key_type: int = 2
    tee_tcb_svn: bytes = bytes.fromhex("06010300000000000000000000000000")
    mr_seam: bytes = b"\x5b" * 48
    mr_signer_seam: bytes = bytes(48)
    seam_attributes: bytes = bytes(8)
    td_attributes: bytes = TD_ATTRIBUTES_PROD
    xfam: bytes = bytes.fromhex("e702060000000000")
    mr_td: bytes = b"\x91" * 48
    mr_config_id: bytes = bytes(48)
    mr_owner: bytes = bytes(48)
    mr_owner_config: bytes = bytes(48)
    rtmrs: tuple[bytes, bytes, bytes, bytes] = (
        b"\x44" * 48,
        b"\x00" * 47 + b"\x01",
        b"\xd8" * 48,
        bytes(48),
    )
    report_data: bytes = b"\x9a" * 64
    tee_tcb_svn2: bytes = bytes(16)
    mr_service_td: bytes = bytes(48)
    # SGX body
    sgx_attributes: bytes = bytes.fromhex("05000000000000000700000000000000")
    mr_enclave: bytes = b"\x33" * 32
    mr_signer: bytes = b"\x81" * 32
    isv_prod_id: int = 0
    isv_svn: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    # ------------------------------------------------------------------------------------
    def _t(self, d: timedelta) -> datetime:
        return self.now + d

    def tcb_info_json(self) -> dict[str, Any]:
        tdx = self.tee == "TDX"
        levels = (
            self.tcb_levels
            if self.tcb_levels is not None
            else (DEFAULT_TDX_LEVELS if tdx else DEFAULT_SGX_LEVELS)
        )
        doc: dict[str, Any] = {
            "id": "TDX" if tdx else "SGX",
            "version": 3,
            "issueDate": _ts(self._t(self.tcb_info_issue)),
            "nextUpdate": _ts(self._t(self.tcb_info_next)),
            "fmspc": self.pck_fmspc.hex().upper(),
            "pceId": self.pck_pce_id.hex().upper(),
            "tcbType": 0,
            "tcbEvaluationDataNumber": 17,
        }
        if tdx:
            mod = {"mrsigner": "00" * 48, "attributes": "00" * 8, "attributesMask": "FF" * 8}
            doc["tdxModule"] = dict(mod)
            doc["tdxModuleIdentities"] = [
                dict(mod, id="TDX_01", tcbLevels=list(self.module_levels)),
                dict(mod, id="TDX_03", tcbLevels=list(self.module_levels)),
            ]
        doc["tcbLevels"] = list(levels)
        for k, v in self.tcb_info_patch:
            if v is None:
                doc.pop(k, None)
            else:
                doc[k] = v
        return doc

    def qe_identity_json(self) -> dict[str, Any]:
        tdx = self.tee == "TDX"
        doc: dict[str, Any] = {
            "id": "TD_QE" if tdx else "QE",
            "version": 2,
            "issueDate": _ts(self._t(self.qe_identity_issue)),
            "nextUpdate": _ts(self._t(self.qe_identity_next)),
            "tcbEvaluationDataNumber": 17,
            "miscselect": "00000000",
            "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": QE_MRSIGNER.hex().upper(),
            "isvprodid": 2 if tdx else 1,
            "tcbLevels": list(self.qe_levels),
        }
        for k, v in self.qe_identity_patch:
            if v is None:
                doc.pop(k, None)
            else:
                doc[k] = v
        return doc

    def build(self) -> Built:
        day = timedelta(days=1)
        long_ago, far = self.now - 3000 * day, self.now + 8000 * day
        root = make_cert(
            subject=self.root_name,
            issuer=self.root_name,
            public_key=key(self.root_key).public_key(),
            signing_key=key(self.root_key),
            serial=0x1000,
            not_before=long_ago,
            not_after=far,
            ca=True,
        )
        pck_ca = make_cert(
            subject=self.pck_ca_name,
            issuer=self.root_name,
            public_key=key(self.pck_ca_key).public_key(),
            signing_key=key(self.pck_ca_signed_by),
            serial=0x2000,
            not_before=long_ago,
            not_after=far,
            ca=True,
        )
        tcb = make_cert(
            subject="Intel SGX TCB Signing",
            issuer=self.root_name,
            public_key=key(self.tcb_key).public_key(),
            signing_key=key(self.tcb_signed_by),
            serial=0x3000,
            not_before=long_ago,
            not_after=far,
            ca=False,
        )
        ext = x509.UnrecognizedExtension(
            x509.ObjectIdentifier(SGX_OID),
            sgx_extension(
                ppid=self.ppid,
                tcb_components=self.pck_tcb,
                pce_svn=self.pck_pce_svn,
                pce_id=self.pck_pce_id,
                fmspc=self.pck_fmspc,
            ),
        )
        pck = make_cert(
            subject="Intel SGX PCK Certificate",
            issuer=self.pck_ca_name,
            public_key=key("pck").public_key(),
            signing_key=key(self.pck_leaf_signed_by),
            serial=0x4000,
            not_before=self._t(self.pck_not_before),
            not_after=self._t(self.pck_not_after),
            ca=False,
            extensions=(ext,),
        )
        root_revoked = tuple(
            s for s, on in ((0x2000, self.revoke_pck_ca), (0x3000, self.revoke_tcb_signing)) if on
        )
        root_crl = make_crl(
            issuer=self.root_name,
            signing_key=key(self.root_crl_signed_by),
            this_update=self._t(self.root_crl_this_update),
            next_update=self._t(self.root_crl_next_update),
            revoked=root_revoked,
        )
        pck_crl = make_crl(
            issuer=self.pck_ca_name,
            signing_key=key(self.pck_crl_signed_by),
            this_update=self._t(self.pck_crl_this_update),
            next_update=self._t(self.pck_crl_next_update),
            revoked=(0x4000, 0x4444) if self.revoke_pck else (0x4444,),
        )
        tcb_text = json.dumps(self.tcb_info_json(), separators=(",", ":"))
        tcb_sig = raw_sign(key(self.tcb_info_signed_by), tcb_text.encode())
        if self.tamper_tcb_info:
            tcb_text = tcb_text.replace(
                '"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'
            )
        qe_text = json.dumps(self.qe_identity_json(), separators=(",", ":"))
        qe_sig = raw_sign(key(self.qe_identity_signed_by), qe_text.encode())
        if self.tamper_qe_identity:
            qe_text = qe_text.replace(
                '"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'
            )
        collateral = Collateral(
            pck_crl_issuer_chain=_pem(pck_ca, root),
            root_ca_crl=root_crl.public_bytes(Encoding.DER),
            pck_crl=pck_crl.public_bytes(Encoding.DER),
            tcb_info_issuer_chain=_pem(tcb, root),
            tcb_info=tcb_text,
            tcb_info_signature=tcb_sig,
            qe_identity_issuer_chain=_pem(tcb, root),
            qe_identity=qe_text,
            qe_identity_signature=qe_sig,
        )
        quote = self._quote(_pem(pck, pck_ca, root).encode())
        return Built(
            quote=quote.to_bytes(),
            collateral=collateral,
            root_fingerprint=root.fingerprint(hashes.SHA256()).hex(),
            now=self.now,
            root=root,
            pck=pck,
            parsed=quote,
        )

    def _quote(self, pck_chain_pem: bytes) -> DcapQuote:
        tdx = self.tee == "TDX"
        att = raw_public(key("att"))
        qe_data = hashlib.sha256(att + self.qe_auth_data).digest()
        if self.break_qe_report_data:
            qe_data = bytes(32)
        qe_report = EnclaveReport(
            cpu_svn=bytes(self.pck_tcb),
            misc_select=self.qe_misc_select,
            reserved1=bytes(28),
            attributes=self.qe_attributes,
            mr_enclave=b"\xee" * 32,
            reserved2=bytes(32),
            mr_signer=self.qe_mr_signer,
            reserved3=bytes(96),
            isv_prod_id=self.qe_isv_prod_id
            if self.qe_isv_prod_id is not None
            else (2 if tdx else 1),
            isv_svn=self.qe_isv_svn,
            reserved4=bytes(60),
            report_data=qe_data + bytes(32),
        ).to_bytes()
        qe = QeReportCertificationData(
            qe_report=qe_report,
            qe_report_signature=raw_sign(key(self.qe_report_signed_by), qe_report),
            qe_auth_data=self.qe_auth_data,
            certification_data=CertificationData(5, pck_chain_pem),
        )
        header = QuoteHeader(
            version=self.quote_version,
            attestation_key_type=self.attestation_key_type,
            tee_type=0x81 if tdx else 0,
            qe_svn=0 if tdx else 10,
            pce_svn=self.pck_pce_svn,
            qe_vendor_id=self.qe_vendor_id,
            user_data=bytes(20),
        )
        report: Any
        if tdx:
            base = TdReport10(
                self.tee_tcb_svn,
                self.mr_seam,
                self.mr_signer_seam,
                self.seam_attributes,
                self.td_attributes,
                self.xfam,
                self.mr_td,
                self.mr_config_id,
                self.mr_owner,
                self.mr_owner_config,
                *self.rtmrs,
                self.report_data,
            )
            report = (
                TdReport15(base, self.tee_tcb_svn2, self.mr_service_td)
                if self.quote_version == 5 and self.body_type == 3
                else base
            )
            body_type = 3 if isinstance(report, TdReport15) else 2
        else:
            report = EnclaveReport(
                cpu_svn=bytes(self.pck_tcb),
                misc_select=0,
                reserved1=bytes(28),
                attributes=self.sgx_attributes,
                mr_enclave=self.mr_enclave,
                reserved2=bytes(32),
                mr_signer=self.mr_signer,
                reserved3=bytes(96),
                isv_prod_id=self.isv_prod_id,
                isv_svn=self.isv_svn,
                reserved4=bytes(60),
                report_data=self.report_data,
            )
            body_type = 1
        body = report.to_bytes()
        if self.quote_version >= 5:
            body = body_type.to_bytes(2, "little") + len(body).to_bytes(4, "little") + body
        signed = header.to_bytes() + body
        sig = raw_sign(key(self.quote_signed_by), signed)
        outer = None if self.quote_version == 3 else CertificationData(6, qe.to_bytes(), qe)
        sd = QuoteSignatureData(sig, att, outer, qe)
        sig_bytes = sd.to_bytes(self.quote_version)
        return DcapQuote(
            header=header,
            body_type=body_type,
            report=report,
            signature_data=sd,
            size=len(signed) + 4 + len(sig_bytes),
            signed=signed,
        )


__all__ = [
    "DEFAULT_NOW",
    "TD_ATTRIBUTES_DEBUG",
    "TD_ATTRIBUTES_PROD",
    "Built",
    "Scenario",
    "key",
    "make_cert",
    "make_crl",
    "raw_sign",
    "sgx_extension",
    "sgx_level",
    "tdx_level",
]
