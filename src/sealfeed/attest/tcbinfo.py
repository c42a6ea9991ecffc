"""Intel TCB Info (v2/v3) and Enclave (QE) Identity (v2) models, parsed from the exact
signed JSON text. Pure: no crypto, no IO.

Schemas: Intel "PCS API v4" -- "TCB Info V3" (tcbInfo, tdxModule, tdxModuleIdentities)
and "Enclave Identity V2" (enclaveIdentity) at
https://api.portal.trustedservices.intel.com/content/documentation.html.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sealfeed.errors import InputError


class TcbStatus(enum.Enum):
    """TCB status values (PCS API v4) with the severity order dcap-qvl/QVL use."""

    UP_TO_DATE = "UpToDate"
    SW_HARDENING_NEEDED = "SWHardeningNeeded"
    CONFIGURATION_NEEDED = "ConfigurationNeeded"
    CONFIGURATION_AND_SW_HARDENING_NEEDED = "ConfigurationAndSWHardeningNeeded"
    OUT_OF_DATE = "OutOfDate"
    OUT_OF_DATE_CONFIGURATION_NEEDED = "OutOfDateConfigurationNeeded"
    REVOKED = "Revoked"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    def __str__(self) -> str:
        return self.value


_SEVERITY = {s: i for i, s in enumerate(TcbStatus)}


@dataclass(frozen=True)
class StatusWithAdvisories:
    status: TcbStatus
    advisory_ids: tuple[str, ...] = ()

    def merge(self, other: StatusWithAdvisories) -> StatusWithAdvisories:
        """Worse status wins; advisories are the ordered union (dcap-qvl
        ``TcbStatusWithAdvisory::merge``)."""
        status = other.status if other.status.severity > self.status.severity else self.status
        return StatusWithAdvisories(status, _union(self.advisory_ids, other.advisory_ids))

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "advisory_ids": list(self.advisory_ids)}


def _union(a: Iterable[str], b: Iterable[str]) -> tuple[str, ...]:
    out = list(a)
    for x in b:
        if x not in out:
            out.append(x)
    return tuple(out)


def converge_platform_and_module(
    platform: StatusWithAdvisories, module: StatusWithAdvisories
) -> StatusWithAdvisories:
    """Intel QVL ``convergeTcbStatusWithTdxModuleStatus``: an OutOfDate TDX module makes
    the platform OutOfDate (or OutOfDateConfigurationNeeded); a Revoked module revokes."""
    return _converge(platform, module)


def converge_platform_and_qe(
    platform: StatusWithAdvisories, qe: StatusWithAdvisories
) -> StatusWithAdvisories:
    """Intel QVL ``convergeTcbStatusWithQeTcbStatus`` (QuoteVerification.cpp): an
    OutOfDate QE turns UpToDate/SWHardeningNeeded into OutOfDate and
    Configuration(AndSWHardening)Needed into OutOfDateConfigurationNeeded; a Revoked QE
    revokes. Otherwise the platform status stands. Advisories are unioned."""
    return _converge(platform, qe)


def _converge(platform: StatusWithAdvisories, other: StatusWithAdvisories) -> StatusWithAdvisories:
    p, o = platform.status, other.status
    advisories = _union(platform.advisory_ids, other.advisory_ids)
    if o is TcbStatus.REVOKED:
        return StatusWithAdvisories(TcbStatus.REVOKED, advisories)
    if o is TcbStatus.OUT_OF_DATE or o is TcbStatus.OUT_OF_DATE_CONFIGURATION_NEEDED:
        if p in (TcbStatus.UP_TO_DATE, TcbStatus.SW_HARDENING_NEEDED):
            p = (
                TcbStatus.OUT_OF_DATE
                if o is TcbStatus.OUT_OF_DATE
                else TcbStatus.OUT_OF_DATE_CONFIGURATION_NEEDED
            )
        elif p in (
            TcbStatus.CONFIGURATION_NEEDED,
            TcbStatus.CONFIGURATION_AND_SW_HARDENING_NEEDED,
        ):
            p = TcbStatus.OUT_OF_DATE_CONFIGURATION_NEEDED
    return StatusWithAdvisories(p, advisories)


# --- JSON helpers -------------------------------------------------------------------------


class _Obj:
    """Typed accessors over a JSON object that raise InputError with the JSON path."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{path} must be an object", location=source)
        self.d = data
        self.path = path
        self.source = source

    def _get(self, key: str, default: Any = ...) -> Any:
        if key not in self.d:
            if default is not ...:
                return default
            raise InputError(f"{self.path}.{key} is missing", location=self.source)
        return self.d[key]

    def err(self, key: str, msg: str) -> InputError:
        return InputError(f"{self.path}.{key} {msg}", location=self.source)

    def get_str(self, key: str) -> str:
        v = self._get(key)
        if not isinstance(v, str):
            raise self.err(key, "must be a string")
        return v

    def get_int(self, key: str, default: int | None = None) -> int:
        v = self._get(key, default if default is not None else ...)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise self.err(key, "must be a non-negative integer")
        return v

    def get_hex(self, key: str, size: int) -> bytes:
        s = self.get_str(key)
        try:
            b = bytes.fromhex(s)
        except ValueError:
            raise self.err(key, f"is not hex: {s[:40]!r}") from None
        if len(b) != size:
            raise self.err(key, f"must be {size} bytes, got {len(b)}")
        return b

    def get_time(self, key: str) -> datetime:
        s = self.get_str(key)
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise self.err(key, f"is not an ISO-8601 time: {s!r}") from None
        if t.tzinfo is None:
            raise self.err(key, f"has no time zone: {s!r}")
        return t

    def get_list(self, key: str, default: Any = ...) -> list[Any]:
        v = self._get(key, default)
        if not isinstance(v, list):
            raise self.err(key, "must be a list")
        return v

    def get_obj(self, key: str) -> _Obj:
        return _Obj(self._get(key), f"{self.path}.{key}", self.source)

    def opt_obj(self, key: str) -> _Obj | None:
        return None if self.d.get(key) is None else self.get_obj(key)

    def get_status(self, key: str) -> TcbStatus:
        s = self.get_str(key)
        try:
            return TcbStatus(s)
        except ValueError:
            raise self.err(key, f"is not a known TCB status: {s!r}") from None

    def advisories(self) -> tuple[str, ...]:
        v = self.get_list("advisoryIDs", [])
        if not all(isinstance(x, str) for x in v):
            raise self.err("advisoryIDs", "must be a list of strings")
        return tuple(v)


def _load(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not valid JSON: {exc}", location=source) from None


# --- TCB Info -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TcbLevel:
    sgx_components: tuple[int, ...]
    pce_svn: int
    tdx_components: tuple[int, ...]
    tcb_date: str
    status: TcbStatus
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True)
class ModuleTcbLevel:
    isv_svn: int
    tcb_date: str
    status: TcbStatus
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True)
class TdxModuleIdentity:
    id: str
    mrsigner: bytes
    attributes: bytes
    attributes_mask: bytes
    tcb_levels: tuple[ModuleTcbLevel, ...]


@dataclass(frozen=True)
class TcbInfo:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    tcb_type: int
    tcb_evaluation_data_number: int
    tcb_levels: tuple[TcbLevel, ...]
    tdx_module: TdxModuleIdentity | None
    tdx_module_identities: tuple[TdxModuleIdentity, ...]

    @property
    def is_tdx(self) -> bool:
        return self.id == "TDX"


def _svns(items: Sequence[Any], path: str, source: str) -> tuple[int, ...]:
    out = []
    for i, c in enumerate(items):
        out.append(_Obj(c, f"{path}[{i}]", source).get_int("svn"))
        if out[-1] > 255:
            raise InputError(f"{path}[{i}].svn must be <= 255", location=source)
    return tuple(out)


def _module_identity(o: _Obj, with_id: bool) -> TdxModuleIdentity:
    levels = []
    for i, lv in enumerate(o.get_list("tcbLevels", [])):
        lo = _Obj(lv, f"{o.path}.tcbLevels[{i}]", o.source)
        levels.append(
            ModuleTcbLevel(
                lo.get_obj("tcb").get_int("isvsvn"),
                lo.get_str("tcbDate"),
                lo.get_status("tcbStatus"),
                lo.advisories(),
            )
        )
    return TdxModuleIdentity(
        id=o.get_str("id") if with_id else "",
        mrsigner=o.get_hex("mrsigner", 48),
        attributes=o.get_hex("attributes", 8),
        attributes_mask=o.get_hex("attributesMask", 8),
        tcb_levels=tuple(sorted(levels, key=lambda lv: -lv.isv_svn)),
    )


def _level_sort_key(lv: TcbLevel) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
    return (lv.sgx_components, lv.pce_svn, lv.tdx_components)


def parse_tcb_info(text: str, source: str = "tcb_info") -> TcbInfo:
    """Parse the ``tcbInfo`` body. Levels are ordered highest first, as Intel's QVL keeps
    them (a ``std::set`` ordered by CPUSVN components, then PCESVN, then TDX components)."""
    o = _Obj(_load(text, source), "tcbInfo", source)
    ident = o.get_str("id") if "id" in o.d else "SGX"
    version = o.get_int("version")
    levels = []
    for i, lv in enumerate(o.get_list("tcbLevels")):
        p = f"tcbInfo.tcbLevels[{i}]"
        lo = _Obj(lv, p, source)
        tcb = lo.get_obj("tcb")
        if "sgxtcbcomponents" in tcb.d:  # v3 layout (v2 has sgxtcbcompNNsvn keys)
            sgx = _svns(tcb.get_list("sgxtcbcomponents"), f"{p}.tcb.sgxtcbcomponents", source)
            tdx = (
                _svns(tcb.get_list("tdxtcbcomponents"), f"{p}.tcb.tdxtcbcomponents", source)
                if "tdxtcbcomponents" in tcb.d
                else ()
            )
        else:  # v2: sgxtcbcomp01svn .. sgxtcbcomp16svn
            sgx = tuple(tcb.get_int(f"sgxtcbcomp{j:02d}svn") for j in range(1, 17))
            tdx = ()
        levels.append(
            TcbLevel(
                sgx_components=sgx,
                pce_svn=tcb.get_int("pcesvn"),
                tdx_components=tdx,
                tcb_date=lo.get_str("tcbDate"),
                status=lo.get_status("tcbStatus"),
                advisory_ids=lo.advisories(),
            )
        )
    levels.sort(key=_level_sort_key, reverse=True)
    module = o.opt_obj("tdxModule")
    identities = tuple(
        _module_identity(_Obj(x, f"tcbInfo.tdxModuleIdentities[{i}]", source), True)
        for i, x in enumerate(o.get_list("tdxModuleIdentities", []))
    )
    return TcbInfo(
        id=ident,
        version=version,
        issue_date=o.get_time("issueDate"),
        next_update=o.get_time("nextUpdate"),
        fmspc=o.get_hex("fmspc", 6),
        pce_id=o.get_hex("pceId", 2),
        tcb_type=o.get_int("tcbType", 0),
        tcb_evaluation_data_number=o.get_int("tcbEvaluationDataNumber", 0),
        tcb_levels=tuple(levels),
        tdx_module=_module_identity(module, False) if module is not None else None,
        tdx_module_identities=identities,
    )


# --- QE Identity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QeTcbLevel:
    isv_svn: int
    tcb_date: str
    status: TcbStatus
    advisory_ids: tuple[str, ...]


@dataclass(frozen=True)
class QeIdentity:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    tcb_evaluation_data_number: int
    miscselect: int
    miscselect_mask: int
    attributes: bytes
    attributes_mask: bytes
    mrsigner: bytes
    isv_prod_id: int
    tcb_levels: tuple[QeTcbLevel, ...]


def parse_qe_identity(text: str, source: str = "qe_identity") -> QeIdentity:
    o = _Obj(_load(text, source), "enclaveIdentity", source)
    levels = []
    for i, lv in enumerate(o.get_list("tcbLevels")):
        lo = _Obj(lv, f"enclaveIdentity.tcbLevels[{i}]", source)
        levels.append(
            QeTcbLevel(
                lo.get_obj("tcb").get_int("isvsvn"),
                lo.get_str("tcbDate"),
                lo.get_status("tcbStatus"),
                lo.advisories(),
            )
        )
    levels.sort(key=lambda lv: -lv.isv_svn)
    return QeIdentity(
        id=o.get_str("id"),
        version=o.get_int("version"),
        issue_date=o.get_time("issueDate"),
        next_update=o.get_time("nextUpdate"),
        tcb_evaluation_data_number=o.get_int("tcbEvaluationDataNumber", 0),
        # the hex is MISCSELECT in report (little-endian) byte order, as dcap-qvl reads it
        miscselect=int.from_bytes(o.get_hex("miscselect", 4), "little"),
        miscselect_mask=int.from_bytes(o.get_hex("miscselectMask", 4), "little"),
        attributes=o.get_hex("attributes", 16),
        attributes_mask=o.get_hex("attributesMask", 16),
        mrsigner=o.get_hex("mrsigner", 32),
        isv_prod_id=o.get_int("isvprodid"),
        tcb_levels=tuple(levels),
    )


__all__ = [
    "ModuleTcbLevel",
    "QeIdentity",
    "QeTcbLevel",
    "StatusWithAdvisories",
    "TcbInfo",
    "TcbLevel",
    "TcbStatus",
    "TdxModuleIdentity",
    "converge_platform_and_module",
    "converge_platform_and_qe",
    "parse_qe_identity",
    "parse_tcb_info",
]
