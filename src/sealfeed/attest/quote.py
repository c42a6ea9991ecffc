"""Parse Intel DCAP quotes (v3 SGX, v4 TDX 1.0, v5 TDX 1.0/1.5) into frozen dataclasses.

Pure: bytes in, values out -- no crypto, no IO. Every read goes through :class:`_Reader`,
which bounds-checks and raises :class:`QuoteParseError` naming the field and the byte
offset, so a truncated or inflated quote never surfaces as an ``IndexError``.
Every parsed object has ``to_bytes()`` and ``parse_quote(q.to_bytes()) == q``.

Layouts: Intel "SGX ECDSA Quote Library API" (DCAP 1.x, quote v3, appendix A.4),
"Intel TDX DCAP Quoting Library API" (quote v4, section A.3) and the v5 layout from the
same document's 1.5 revision (section A.3.3: body type 2 = TD report 1.0, 3 = TD report
1.5). Field offsets below cite those tables.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from typing import Union

from sealfeed.errors import InputError

# --- Header (A.3.1: 48 bytes) ----------------------------------------------------------
HEADER_SIZE = 48
#: tee_type values (A.3.1): 0x00000000 SGX, 0x00000081 TDX
TEE_TYPE_SGX = 0x00000000
TEE_TYPE_TDX = 0x00000081
#: attestation key types (A.3.1): 2 = ECDSA-256-with-P-256 curve, 3 = ECDSA-384 (unused)
ATT_KEY_TYPE_ECDSA_P256 = 2
#: Intel's QE vendor id (A.3.1, "939A7233F79C4CA9940A0DB3957F0607")
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")

# --- Bodies ------------------------------------------------------------------------------
#: SGX REPORT body (SDM vol. 3D 38.15 / A.4 "Enclave Report"): 384 bytes
ENCLAVE_REPORT_SIZE = 384
#: TD report 1.0 (TDX module ABI, TDREPORT.TDINFO + TEE_TCB_INFO, A.3.2): 584 bytes
TD_REPORT10_SIZE = 584
#: TD report 1.5 appends TEE_TCB_SVN2 (16) and MRSERVICETD (48): 648 bytes
TD_REPORT15_SIZE = 648
#: v5 body types (A.3.3): 1 SGX enclave report, 2 TD report 1.0, 3 TD report 1.5
BODY_TYPE_SGX = 1
BODY_TYPE_TD10 = 2
BODY_TYPE_TD15 = 3

# --- Signature data (A.3.8 / A.4.9) --------------------------------------------------------
ECDSA_SIG_SIZE = 64  # raw r||s, P-256
ATT_KEY_SIZE = 64  # raw x||y, P-256
#: certification data types (A.3.9): 5 = PCK cert chain (PEM), 6 = QE report cert data
CERT_TYPE_PCK_CHAIN = 5
CERT_TYPE_QE_REPORT = 6
#: upper bound for any length field; a real quote is < 16 KiB (defence against
#: inflated length fields before we slice)
_MAX_LEN = 1 << 20


class QuoteParseError(InputError):
    """Malformed quote: ``field`` and byte ``offset`` say where (exit 2)."""

    def __init__(self, message: str, *, field: str, offset: int) -> None:
        super().__init__(f"{field}: {message}", location=f"quote@0x{offset:x}")
        self.field = field
        self.offset = offset


class _Reader:
    """Bounds-checked little-endian reader over a bytes buffer."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def take(self, n: int, name: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise QuoteParseError(
                f"needs {n} bytes but only {max(self.end - self.pos, 0)} remain",
                field=name,
                offset=self.pos,
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self, name: str) -> int:
        return int(struct.unpack("<H", self.take(2, name))[0])

    def u32(self, name: str) -> int:
        return int(struct.unpack("<I", self.take(4, name))[0])

    def length(self, size: int, name: str) -> int:
        start = self.pos
        n = self.u16(name) if size == 2 else self.u32(name)
        if n > _MAX_LEN or self.pos + n > self.end:
            raise QuoteParseError(
                f"length {n} exceeds the {max(self.end - self.pos, 0)} bytes that follow",
                field=name,
                offset=start,
            )
        return n


def _u16(v: int) -> bytes:
    return struct.pack("<H", v)


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


@dataclass(frozen=True)
class QuoteHeader:
    """Quote header (A.3.1). ``qe_svn`` is reserved (0) in TDX quotes."""

    version: int
    attestation_key_type: int
    tee_type: int
    qe_svn: int
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes

    @property
    def is_tdx(self) -> bool:
        return self.tee_type == TEE_TYPE_TDX

    def to_bytes(self) -> bytes:
        return (
            _u16(self.version)
            + _u16(self.attestation_key_type)
            + _u32(self.tee_type)
            + _u16(self.qe_svn)
            + _u16(self.pce_svn)
            + self.qe_vendor_id
            + self.user_data
        )

    @classmethod
    def parse(cls, r: _Reader) -> QuoteHeader:
        return cls(
            version=r.u16("header.version"),
            attestation_key_type=r.u16("header.attestation_key_type"),
            tee_type=r.u32("header.tee_type"),
            qe_svn=r.u16("header.qe_svn"),
            pce_svn=r.u16("header.pce_svn"),
            qe_vendor_id=r.take(16, "header.qe_vendor_id"),
            user_data=r.take(20, "header.user_data"),
        )


@dataclass(frozen=True)
class EnclaveReport:
    """SGX enclave REPORT body (384 bytes; also the QE report). Offsets: cpu_svn 0,
    misc_select 16, attributes 48, mr_enclave 64, mr_signer 128, isv_prod_id 256,
    isv_svn 258, report_data 320."""

    cpu_svn: bytes
    misc_select: int
    reserved1: bytes
    attributes: bytes
    mr_enclave: bytes
    reserved2: bytes
    mr_signer: bytes
    reserved3: bytes
    isv_prod_id: int
    isv_svn: int
    reserved4: bytes
    report_data: bytes

    kind = "sgx"

    def to_bytes(self) -> bytes:
        return b"".join(
            (
                self.cpu_svn,
                _u32(self.misc_select),
                self.reserved1,
                self.attributes,
                self.mr_enclave,
                self.reserved2,
                self.mr_signer,
                self.reserved3,
                _u16(self.isv_prod_id),
                _u16(self.isv_svn),
                self.reserved4,
                self.report_data,
            )
        )

    @classmethod
    def parse(cls, r: _Reader, prefix: str = "report") -> EnclaveReport:
        p = prefix
        return cls(
            cpu_svn=r.take(16, f"{p}.cpu_svn"),
            misc_select=r.u32(f"{p}.misc_select"),
            reserved1=r.take(28, f"{p}.reserved1"),
            attributes=r.take(16, f"{p}.attributes"),
            mr_enclave=r.take(32, f"{p}.mr_enclave"),
            reserved2=r.take(32, f"{p}.reserved2"),
            mr_signer=r.take(32, f"{p}.mr_signer"),
            reserved3=r.take(96, f"{p}.reserved3"),
            isv_prod_id=r.u16(f"{p}.isv_prod_id"),
            isv_svn=r.u16(f"{p}.isv_svn"),
            reserved4=r.take(60, f"{p}.reserved4"),
            report_data=r.take(64, f"{p}.report_data"),
        )

    @classmethod
    def from_bytes(cls, data: bytes, prefix: str = "qe_report") -> EnclaveReport:
        return cls.parse(_Reader(data), prefix)

    def fields(self) -> dict[str, str | int]:
        return {
            "cpu_svn": self.cpu_svn.hex(),
            "misc_select": self.misc_select,
            "attributes": self.attributes.hex(),
            "mr_enclave": self.mr_enclave.hex(),
            "mr_signer": self.mr_signer.hex(),
            "isv_prod_id": self.isv_prod_id,
            "isv_svn": self.isv_svn,
            "report_data": self.report_data.hex(),
        }


#: TD report 1.0 fields in order with sizes (A.3.2; offsets relative to the body start):
#: tee_tcb_svn 0, mr_seam 16, mr_signer_seam 64, seam_attributes 112, td_attributes 120,
#: xfam 128, mr_td 136, mr_config_id 184, mr_owner 232, mr_owner_config 280,
#: rtmr0..3 328/376/424/472, report_data 520.
_TD10_FIELDS: tuple[tuple[str, int], ...] = (
    ("tee_tcb_svn", 16),
    ("mr_seam", 48),
    ("mr_signer_seam", 48),
    ("seam_attributes", 8),
    ("td_attributes", 8),
    ("xfam", 8),
    ("mr_td", 48),
    ("mr_config_id", 48),
    ("mr_owner", 48),
    ("mr_owner_config", 48),
    ("rtmr0", 48),
    ("rtmr1", 48),
    ("rtmr2", 48),
    ("rtmr3", 48),
    ("report_data", 64),
)


@dataclass(frozen=True)
class TdReport10:
    """TD report 1.0 (584 bytes), the body of v4 quotes and v5 body type 2."""

    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmr0: bytes
    rtmr1: bytes
    rtmr2: bytes
    rtmr3: bytes
    report_data: bytes

    kind = "td10"

    @property
    def rtmrs(self) -> tuple[bytes, bytes, bytes, bytes]:
        return (self.rtmr0, self.rtmr1, self.rtmr2, self.rtmr3)

    def as_td10(self) -> TdReport10:
        return self

    def to_bytes(self) -> bytes:
        return b"".join(getattr(self, name) for name, _ in _TD10_FIELDS)

    @classmethod
    def parse(cls, r: _Reader) -> TdReport10:
        return cls(**{name: r.take(size, f"td_report.{name}") for name, size in _TD10_FIELDS})

    def fields(self) -> dict[str, str | int]:
        return {name: getattr(self, name).hex() for name, _ in _TD10_FIELDS}


@dataclass(frozen=True)
class TdReport15:
    """TD report 1.5 (648 bytes, v5 body type 3): ``base`` plus TEE_TCB_SVN2, MRSERVICETD."""

    base: TdReport10
    tee_tcb_svn2: bytes
    mr_service_td: bytes

    kind = "td15"

    def as_td10(self) -> TdReport10:
        return self.base

    def to_bytes(self) -> bytes:
        return self.base.to_bytes() + self.tee_tcb_svn2 + self.mr_service_td

    @classmethod
    def parse(cls, r: _Reader) -> TdReport15:
        base = TdReport10.parse(r)
        return cls(
            base=base,
            tee_tcb_svn2=r.take(16, "td_report.tee_tcb_svn2"),
            mr_service_td=r.take(48, "td_report.mr_service_td"),
        )

    def fields(self) -> dict[str, str | int]:
        out = self.base.fields()
        out["tee_tcb_svn2"] = self.tee_tcb_svn2.hex()
        out["mr_service_td"] = self.mr_service_td.hex()
        return out


Report = Union[EnclaveReport, TdReport10, TdReport15]  # noqa: UP007 (runtime alias)


@dataclass(frozen=True)
class CertificationData:
    """Certification data (A.3.9): a type and its payload; type 6 nests QE report data."""

    cert_type: int
    data: bytes
    qe_report_data: QeReportCertificationData | None = None

    def to_bytes(self) -> bytes:
        return _u16(self.cert_type) + _u32(len(self.data)) + self.data

    @classmethod
    def parse(cls, r: _Reader, prefix: str) -> CertificationData:
        cert_type = r.u16(f"{prefix}.type")
        size = r.length(4, f"{prefix}.size")
        start = r.pos
        data = r.take(size, f"{prefix}.data")
        nested = None
        if cert_type == CERT_TYPE_QE_REPORT:
            sub = _Reader(r.buf, start, start + size)
            nested = QeReportCertificationData.parse(sub, f"{prefix}.qe_report_data")
            if sub.pos != sub.end:
                raise QuoteParseError(
                    f"{sub.end - sub.pos} unexpected bytes after the nested certification data",
                    field=f"{prefix}.data",
                    offset=sub.pos,
                )
        return cls(cert_type, data, nested)


@dataclass(frozen=True)
class QeReportCertificationData:
    """QE report certification data (A.3.11): QE report, its PCK signature, QE auth data
    and the inner certification data (type 5: PEM PCK chain)."""

    qe_report: bytes
    qe_report_signature: bytes
    qe_auth_data: bytes
    certification_data: CertificationData

    @property
    def qe_report_body(self) -> EnclaveReport:
        return EnclaveReport.from_bytes(self.qe_report)

    def to_bytes(self) -> bytes:
        return (
            self.qe_report
            + self.qe_report_signature
            + _u16(len(self.qe_auth_data))
            + self.qe_auth_data
            + self.certification_data.to_bytes()
        )

    @classmethod
    def parse(cls, r: _Reader, prefix: str) -> QeReportCertificationData:
        qe_report = r.take(ENCLAVE_REPORT_SIZE, f"{prefix}.qe_report")
        sig = r.take(ECDSA_SIG_SIZE, f"{prefix}.qe_report_signature")
        n = r.length(2, f"{prefix}.qe_auth_data.size")
        auth = r.take(n, f"{prefix}.qe_auth_data")
        cert = CertificationData.parse(r, f"{prefix}.certification_data")
        return cls(qe_report, sig, auth, cert)


@dataclass(frozen=True)
class QuoteSignatureData:
    """ECDSA quote signature data (v3: A.4.9, v4/v5: A.3.8)."""

    signature: bytes
    attestation_key: bytes
    #: v4/v5: the outer certification data (type 6); v3: None (flattened layout)
    certification_data: CertificationData | None
    #: the QE report, its signature, QE auth data and the PCK chain (all versions)
    qe: QeReportCertificationData

    @property
    def pck_chain_pem(self) -> bytes | None:
        inner = self.qe.certification_data
        return inner.data if inner.cert_type == CERT_TYPE_PCK_CHAIN else None

    def to_bytes(self, version: int) -> bytes:
        head = self.signature + self.attestation_key
        if version == 3:
            return head + self.qe.to_bytes()
        assert self.certification_data is not None
        return head + self.certification_data.to_bytes()


@dataclass(frozen=True)
class DcapQuote:
    """A parsed quote. ``signed`` is header+body exactly as signed by the attestation key.

    ``trailing`` holds whatever followed the quote in the input (``size`` = header + body +
    4 + signature_data_len is where the quote ends). Neither the attestation key nor the PCK
    signs those bytes: they are reported as unauthenticated and never read as evidence."""

    header: QuoteHeader
    body_type: int
    report: Report
    signature_data: QuoteSignatureData
    size: int
    signed: bytes = field(repr=False, compare=False)
    trailing: bytes = field(default=b"", repr=False, compare=False)

    @property
    def trailing_is_zero_padding(self) -> bool:
        """No trailing bytes, or only zeros (the fixed-size quote buffers several public
        samples come from); such padding carries nothing."""
        return not self.trailing.strip(b"\x00")

    def trailing_json(self) -> dict[str, object]:
        """How many bytes follow the quote, whether they are zero padding, and their hash:
        always ``authenticated: false`` (no signature covers them)."""
        return {
            "count": len(self.trailing),
            "zero_padding": self.trailing_is_zero_padding,
            "sha256": hashlib.sha256(self.trailing).hexdigest() if self.trailing else None,
            "authenticated": False,
        }

    @property
    def tee(self) -> str:
        return "TDX" if self.header.is_tdx else "SGX"

    @property
    def td_report(self) -> TdReport10 | None:
        """The TD report 1.0 view (``as_td10``) for TDX quotes, None for SGX."""
        if isinstance(self.report, EnclaveReport):
            return None
        return self.report.as_td10()

    def to_bytes(self) -> bytes:
        body = self.report.to_bytes()
        if self.header.version >= 5:
            body = _u16(self.body_type) + _u32(len(body)) + body
        sig = self.signature_data.to_bytes(self.header.version)
        return self.header.to_bytes() + body + _u32(len(sig)) + sig


def parse_quote(raw: bytes) -> DcapQuote:
    """Parse a DCAP quote. Bytes after the quote's end are kept in :attr:`DcapQuote.trailing`
    and not parsed: zero padding (several public samples) or anything else (go-tdx-guest's
    ``tdx_prod_quote_SPR_E4.dat`` carries 39 bytes of text). go-tdx-guest and dcap-qvl
    verify such quotes and ignore the tail; so do we, report it as unauthenticated, and let
    a policy forbid it (``allow_trailing_bytes``, ADR 0091)."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise InputError("quote must be bytes")
    raw = bytes(raw)
    r = _Reader(raw)
    header = QuoteHeader.parse(r)
    if header.version not in (3, 4, 5):
        raise QuoteParseError(
            f"unsupported quote version {header.version} (expected 3, 4 or 5)",
            field="header.version",
            offset=0,
        )
    if header.tee_type not in (TEE_TYPE_SGX, TEE_TYPE_TDX):
        raise QuoteParseError(
            f"unknown TEE type 0x{header.tee_type:08x}", field="header.tee_type", offset=4
        )
    report: Report
    if header.version == 5:
        body_type = r.u16("body.type")
        body_size = r.length(4, "body.size")
        expected = {
            BODY_TYPE_SGX: ENCLAVE_REPORT_SIZE,
            BODY_TYPE_TD10: TD_REPORT10_SIZE,
            BODY_TYPE_TD15: TD_REPORT15_SIZE,
        }.get(body_type)
        if expected is None:
            raise QuoteParseError(
                f"unsupported body type {body_type} (expected 1, 2 or 3)",
                field="body.type",
                offset=HEADER_SIZE,
            )
        if body_size != expected:
            raise QuoteParseError(
                f"body size {body_size} does not match body type {body_type} ({expected})",
                field="body.size",
                offset=HEADER_SIZE + 2,
            )
        if body_type == BODY_TYPE_SGX:
            report = EnclaveReport.parse(r)
        elif body_type == BODY_TYPE_TD10:
            report = TdReport10.parse(r)
        else:
            report = TdReport15.parse(r)
    elif header.is_tdx:
        body_type = BODY_TYPE_TD10
        report = TdReport10.parse(r)
    else:
        body_type = BODY_TYPE_SGX
        report = EnclaveReport.parse(r)
    if isinstance(report, EnclaveReport) == header.is_tdx:
        raise QuoteParseError(
            f"body type {body_type} does not fit TEE type 0x{header.tee_type:08x}",
            field="header.tee_type",
            offset=4,
        )
    signed_end = r.pos
    sig_len = r.length(4, "signature_data.size")
    sig_start = r.pos
    sr = _Reader(raw, sig_start, sig_start + sig_len)
    signature = sr.take(ECDSA_SIG_SIZE, "signature_data.signature")
    att_key = sr.take(ATT_KEY_SIZE, "signature_data.attestation_key")
    outer: CertificationData | None
    if header.version == 3:
        outer = None
        qe = QeReportCertificationData.parse(sr, "signature_data")
    else:
        outer = CertificationData.parse(sr, "signature_data.certification_data")
        if outer.qe_report_data is None:
            raise QuoteParseError(
                f"certification data type {outer.cert_type} is not supported "
                f"(expected {CERT_TYPE_QE_REPORT}: QE report certification data)",
                field="signature_data.certification_data.type",
                offset=sig_start + 128,
            )
        qe = outer.qe_report_data
    if sr.pos != sr.end:
        raise QuoteParseError(
            f"{sr.end - sr.pos} bytes inside signature_data are not accounted for",
            field="signature_data",
            offset=sr.pos,
        )
    size = sig_start + sig_len
    return DcapQuote(
        header=header,
        body_type=body_type,
        report=report,
        signature_data=QuoteSignatureData(signature, att_key, outer, qe),
        size=size,
        signed=raw[:signed_end],
        trailing=raw[size:],
    )


__all__ = [
    "CertificationData",
    "DcapQuote",
    "EnclaveReport",
    "QeReportCertificationData",
    "QuoteHeader",
    "QuoteParseError",
    "QuoteSignatureData",
    "Report",
    "TdReport10",
    "TdReport15",
    "parse_quote",
]
