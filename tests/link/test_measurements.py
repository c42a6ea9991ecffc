"""The cvm-reverse-proxy measurements format: accepted as is, stricter where it would
admit any TD."""

from __future__ import annotations

from typing import Any

import pytest

from sealfeed.errors import InputError
from sealfeed.link.measurements import entry_json, parse_measurements, td_registers

MRTD, R0, R1, R2, R3 = (bytes([i]) * 48 for i in range(1, 6))
REGS = td_registers(MRTD, (R0, R1, R2, R3))

#: the shape of flashbots/cvm-reverse-proxy's measurements.json (schema v2): an azure-tdx
#: entry (vTPM PCRs, 32 bytes) next to dcap-tdx entries; values as objects or bare hex
SHARED_FILE: list[dict[str, Any]] = [
    {
        "measurement_id": "azure-image-01",
        "attestation_type": "azure-tdx",
        "measurements": {"4": {"expected": "aa" * 32}, "9": {"expected": "bb" * 32}},
    },
    {
        "measurement_id": "sealfeed-2026.11",
        "attestation_type": "dcap-tdx",
        "measurements": {
            "0": {"expected": MRTD.hex()},
            "1": {"expected": R0.hex()},
            "2": {"expected": R1.hex(), "warnOnly": True},
            "3": R2.hex(),
            "4": {"expected": R3.hex()},
        },
    },
    {
        "measurement_id": "firmware-only",
        "attestation_type": "dcap-tdx",
        "measurements": {"0": {"expected": "77" * 48}},
    },
]


def test_shared_file_matches_by_every_listed_register() -> None:
    m = parse_measurements(SHARED_FILE)
    assert [e.measurement_id for e in m.tdx_entries] == ["sealfeed-2026.11", "firmware-only"]
    entry = m.match(REGS)
    assert entry is not None and entry.measurement_id == "sealfeed-2026.11"
    # registers an entry does not list are not checked
    assert m.match((b"\x77" * 48, *REGS[1:])).measurement_id == "firmware-only"  # type: ignore[union-attr]


@pytest.mark.parametrize("index", range(5))
def test_any_differing_register_refuses_even_warn_only(index: int) -> None:
    regs = list(REGS)
    regs[index] = b"\xee" * 48
    m = parse_measurements(SHARED_FILE)
    assert m.match(regs) is None
    name = ["MRTD", "RTMR0", "RTMR1", "RTMR2", "RTMR3"][index]
    assert f"differs in {name}" in m.explain(regs)


def test_azure_entries_never_match_a_dcap_quote() -> None:
    m = parse_measurements([*SHARED_FILE[:1], SHARED_FILE[2]])
    regs = (b"\xaa" * 32,) * 5
    assert m.match(regs) is None


def test_legacy_single_map() -> None:
    m = parse_measurements({"0": MRTD.hex(), "1": {"expected": R0.hex()}})
    assert m.match(REGS) is not None
    assert m.match((R0, *REGS[1:])) is None


def test_round_trip_of_our_own_entries() -> None:
    doc = [entry_json("ours", dict(enumerate(REGS)))]
    assert parse_measurements(doc).to_json() == doc


@pytest.mark.parametrize(
    ("doc", "where", "what"),
    [
        ({}, "measurements", "would admit any TD"),
        ([], "measurements", "no dcap-tdx entry"),
        (SHARED_FILE[:1], "measurements", "no dcap-tdx entry"),
        ("x", "measurements", "cvm-reverse-proxy format"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {}}],
         "measurements[0].measurements", "admit any TD"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"5": MRTD.hex()}}],
         "measurements[0].measurements", "index 5"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"0": "aa" * 32}}],
         "measurements[0].measurements.0", "48 bytes"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"0": "zz"}}],
         "measurements[0].measurements.0", "not hex"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"x": "aa"}}],
         "measurements[0].measurements.x", "decimal"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"0": {"expected": MRTD.hex(), "warnOnly": "y"}}}],
         "measurements[0].measurements.0", "warnOnly"),
        ([{"measurement_id": "", "attestation_type": "dcap-tdx", "measurements": {"0": MRTD.hex()}}],
         "measurements[0]", "measurement_id"),
        ([{"measurement_id": "a", "attestation_type": "dcap-tdx", "measurements": {"0": MRTD.hex()}, "x": 1}],
         "measurements[0]", "unknown key"),
        ([entry_json("a", {0: MRTD}), entry_json("a", {0: R0})], "measurements", "duplicate"),
    ],
    ids=["empty-map", "empty-list", "azure-only", "not-a-list", "no-register", "bad-index",
         "short", "not-hex", "index-not-number", "warnOnly-type", "no-id", "unknown-key", "dup-id"],
)  # fmt: skip
def test_errors_name_the_field(doc: Any, where: str, what: str) -> None:
    with pytest.raises(InputError, match=what) as err:
        parse_measurements(doc)
    assert err.value.location == where
