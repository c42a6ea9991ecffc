"""CCEL table + TCG crypto-agile log: the real sample replays to the quote's RTMR0-3
(README section 6), and malformed input is a precise EventLogError."""

from __future__ import annotations

import contextlib
import hashlib
import struct
from pathlib import Path

import pytest

from sealfeed.attest import (
    EventLogError,
    compare_rtmrs,
    parse_ccel_table,
    parse_event_log,
    parse_quote,
    replay_rtmrs,
)
from sealfeed.errors import InputError


@pytest.fixture(scope="module")
def ccel(tdx_samples: Path) -> Path:
    return tdx_samples / "go-tdx-guest" / "ccel"


def test_ccel_table(ccel: Path) -> None:
    t = parse_ccel_table((ccel / "ccel_table.dat").read_bytes())
    assert (t.length, t.revision, t.checksum_ok, t.cc_type, t.cc_subtype) == (56, 1, True, 2, 0)
    assert t.oem_id == b"INTEL " and t.oem_table_id == b"EDK2    "
    assert (t.log_area_minimum_length, t.log_area_start_address) == (0x40000, 0xBEDBF000)


def test_event_log_structure(ccel: Path) -> None:
    log = parse_event_log((ccel / "ccel_data.dat").read_bytes())
    assert log.algorithms == ((0x000C, 48),)
    assert len(log.events) == 43 and log.events[0].offset == 65 and log.end_offset == 18101
    per_index = {i: sum(e.index == i for e in log.events) for i in (1, 2, 3, 4)}
    assert per_index == {1: 16, 2: 7, 3: 20, 4: 0}
    seps = [e for e in log.events if e.type_name == "EV_SEPARATOR"]
    assert len(seps) == 2 and all(e.digest() == hashlib.sha384(e.data).digest() for e in seps)


def test_replay_matches_quote(ccel: Path) -> None:
    log = parse_event_log((ccel / "ccel_data.dat").read_bytes())
    regs = replay_rtmrs(log)
    q = parse_quote((ccel / "cos-113-tdx-quote.dat").read_bytes())
    assert compare_rtmrs(regs, q.td_report.rtmrs) == [(0, True), (1, True), (2, True), (3, True)]
    assert regs[0].hex().startswith("3fa2f61f395b7f5f") and regs[3] == bytes(48)


def test_replay_detects_a_changed_digest(ccel: Path) -> None:
    data = bytearray((ccel / "ccel_data.dat").read_bytes())
    data[65 + 12 + 2] ^= 1  # first digest byte of the first TCG_PCR_EVENT2 record
    regs = replay_rtmrs(parse_event_log(bytes(data)))
    q = parse_quote((ccel / "cos-113-tdx-quote.dat").read_bytes())
    assert [ok for _, ok in compare_rtmrs(regs, q.td_report.rtmrs)] == [False, True, True, True]


def test_malformed_inputs(ccel: Path) -> None:
    table = (ccel / "ccel_table.dat").read_bytes()
    with pytest.raises(EventLogError):
        parse_ccel_table(table[:40])
    with pytest.raises(EventLogError):
        parse_ccel_table(b"XXXX" + table[4:])
    assert parse_ccel_table(table[:9] + bytes([table[9] ^ 1]) + table[10:]).checksum_ok is False
    data = (ccel / "ccel_data.dat").read_bytes()
    with pytest.raises(EventLogError) as ei:
        parse_event_log(data[:100])  # cut inside the first TCG_PCR_EVENT2
    assert ei.value.offset >= 65 and isinstance(ei.value, InputError)
    with pytest.raises(EventLogError):
        parse_event_log(b"\x00" * 64)
    bad = bytearray(data)
    struct.pack_into("<I", bad, 65 + 12 + 2 + 48, 0x7FFFFFFF)  # event size of record 1
    with pytest.raises(EventLogError):
        parse_event_log(bytes(bad))
    # every truncation inside the used area raises a precise error or parses a prefix
    for n in range(0, 18101, 97):
        with contextlib.suppress(EventLogError):
            parse_event_log(data[:n])
