"""Attestation policy: what a *verified* quote must contain to be accepted.

Never touches signatures (that is :mod:`sealfeed.attest.verify`). Modelled on go-tdx-guest
``validate.TdQuoteBodyOptions``: every field is optional and ``None`` means "not checked";
the few defaults are the safe ones (dcap-qvl ``QuoteVerifier``): only ``UpToDate`` TCB,
no debug TD/enclave, MR_SERVICE_TD all zero, SEPT_VE_DISABLE set, reserved TD attribute
bits clear. Anything that relaxes a default is named ``dangerous_*``.
:func:`evaluate_policy` runs every comparison and raises one :class:`PolicyError` listing
all mismatches.

JSON schema (``attest/policy*.json``; documented in docs/attest.md): an object with the
field names below; bytes as hex strings, allow-lists as lists of hex strings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sealfeed.attest.quote import EnclaveReport, TdReport15
from sealfeed.attest.tcbinfo import TcbStatus
from sealfeed.attest.verify import VerifiedReport
from sealfeed.errors import InputError, VerificationError

#: SGX ATTRIBUTES.DEBUG is bit 1 of byte 0 (Intel SDM vol. 3D, 38.7.1)
_SGX_DEBUG = 0x02
#: TDATTRIBUTES (TDX module ABI spec, "TD_PARAMS.ATTRIBUTES"), little-endian u64:
#: bit 0 DEBUG; bits 1-7 reserved (TUD); bits 8-27 reserved; bit 28 SEPT_VE_DISABLE;
#: bit 29 reserved; bit 30 PKS; bit 31 KL; bits 32-62 reserved; bit 63 PERFMON.
_TD_DEBUG = 1 << 0
_TD_SEPT_VE_DISABLE = 1 << 28
_TD_RESERVED = 0xFE | (0xFFFFF << 8) | (1 << 29) | (0x7FFFFFFF << 32)


class PolicyError(VerificationError):
    """Policy mismatch (exit 1); ``mismatches`` lists (field, got, expected) for each."""

    def __init__(self, mismatches: Iterable[tuple[str, str, str]]) -> None:
        self.mismatches = tuple(mismatches)
        text = "; ".join(f"{f} is {g}, expected {e}" for f, g, e in self.mismatches)
        super().__init__(f"policy rejected the quote: {text}", location="policy")


def _hexes(v: Any, name: str, size: int) -> frozenset[bytes]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise InputError(f"{name} must be a hex string or a list of hex strings", location=name)
    out = set()
    for x in items:
        b = _hex(x, name, size)
        out.add(b)
    return frozenset(out)


def _hex(x: Any, name: str, size: int) -> bytes:
    if isinstance(x, bytes):
        b = x
    elif isinstance(x, str):
        try:
            b = bytes.fromhex(x.removeprefix("0x"))
        except ValueError:
            raise InputError(f"{name}: not hex: {x[:40]!r}", location=name) from None
    else:
        raise InputError(f"{name}: expected a hex string", location=name)
    if len(b) != size:
        raise InputError(f"{name}: must be {size} bytes, got {len(b)}", location=name)
    return b


# (field, byte length or None, is allow-list) -- used by from_dict for validation
_BYTES_FIELDS: dict[str, tuple[int, bool]] = {
    "mr_td": (48, True),
    "rtmr0": (48, True),
    "rtmr1": (48, True),
    "rtmr2": (48, True),
    "rtmr3": (48, True),
    "mr_seam": (48, True),
    "td_attributes": (8, False),
    "xfam": (8, True),
    "mr_config_id": (48, False),
    "mr_owner": (48, False),
    "mr_owner_config": (48, False),
    "report_data": (64, False),
    "sp_measurement": (32, True),
    "mr_enclave": (32, True),
    "mr_signer": (32, True),
}


@dataclass(frozen=True)
class Policy:
    """What a verified quote must satisfy. ``None`` = not checked."""

    #: TCB statuses accepted. Default: UpToDate only.
    accepted_tcb_statuses: frozenset[str] = frozenset({"UpToDate"})
    #: when set, every advisory ID of an accepted non-UpToDate status must be listed here.
    #: None = advisories not checked.
    allowed_advisory_ids: frozenset[str] | None = None
    #: MRTD allow-list (48 bytes each). None = not checked.
    mr_td: frozenset[bytes] | None = None
    #: RTMR0..3 allow-lists (48 bytes each). None = not checked.
    rtmr0: frozenset[bytes] | None = None
    rtmr1: frozenset[bytes] | None = None
    rtmr2: frozenset[bytes] | None = None
    rtmr3: frozenset[bytes] | None = None
    #: MRSEAM (TDX module measurement) allow-list (48 bytes). None = not checked.
    mr_seam: frozenset[bytes] | None = None
    #: exact TD attributes (8 bytes). None = not checked (the debug/reserved rules still apply).
    td_attributes: bytes | None = None
    #: XFAM allow-list (8 bytes). None = not checked.
    xfam: frozenset[bytes] | None = None
    #: exact MRCONFIGID / MROWNER / MROWNERCONFIG (48 bytes). None = not checked.
    mr_config_id: bytes | None = None
    mr_owner: bytes | None = None
    mr_owner_config: bytes | None = None
    #: exact report_data (64 bytes). None = not checked.
    report_data: bytes | None = None
    #: Super Protocol binding: report_data[0:32] == SHA-256(user data). None = not checked.
    report_data_sha256_of: bytes | None = None
    #: Super Protocol TD measurement SHA-256(td_attributes || mrtd || rtmr0..3) allow-list
    #: (32 bytes). None = not checked.
    sp_measurement: frozenset[bytes] | None = None
    #: SGX: MRENCLAVE / MRSIGNER allow-lists (32 bytes), ISVPRODID, minimum ISVSVN.
    mr_enclave: frozenset[bytes] | None = None
    mr_signer: frozenset[bytes] | None = None
    isv_prod_id: int | None = None
    min_isv_svn: int | None = None
    #: accept a debug TD / enclave (never in production).
    dangerous_allow_debug: bool = False
    #: accept a non-zero MR_SERVICE_TD (TD report 1.5).
    dangerous_allow_service_td: bool = False
    #: accept TDs without SEPT_VE_DISABLE (the guest then handles EPT violations itself).
    dangerous_allow_sept_ve: bool = False
    #: accept bytes after the quote's end that are not zero padding. They are never
    #: authenticated (no signature covers them) and never read; go-tdx-guest and dcap-qvl
    #: ignore them, so the default accepts them (reported as unauthenticated). ``False``
    #: rejects such a quote; zero padding is always accepted (ADR 0091).
    allow_trailing_bytes: bool = True
    #: free text, shown in reports
    description: str = field(default="", compare=False)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str = "policy") -> Policy:
        """Validate every field and length up front; unknown keys are an error."""
        if not isinstance(doc, Mapping):
            raise InputError("policy must be a JSON object", location=source)
        known = {f.name for f in fields(cls)} | {"$schema", "comment"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InputError(f"unknown policy field(s): {', '.join(unknown)}", location=source)
        kw: dict[str, Any] = {}
        try:
            for name, value in doc.items():
                if name in ("$schema", "comment") or value is None:
                    continue
                if name in _BYTES_FIELDS:
                    size, many = _BYTES_FIELDS[name]
                    kw[name] = _hexes(value, name, size) if many else _hex(value, name, size)
                elif name == "accepted_tcb_statuses":
                    vals = [value] if isinstance(value, str) else list(value)
                    for v in vals:
                        try:
                            TcbStatus(v)
                        except ValueError:
                            raise InputError(
                                f"accepted_tcb_statuses: unknown status {v!r}", location=name
                            ) from None
                    if "Revoked" in vals:
                        raise InputError("Revoked can never be accepted", location=name)
                    kw[name] = frozenset(vals)
                elif name == "allowed_advisory_ids":
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise InputError("must be a list of strings", location=name)
                    kw[name] = frozenset(value)
                elif name == "report_data_sha256_of":
                    if not isinstance(value, str):
                        raise InputError("must be a hex string", location=name)
                    kw[name] = bytes.fromhex(value)
                elif name in ("isv_prod_id", "min_isv_svn"):
                    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                        raise InputError("must be a non-negative integer", location=name)
                    kw[name] = value
                elif name.startswith("dangerous_") or name == "allow_trailing_bytes":
                    if not isinstance(value, bool):
                        raise InputError("must be true or false", location=name)
                    kw[name] = value
                elif name == "description":
                    kw[name] = str(value)
        except InputError as exc:
            raise InputError(exc.message, location=f"{source}: {exc.location}") from None
        except ValueError as exc:
            raise InputError(str(exc), location=source) from None
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if isinstance(v, bytes):
                v = v.hex()
            elif isinstance(v, frozenset):
                v = sorted(x.hex() if isinstance(x, bytes) else x for x in v)
            out[f.name] = v
        return out


def load_policy(path: str | os.PathLike[str]) -> Policy:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("policy file not found", location=str(p)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read policy: {exc}", location=str(p)) from None
    return Policy.from_dict(doc, str(p))


def sp_measurement(td_attributes: bytes, mr_td: bytes, rtmrs: Iterable[bytes]) -> bytes:
    """Super Protocol TD measurement: SHA-256(td_attributes || mrtd || rtmr0..3)."""
    h = hashlib.sha256(td_attributes + mr_td)
    for r in rtmrs:
        h.update(r)
    return h.digest()


def evaluate_policy(report: VerifiedReport, policy: Policy) -> list[str]:
    """Apply ``policy`` to a verified report. Returns the names of the checks applied;
    raises :class:`PolicyError` with every mismatch."""
    bad: list[tuple[str, str, str]] = []
    applied: list[str] = []

    def one(name: str, got: bytes, want: bytes | None) -> None:
        if want is None:
            return
        applied.append(name)
        if got != want:
            bad.append((name, got.hex(), want.hex()))

    def any_of(name: str, got: bytes, allowed: frozenset[bytes] | None) -> None:
        if allowed is None:
            return
        applied.append(name)
        if got not in allowed:
            bad.append((name, got.hex(), "one of " + ", ".join(sorted(a.hex() for a in allowed))))

    status = report.tcb_status.value
    applied.append("tcb_status")
    if status not in policy.accepted_tcb_statuses:
        bad.append(
            ("tcb_status", status, "one of " + ", ".join(sorted(policy.accepted_tcb_statuses)))
        )
    elif status != "UpToDate" and policy.allowed_advisory_ids is not None:
        applied.append("advisory_ids")
        extra = [a for a in report.advisory_ids if a not in policy.allowed_advisory_ids]
        if extra:
            bad.append(
                (
                    "advisory_ids",
                    ",".join(extra),
                    "only " + ",".join(sorted(policy.allowed_advisory_ids)),
                )
            )

    body = report.quote.report
    if isinstance(body, EnclaveReport):
        applied.append("debug")
        if body.attributes[0] & _SGX_DEBUG and not policy.dangerous_allow_debug:
            bad.append(("attributes.DEBUG", "1", "0 (set dangerous_allow_debug to accept)"))
        any_of("mr_enclave", body.mr_enclave, policy.mr_enclave)
        any_of("mr_signer", body.mr_signer, policy.mr_signer)
        if policy.isv_prod_id is not None:
            applied.append("isv_prod_id")
            if body.isv_prod_id != policy.isv_prod_id:
                bad.append(("isv_prod_id", str(body.isv_prod_id), str(policy.isv_prod_id)))
        if policy.min_isv_svn is not None:
            applied.append("min_isv_svn")
            if body.isv_svn < policy.min_isv_svn:
                bad.append(("isv_svn", str(body.isv_svn), f">= {policy.min_isv_svn}"))
        one("report_data", body.report_data, policy.report_data)
        rd = body.report_data
    else:
        td = body.as_td10()
        attrs = int.from_bytes(td.td_attributes, "little")
        applied.append("td_attributes.rules")
        if attrs & _TD_DEBUG and not policy.dangerous_allow_debug:
            bad.append(("td_attributes.DEBUG", "1", "0 (set dangerous_allow_debug to accept)"))
        if attrs & _TD_RESERVED:
            bad.append(("td_attributes.reserved", f"0x{attrs & _TD_RESERVED:016x}", "0"))
        if not attrs & _TD_SEPT_VE_DISABLE and not policy.dangerous_allow_sept_ve:
            bad.append(("td_attributes.SEPT_VE_DISABLE", "0", "1"))
        if isinstance(body, TdReport15):
            applied.append("mr_service_td")
            if any(body.mr_service_td) and not policy.dangerous_allow_service_td:
                bad.append(("mr_service_td", body.mr_service_td.hex(), "all zero"))
        one("td_attributes", td.td_attributes, policy.td_attributes)
        any_of("mr_td", td.mr_td, policy.mr_td)
        for i, allowed in enumerate((policy.rtmr0, policy.rtmr1, policy.rtmr2, policy.rtmr3)):
            any_of(f"rtmr{i}", td.rtmrs[i], allowed)
        any_of("mr_seam", td.mr_seam, policy.mr_seam)
        any_of("xfam", td.xfam, policy.xfam)
        one("mr_config_id", td.mr_config_id, policy.mr_config_id)
        one("mr_owner", td.mr_owner, policy.mr_owner)
        one("mr_owner_config", td.mr_owner_config, policy.mr_owner_config)
        one("report_data", td.report_data, policy.report_data)
        any_of(
            "sp_measurement",
            sp_measurement(td.td_attributes, td.mr_td, td.rtmrs),
            policy.sp_measurement,
        )
        rd = td.report_data
    if policy.report_data_sha256_of is not None:
        one("report_data[0:32]", rd[:32], hashlib.sha256(policy.report_data_sha256_of).digest())
    if not policy.allow_trailing_bytes:
        applied.append("trailing_bytes")
        q = report.quote
        if not q.trailing_is_zero_padding:
            bad.append(
                (
                    "trailing_bytes",
                    f"{len(q.trailing)} unauthenticated bytes after the quote",
                    "none but zero padding (allow_trailing_bytes is false)",
                )
            )
    if bad:
        raise PolicyError(bad)
    return applied


__all__ = ["Policy", "PolicyError", "evaluate_policy", "load_policy", "sp_measurement"]
