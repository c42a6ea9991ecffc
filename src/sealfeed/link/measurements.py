"""Allowed TD measurements in the JSON format of flashbots/cvm-reverse-proxy (pure).

The file operators already share for cvm-reverse-proxy (``measurements.json``, "data
schema v2" in its ``common/expected_measurements.go``) is accepted as is::

    [
      {
        "measurement_id": "sealfeed-2026.11",
        "attestation_type": "dcap-tdx",
        "measurements": {
          "0": {"expected": "<MRTD, 96 hex>"},
          "1": {"expected": "<RTMR0>"}, "2": {"expected": "<RTMR1>"},
          "3": {"expected": "<RTMR2>"}, "4": {"expected": "<RTMR3>"}
        }
      }
    ]

For ``dcap-tdx`` the register indices are cvm-reverse-proxy's (``internal/attestation/tdx/
validator.go``): 0 = MRTD, 1..4 = RTMR0..RTMR3. A value is ``{"expected": hex}`` (with an
optional ``warnOnly``) or, in the legacy form, a bare hex string. An entry matches when
every register it lists equals the quote's (registers it omits are not checked); the
allow-list matches when any ``dcap-tdx`` entry does. Entries of other attestation types
(``azure-tdx`` lists vTPM PCRs) are kept but can never match a DCAP quote. The older
single-map file (``{"0": {...}, ...}``, no list) is read as one unnamed ``dcap-tdx`` entry.

Stricter than cvm-reverse-proxy, on purpose (fail closed): ``warnOnly`` values are enforced
like every other value (as its ``ExpectedMeasurements.Contains`` does), and an allow-list
that would admit any TD -- no ``dcap-tdx`` entry, or an entry that lists no register -- is
an input error instead of "no check".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealfeed.errors import InputError

DCAP_TDX = "dcap-tdx"
#: cvm-reverse-proxy's TDX register indices -> our names
REGISTERS: dict[int, str] = {0: "MRTD", 1: "RTMR0", 2: "RTMR1", 3: "RTMR2", 4: "RTMR3"}
_TDX_SIZE = 48  # SHA-384 registers (TDX module spec, TDREPORT / TDINFO_STRUCT)
_ANY_SIZES = (32, 48)  # cvm-reverse-proxy accepts vTPM PCRs (32) and TDX registers (48)


@dataclass(frozen=True)
class MeasurementEntry:
    measurement_id: str
    attestation_type: str
    #: register index -> expected value
    expected: Mapping[int, bytes]

    def matches(self, registers: Sequence[bytes]) -> bool:
        if self.attestation_type != DCAP_TDX:
            return False
        return all(i < len(registers) and registers[i] == want for i, want in self.expected.items())

    def differences(self, registers: Sequence[bytes]) -> list[str]:
        """Register names whose value differs from this entry's."""
        return [
            REGISTERS.get(i, str(i))
            for i, want in sorted(self.expected.items())
            if i >= len(registers) or registers[i] != want
        ]


@dataclass(frozen=True)
class Measurements:
    """A parsed allow-list; :meth:`match` finds the entry a TD's registers satisfy."""

    entries: tuple[MeasurementEntry, ...]

    @property
    def tdx_entries(self) -> tuple[MeasurementEntry, ...]:
        return tuple(e for e in self.entries if e.attestation_type == DCAP_TDX)

    def match(self, registers: Sequence[bytes]) -> MeasurementEntry | None:
        for entry in self.tdx_entries:
            if entry.matches(registers):
                return entry
        return None

    def explain(self, registers: Sequence[bytes]) -> str:
        """One line: why ``registers`` match no entry (the closest entry's differences)."""
        entries = self.tdx_entries
        closest = min(entries, key=lambda e: len(e.differences(registers)))
        diff = ", ".join(closest.differences(registers))
        mrtd = registers[0].hex()[:16] if registers else "?"
        return (
            f"TD (MRTD {mrtd}...) matches none of the {len(entries)} allowed dcap-tdx "
            f"measurement(s); closest {closest.measurement_id!r} differs in {diff}"
        )

    def to_json(self) -> list[dict[str, Any]]:
        return [entry_json(e.measurement_id, e.expected, e.attestation_type) for e in self.entries]


def td_registers(mr_td: bytes, rtmrs: Iterable[bytes]) -> tuple[bytes, ...]:
    """The register vector in cvm-reverse-proxy's dcap-tdx order (0 = MRTD, 1..4 = RTMRs)."""
    return (mr_td, *rtmrs)


def entry_json(
    measurement_id: str, expected: Mapping[int, bytes], attestation_type: str = DCAP_TDX
) -> dict[str, Any]:
    """One allow-list entry in cvm-reverse-proxy's JSON shape."""
    return {
        "measurement_id": measurement_id,
        "attestation_type": attestation_type,
        "measurements": {str(i): {"expected": v.hex()} for i, v in sorted(expected.items())},
    }


def _value(raw: Any, where: str) -> bytes:
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"expected", "warnOnly"}
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)}", location=where)
        if "warnOnly" in raw and not isinstance(raw["warnOnly"], bool):
            raise InputError("warnOnly must be true or false", location=where)
        raw = raw.get("expected")
    if not isinstance(raw, str):
        raise InputError('expected {"expected": "<hex>"} or a hex string', location=where)
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        raise InputError(f"not hex: {raw[:24]!r}", location=where) from None
    if len(value) not in _ANY_SIZES:
        raise InputError(f"must be 32 or 48 bytes, got {len(value)}", location=where)
    return value


def _entry(doc: Any, where: str) -> MeasurementEntry:
    if not isinstance(doc, Mapping):
        raise InputError("each entry must be an object", location=where)
    unknown = set(doc) - {"measurement_id", "attestation_type", "measurements"}
    if unknown:
        raise InputError(f"unknown key(s) {sorted(unknown)}", location=where)
    mid = doc.get("measurement_id")
    kind = doc.get("attestation_type")
    regs = doc.get("measurements")
    if not isinstance(mid, str) or not mid:
        raise InputError("measurement_id must be a non-empty string", location=where)
    if not isinstance(kind, str) or not kind:
        raise InputError("attestation_type must be a non-empty string", location=where)
    if not isinstance(regs, Mapping):
        raise InputError("measurements must be an object", location=f"{where}.measurements")
    return MeasurementEntry(mid, kind, _registers(regs, kind, f"{where}.measurements"))


def _registers(regs: Mapping[str, Any], kind: str, where: str) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for key, raw in regs.items():
        at = f"{where}.{key}"
        if not isinstance(key, str) or not key.isdigit():
            raise InputError("register index must be a decimal number", location=at)
        out[int(key)] = _value(raw, at)
    if len({len(v) for v in out.values()}) > 1:  # as cvm-reverse-proxy's checkLength
        raise InputError("all values of an entry must have the same length", location=where)
    if kind == DCAP_TDX:
        if not out:
            raise InputError(
                "a dcap-tdx entry that lists no register would admit any TD", location=where
            )
        for i, v in out.items():
            if i not in REGISTERS:
                raise InputError(
                    f"dcap-tdx register index {i} is not 0 (MRTD) .. 4 (RTMR3)", location=where
                )
            if len(v) != _TDX_SIZE:
                raise InputError(f"{REGISTERS[i]} must be 48 bytes", location=f"{where}.{i}")
    return out


def parse_measurements(doc: Any, source: str = "measurements") -> Measurements:
    """Validate a cvm-reverse-proxy measurements document (list, or the legacy single map)."""
    entries: tuple[MeasurementEntry, ...]
    if isinstance(doc, Mapping) and all(isinstance(k, str) and k.isdigit() for k in doc):
        if not doc:
            raise InputError("an empty measurements map would admit any TD", location=source)
        entries = (MeasurementEntry("(unnamed)", DCAP_TDX, _registers(doc, DCAP_TDX, source)),)
    elif isinstance(doc, list):
        entries = tuple(_entry(e, f"{source}[{i}]") for i, e in enumerate(doc))
    else:
        raise InputError(
            "must be a list of {measurement_id, attestation_type, measurements} "
            "(the cvm-reverse-proxy format)",
            location=source,
        )
    ids = [e.measurement_id for e in entries]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"duplicate measurement_id(s): {', '.join(dup)}", location=source)
    m = Measurements(entries)
    if not m.tdx_entries:
        raise InputError(
            f"no {DCAP_TDX} entry: this allow-list admits no TDX peer", location=source
        )
    return m


__all__ = [
    "DCAP_TDX",
    "REGISTERS",
    "MeasurementEntry",
    "Measurements",
    "entry_json",
    "parse_measurements",
    "td_registers",
]
