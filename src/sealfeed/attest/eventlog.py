"""TDX event log: the ACPI CCEL table, the TCG crypto-agile event log it points to, and
the SHA-384 replay of the log into RTMR0-3.

Pure parsing and hashing (hashlib); bounds-checked, errors name the byte offset.

References:
- ACPI 6.5, 5.2.34 "Confidential Computing Event Log Table" (CCEL): 36-byte ACPI header,
  CC type (u8, 2 = TDX), CC subtype (u8), reserved (u16), LAML (u64), LASA (u64).
- TCG PC Client Platform Firmware Profile 1.05, 10.2.1 TCG_PCR_EVENT (first record, SHA-1
  layout, "Spec ID Event03") and 10.2.2 TCG_PCR_EVENT2 (crypto-agile records).
- Intel TDX guest-host communication spec / UEFI: CC event log index 1..4 map to
  RTMR0..3 (index 0 would be MRTD, never extended through the log).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from sealfeed.errors import InputError

#: TCG algorithm ids (TCG Algorithm Registry)
ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512, ALG_SM3 = 0x0004, 0x000B, 0x000C, 0x000D, 0x0012
_ALG_SIZES = {ALG_SHA1: 20, ALG_SHA256: 32, ALG_SHA384: 48, ALG_SHA512: 64, ALG_SM3: 32}
EV_NO_ACTION = 0x00000003

EVENT_TYPES = {
    0x0: "EV_PREBOOT_CERT",
    0x1: "EV_POST_CODE",
    0x2: "EV_UNUSED",
    0x3: "EV_NO_ACTION",
    0x4: "EV_SEPARATOR",
    0x5: "EV_ACTION",
    0x6: "EV_EVENT_TAG",
    0x7: "EV_S_CRTM_CONTENTS",
    0x8: "EV_S_CRTM_VERSION",
    0x9: "EV_CPU_MICROCODE",
    0xA: "EV_PLATFORM_CONFIG_FLAGS",
    0xB: "EV_TABLE_OF_DEVICES",
    0xC: "EV_COMPACT_HASH",
    0xD: "EV_IPL",
    0xE: "EV_IPL_PARTITION_DATA",
    0xF: "EV_NONHOST_CODE",
    0x10: "EV_NONHOST_CONFIG",
    0x11: "EV_NONHOST_INFO",
    0x12: "EV_OMIT_BOOT_DEVICE_EVENTS",
    0x80000001: "EV_EFI_VARIABLE_DRIVER_CONFIG",
    0x80000002: "EV_EFI_VARIABLE_BOOT",
    0x80000003: "EV_EFI_BOOT_SERVICES_APPLICATION",
    0x80000004: "EV_EFI_BOOT_SERVICES_DRIVER",
    0x80000005: "EV_EFI_RUNTIME_SERVICES_DRIVER",
    0x80000006: "EV_EFI_GPT_EVENT",
    0x80000007: "EV_EFI_ACTION",
    0x80000008: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
    0x80000009: "EV_EFI_HANDOFF_TABLES",
    0x8000000A: "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
    0x8000000B: "EV_EFI_HANDOFF_TABLES2",
    0x8000000C: "EV_EFI_VARIABLE_BOOT2",
    0x80000010: "EV_EFI_HCRTM_EVENT",
    0x800000E0: "EV_EFI_VARIABLE_AUTHORITY",
    0x800000E1: "EV_EFI_SPDM_FIRMWARE_BLOB",
    0x800000E2: "EV_EFI_SPDM_FIRMWARE_CONFIG",
}


class EventLogError(InputError):
    """Malformed CCEL table or event log (exit 2); ``offset`` is the byte offset."""

    def __init__(self, message: str, *, offset: int, what: str = "event_log") -> None:
        super().__init__(message, location=f"{what}@0x{offset:x}")
        self.offset = offset


@dataclass(frozen=True)
class CcelTable:
    signature: bytes
    length: int
    revision: int
    checksum_ok: bool
    oem_id: bytes
    oem_table_id: bytes
    oem_revision: int
    creator_id: bytes
    creator_revision: int
    cc_type: int
    cc_subtype: int
    log_area_minimum_length: int
    log_area_start_address: int


def parse_ccel_table(data: bytes) -> CcelTable:
    """Parse the 56-byte ACPI CCEL table (signature ``CCEL``, checksum over all bytes)."""
    if len(data) < 56:
        raise EventLogError(
            f"CCEL table needs 56 bytes, got {len(data)}", offset=len(data), what="ccel"
        )
    sig, length, rev, _cks = struct.unpack_from("<4sIBB", data, 0)
    if sig != b"CCEL":
        raise EventLogError(f"signature {sig!r} is not b'CCEL'", offset=0, what="ccel")
    if length < 56 or length > len(data):
        raise EventLogError(
            f"table length {length} does not fit {len(data)} bytes", offset=4, what="ccel"
        )
    oem_id, oem_table_id, oem_rev, creator_id, creator_rev = struct.unpack_from(
        "<6s8sI4sI", data, 10
    )
    cc_type, cc_subtype, _res, laml, lasa = struct.unpack_from("<BBHQQ", data, 36)
    return CcelTable(
        signature=sig,
        length=length,
        revision=rev,
        checksum_ok=sum(data[:length]) % 256 == 0,
        oem_id=oem_id,
        oem_table_id=oem_table_id,
        oem_revision=oem_rev,
        creator_id=creator_id,
        creator_revision=creator_rev,
        cc_type=cc_type,
        cc_subtype=cc_subtype,
        log_area_minimum_length=laml,
        log_area_start_address=lasa,
    )


@dataclass(frozen=True)
class Event:
    offset: int
    index: int
    event_type: int
    digests: tuple[tuple[int, bytes], ...]
    data: bytes

    @property
    def type_name(self) -> str:
        return EVENT_TYPES.get(self.event_type, f"0x{self.event_type:08x}")

    def digest(self, alg: int = ALG_SHA384) -> bytes | None:
        for a, d in self.digests:
            if a == alg:
                return d
        return None

    @property
    def rtmr(self) -> int | None:
        """RTMR this event extends (index 1..4 -> 0..3), None for MRTD/EV_NO_ACTION."""
        if self.event_type == EV_NO_ACTION or not 1 <= self.index <= 4:
            return None
        return self.index - 1


@dataclass(frozen=True)
class EventLog:
    spec_id: bytes
    algorithms: tuple[tuple[int, int], ...]
    events: tuple[Event, ...]
    end_offset: int


class _R:
    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf, self.pos = buf, pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise EventLogError(
                f"{what}: needs {n} bytes, {len(self.buf) - self.pos} remain", offset=self.pos
            )
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]


_MAX_EVENT = 16 << 20


def parse_event_log(data: bytes) -> EventLog:
    """Parse a TCG crypto-agile event log (as in the CCEL log area). Parsing stops at the
    end of the buffer or at a record whose index and type are 0xFFFFFFFF (unused,
    0xFF-filled area)."""
    r = _R(bytes(data))
    start = r.pos
    _idx, etype = r.u32("first.index"), r.u32("first.type")
    r.take(20, "first.digest")
    size = r.u32("first.event_size")
    ev = r.take(size, "first.event")
    if etype != EV_NO_ACTION or not ev.startswith(b"Spec ID Event03\x00"):
        raise EventLogError(
            "first record is not a 'Spec ID Event03' EV_NO_ACTION event", offset=start
        )
    s = _R(ev, 16)
    try:
        s.take(4 + 4, "spec.platform_class+version")
        n_alg = s.u32("spec.number_of_algorithms")
        if n_alg > 32:
            raise EventLogError(f"spec id lists {n_alg} algorithms", offset=start)
        algs = tuple((s.u16("alg_id"), s.u16("digest_size")) for _ in range(n_alg))
    except EventLogError as exc:
        raise EventLogError(
            f"Spec ID event: {exc.message}", offset=start + 32 + exc.offset
        ) from None
    sizes = dict(algs)
    events: list[Event] = []
    while r.pos + 8 <= len(r.buf):
        off = r.pos
        index, etype = struct.unpack_from("<II", r.buf, off)
        if index == 0xFFFFFFFF and etype == 0xFFFFFFFF:
            break
        r.pos += 8
        count = r.u32("digest_count")
        if count > len(algs) + 8:
            raise EventLogError(f"event at 0x{off:x} claims {count} digests", offset=off)
        digests = []
        for _ in range(count):
            alg = r.u16("alg_id")
            dsize = sizes.get(alg, _ALG_SIZES.get(alg))
            if dsize is None:
                raise EventLogError(f"unknown digest algorithm 0x{alg:04x}", offset=r.pos - 2)
            digests.append((alg, r.take(dsize, "digest")))
        esize = r.u32("event_size")
        if esize > _MAX_EVENT:
            raise EventLogError(f"event size {esize} is implausible", offset=r.pos - 4)
        edata = r.take(esize, "event_data")
        events.append(Event(off, index, etype, tuple(digests), edata))
    return EventLog(ev[:16], algs, tuple(events), r.pos)


def replay_rtmrs(log: EventLog | tuple[Event, ...]) -> tuple[bytes, bytes, bytes, bytes]:
    """Replay the SHA-384 digests: RTMR[i] = SHA-384(RTMR[i] || digest), from zero."""
    regs = [bytes(48)] * 4
    events = log.events if isinstance(log, EventLog) else log
    for e in events:
        i = e.rtmr
        if i is None:
            continue
        d = e.digest(ALG_SHA384)
        if d is None:
            raise EventLogError(f"event at 0x{e.offset:x} has no SHA-384 digest", offset=e.offset)
        regs[i] = hashlib.sha384(regs[i] + d).digest()
    return (regs[0], regs[1], regs[2], regs[3])


def compare_rtmrs(replayed: tuple[bytes, ...], quoted: tuple[bytes, ...]) -> list[tuple[int, bool]]:
    """[(rtmr index, equal)] for RTMR0..3."""
    return [(i, replayed[i] == quoted[i]) for i in range(4)]


def describe_event(e: Event, max_data: int = 60) -> str:
    """One line: offset, index -> RTMR, type, digest prefix and printable data."""
    d = e.digest() or b""
    text = e.data[:max_data].decode("ascii", "replace")
    printable = "".join(c if 32 <= ord(c) < 127 else "." for c in text)
    target = f"RTMR{e.rtmr}" if e.rtmr is not None else "-"
    return f"0x{e.offset:05x} {target:5} {e.type_name:34} {d.hex()[:16]}  {printable}"


__all__ = [
    "CcelTable",
    "Event",
    "EventLog",
    "EventLogError",
    "compare_rtmrs",
    "describe_event",
    "parse_ccel_table",
    "parse_event_log",
    "replay_rtmrs",
]
