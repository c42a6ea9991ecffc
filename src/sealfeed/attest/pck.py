"""Read Intel's SGX extension (OID 1.2.840.113741.1.13.1) from a PCK certificate.

The extension value is a DER ``SEQUENCE OF SEQUENCE { OID, value }`` (Intel "SGX PCK
Certificate and CRL Profile", section 1.3.5). ``cryptography`` exposes it as an
unrecognised extension with the raw DER; this module walks that DER with a small
bounds-checked TLV reader (parsing only -- all crypto stays in ``cryptography``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from sealfeed.errors import InputError

SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_PPID = "1.2.840.113741.1.13.1.1"
_TCB = "1.2.840.113741.1.13.1.2"
_PCESVN = "1.2.840.113741.1.13.1.2.17"
_CPUSVN = "1.2.840.113741.1.13.1.2.18"
_PCEID = "1.2.840.113741.1.13.1.3"
_FMSPC = "1.2.840.113741.1.13.1.4"
_SGX_TYPE = "1.2.840.113741.1.13.1.5"

_SEQUENCE, _OID, _OCTETS, _INTEGER, _ENUMERATED, _BOOLEAN = 0x30, 0x06, 0x04, 0x02, 0x0A, 0x01


@dataclass(frozen=True)
class PckExtension:
    ppid: bytes
    #: the 16 SGX TCB component SVNs (OIDs ...1.2.1 .. ...1.2.16)
    tcb_components: tuple[int, ...]
    pce_svn: int
    cpu_svn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: int


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Return (tag, value_start, value_end) of the DER element at ``pos``."""
    if pos + 2 > end:
        raise ValueError("truncated DER header")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        if k == 0 or k > 3 or pos + k > end:
            raise ValueError("bad DER length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise ValueError("DER element overruns its container")
    return tag, pos, pos + n


def _oid_text(b: bytes) -> str:
    if not b:
        raise ValueError("empty OID")
    parts = [b[0] // 40, b[0] % 40] if b[0] < 80 else [2, b[0] - 80]
    v = 0
    for byte in b[1:]:
        v = (v << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


def _walk(buf: bytes, start: int, end: int, out: dict[str, tuple[int, bytes]]) -> None:
    """Collect every ``SEQUENCE { OID, value }`` pair, recursing into nested sequences."""
    pos = start
    while pos < end:
        tag, vs, ve = _tlv(buf, pos, end)
        if tag != _SEQUENCE:
            raise ValueError(f"expected SEQUENCE, got tag 0x{tag:02x}")
        otag, os_, oe = _tlv(buf, vs, ve)
        if otag != _OID:
            raise ValueError("expected OID")
        oid = _oid_text(buf[os_:oe])
        vtag, vvs, vve = _tlv(buf, oe, ve)
        out[oid] = (vtag, buf[vvs:vve])
        if vtag == _SEQUENCE:
            _walk(buf, vvs, vve, out)
        pos = ve


def parse_pck_extension(cert: x509.Certificate) -> PckExtension:
    """Extract PPID, TCB components, PCESVN, CPUSVN, PCE-ID, FMSPC and SGX type."""
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSION_OID))
    except x509.ExtensionNotFound:
        raise InputError("PCK certificate has no Intel SGX extension", location="pck") from None
    raw = ext.value.public_bytes() if hasattr(ext.value, "public_bytes") else b""
    try:
        tag, vs, ve = _tlv(raw, 0, len(raw))
        if tag != _SEQUENCE:
            raise ValueError("extension is not a SEQUENCE")
        vals: dict[str, tuple[int, bytes]] = {}
        _walk(raw, vs, ve, vals)

        def get(oid: str, tag: int) -> bytes:
            if oid not in vals:
                raise ValueError(f"missing {oid}")
            t, v = vals[oid]
            if t != tag:
                raise ValueError(f"{oid} has tag 0x{t:02x}, expected 0x{tag:02x}")
            return v

        def integer(oid: str, tag: int = _INTEGER) -> int:
            return int.from_bytes(get(oid, tag), "big", signed=False)

        return PckExtension(
            ppid=get(_PPID, _OCTETS),
            tcb_components=tuple(integer(f"{_TCB}.{i}") for i in range(1, 17)),
            pce_svn=integer(_PCESVN),
            cpu_svn=get(_CPUSVN, _OCTETS),
            pce_id=get(_PCEID, _OCTETS),
            fmspc=get(_FMSPC, _OCTETS),
            sgx_type=integer(_SGX_TYPE, _ENUMERATED),
        )
    except ValueError as exc:
        raise InputError(f"malformed Intel SGX extension: {exc}", location="pck") from None


__all__ = ["SGX_EXTENSION_OID", "PckExtension", "parse_pck_extension"]
