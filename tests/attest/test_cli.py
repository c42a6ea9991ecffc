"""CLI: `sealfeed attest verify-quote` and the standalone `attest/verify` give the same
verdicts and exit codes (0 accepted / 1 rejected / 2 bad input / 3 unavailable)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256
from sealfeed.cli import main

ROOT = Path(__file__).resolve().parents[2]


def samples(tdx_samples: Path, q: str, c: str) -> list[str]:
    return [str(tdx_samples / q), "--collateral", str(tdx_samples / c)]


CASES = [
    # (id, quote, collateral, extra args, exit code, tcb_status)
    (
        "tdx-at-collateral",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        ["--at", "collateral"],
        0,
        "UpToDate",
    ),
    (
        "tdx-iso",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        ["--at", "2025-07-01T00:00:00Z"],
        0,
        "UpToDate",
    ),
    (
        "tdx-default-now-expired",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        [],
        1,
        None,
    ),
    (
        "sgx-default-policy",
        "dcap-qvl/sgx_quote",
        "dcap-qvl/sgx_quote_collateral.json",
        ["--at", "1751328000"],
        1,
        "ConfigurationAndSWHardeningNeeded",
    ),
    (
        "sgx-allow-status",
        "dcap-qvl/sgx_quote",
        "dcap-qvl/sgx_quote_collateral.json",
        ["--at", "1751328000", "--allow-status", "ConfigurationAndSWHardeningNeeded"],
        0,
        "ConfigurationAndSWHardeningNeeded",
    ),
    (
        "outdated-no-level",
        "dcap-qvl/tdx_quote_outdated",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
        ["--at", "collateral"],
        1,
        None,
    ),
    (
        "v5-sample",
        "go-tdx-guest/quote_v5_sample.dat",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
        ["--at", "2026-03-01T00:00:00Z"],
        0,
        "UpToDate",
    ),
    (
        "near-hex",
        "dcap-qvl/near_quote_hex.txt",
        "dcap-qvl/near_quote_collateral.json",
        ["--at", "collateral"],
        0,
        "UpToDate",
    ),
    (
        "wrong-report-data",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        ["--at", "collateral", "--report-data", "00" * 64],
        1,
        "UpToDate",
    ),
    (
        "bad-time",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        ["--at", "yesterday"],
        2,
        None,
    ),
    (
        "wrong-pin",
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        ["--at", "collateral", "--root-ca-fingerprint", "00" * 32],
        1,
        None,
    ),
]


@pytest.mark.parametrize(
    ("q", "c", "extra", "rc", "status"), [x[1:] for x in CASES], ids=[x[0] for x in CASES]
)
def test_verify_quote_exit_codes_and_json(
    tdx_samples: Path, capsys, q, c, extra, rc, status
) -> None:
    assert main(["attest", "verify-quote", *samples(tdx_samples, q, c), *extra, "--json"]) == rc
    out = capsys.readouterr().out
    doc = json.loads(out)
    if rc == 2:
        assert doc["ok"] is False and doc["error"]["exit_code"] == 2
        return
    assert doc["verdict"] == ("accepted" if rc == 0 else "rejected")
    assert doc.get("tcb_status") == status
    assert all(set(c) == {"step", "name", "ok", "detail"} for c in doc["checks"])


def test_json_report_contents(tdx_samples: Path, capsys) -> None:
    args = samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json")
    assert main(["attest", "verify-quote", *args, "--at", "collateral", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["header"]["version"] == 4 and doc["tee"] == "TDX" and doc["fmspc"] == "B0C06F000000"
    assert doc["body"]["mr_td"].startswith("91eb2b44") and doc["padding"] == 70
    assert doc["collateral"]["tcb_info_next_update"] == "2025-07-19T10:16:03Z"
    assert [c["step"] for c in doc["checks"]] == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
    ]
    assert doc["advisory_ids"] == [] and doc["policy_checks"][0] == "tcb_status"


def test_human_output_and_hint(tdx_samples: Path, capsys) -> None:
    args = samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json")
    assert main(["attest", "verify-quote", *args]) == 1
    out = capsys.readouterr().out
    assert "VERDICT     REJECTED" in out and "--at collateral" in out
    assert main(["attest", "verify-quote", *args, "--at", "collateral"]) == 0
    out = capsys.readouterr().out
    assert "TCB status  UpToDate" in out and out.rstrip().endswith("VERDICT     ACCEPTED")


def test_event_log_replay_in_verify(tdx_samples: Path, capsys) -> None:
    ccel = tdx_samples / "go-tdx-guest" / "ccel"
    # cos-113 has no collateral: the quote is rejected (FMSPC) but the replay still runs
    argv = [
        "attest",
        "verify-quote",
        str(ccel / "cos-113-tdx-quote.dat"),
        "--collateral",
        str(tdx_samples / "dcap-qvl" / "tdx_quote_collateral.json"),
        "--at",
        "collateral",
        "--event-log",
        str(ccel / "ccel_data.dat"),
        "--ccel",
        str(ccel / "ccel_table.dat"),
        "--events",
        "--json",
    ]
    assert main(argv) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["event_log"]["match"] == {f"rtmr{i}": True for i in range(4)}
    assert len(doc["event_log"]["events"]) == 43 and doc["event_log"]["ccel"]["checksum_ok"]


def test_replay_subcommand(tdx_samples: Path, capsys) -> None:
    ccel = tdx_samples / "go-tdx-guest" / "ccel"
    argv = [
        "attest",
        "replay",
        str(ccel / "ccel_data.dat"),
        "--quote",
        str(ccel / "cos-113-tdx-quote.dat"),
        "--events",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("== quote") == 4 and "EV_SEPARATOR" in out
    # against another TD's quote the replay mismatches -> exit 1
    argv[4] = str(tdx_samples / "dcap-qvl" / "tdx_quote")
    assert main(argv) == 1


@pytest.mark.parametrize(
    ("argv", "rc"),
    [
        (["attest", "verify-quote", "/nonexistent/quote"], 2),
        (["attest", "verify-quote", "{q}"], 2),  # no collateral source
        (["attest", "verify-quote", "{q}", "--collateral", "/nonexistent.json"], 2),
        (["attest", "verify-quote", "{short}", "--collateral", "{c}"], 2),
        (
            [
                "attest",
                "verify-quote",
                "{q}",
                "--collateral",
                "{c}",
                "--policy",
                "/nonexistent.json",
            ],
            2,
        ),
        (["attest", "verify-quote", "{q}", "--collateral", "{c}", "--events"], 2),
        (["attest", "parse", "{q}"], 0),
    ],
)
def test_bad_input_exit_2(
    tdx_samples: Path, tmp_path: Path, capsys, argv: list[str], rc: int
) -> None:
    short = tmp_path / "short"
    short.write_bytes((tdx_samples / "dcap-qvl" / "tdx_quote").read_bytes()[:1000])
    subst = {
        "{q}": str(tdx_samples / "dcap-qvl" / "tdx_quote"),
        "{c}": str(tdx_samples / "dcap-qvl" / "tdx_quote_collateral.json"),
        "{short}": str(short),
    }
    assert main([subst.get(a, a) for a in argv]) == rc
    err = capsys.readouterr().err
    if rc == 2:
        assert err.startswith("sealfeed: ") and "Traceback" not in err


def test_pin_file_equals_package_constant() -> None:
    lines = (ROOT / "attest" / "intel-sgx-root-ca.sha256").read_text().splitlines()
    pins = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    assert pins == [INTEL_SGX_ROOT_CA_SHA256]


def test_pin_matches_shipped_root_certificate(tdx_samples: Path) -> None:
    import hashlib

    der = (tdx_samples / "dcap-qvl" / "TrustedRootCA.der").read_bytes()
    assert hashlib.sha256(der).hexdigest() == INTEL_SGX_ROOT_CA_SHA256


@pytest.mark.parametrize("at", ["collateral", "2025-08-01T00:00:00Z"])
def test_standalone_entry_point_same_as_cli(tdx_samples: Path, capsys, at: str) -> None:
    args = [
        *samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json"),
        "--at",
        at,
        "--json",
    ]
    rc_cli = main(["attest", "verify-quote", *args])
    doc_cli = json.loads(capsys.readouterr().out)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "attest" / "verify"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc_sa = json.loads(proc.stdout)
    assert proc.returncode == rc_cli
    assert doc_sa == doc_cli


def test_policy_flags_override_file(tdx_samples: Path, capsys) -> None:
    args = samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json")
    pol = str(ROOT / "attest" / "policy-measurements.example.json")
    assert main(["attest", "verify-quote", *args, "--at", "collateral", "--policy", pol]) == 0
    capsys.readouterr()
    bad = ["--rtmr1", "11" * 48, "--xfam", "00" * 8, "--td-attributes", "00" * 8]
    assert (
        main(
            ["attest", "verify-quote", *args, "--at", "collateral", "--policy", pol, *bad, "--json"]
        )
        == 1
    )
    doc = json.loads(capsys.readouterr().out)
    assert [m["field"] for m in doc["policy_mismatches"]] == ["td_attributes", "rtmr1", "xfam"]
    assert main(["attest", "verify-quote", *args, "--at", "collateral", "--mr-owner", "zz"]) == 2


SPR_E4_TAIL = b"\nextra bytes(only for testing purpose)\n"


def test_trailing_bytes_verified_reported_and_forbiddable(
    tdx_samples: Path, tmp_path: Path, capsys
) -> None:
    """Issue #19.6: exit 0 with the quote's own verdict (was: exit 2), the tail reported as
    unauthenticated; --forbid-trailing-bytes or the policy field rejects it (exit 1)."""
    q = tmp_path / "tailed.dat"
    q.write_bytes((tdx_samples / "dcap-qvl" / "tdx_quote").read_bytes()[:4936] + SPR_E4_TAIL)
    coll = str(tdx_samples / "dcap-qvl" / "tdx_quote_collateral.json")
    argv = ["attest", "verify-quote", str(q), "--collateral", coll, "--at", "collateral"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "accepted" and doc["tcb_status"] == "UpToDate"
    assert doc["trailing_bytes"] == {
        "count": 39,
        "zero_padding": False,
        "sha256": __import__("hashlib").sha256(SPR_E4_TAIL).hexdigest(),
        "authenticated": False,
    }
    assert main(argv) == 0
    assert "39 trailing bytes, UNAUTHENTICATED" in capsys.readouterr().out
    assert main([*argv, "--forbid-trailing-bytes", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [m["field"] for m in doc["policy_mismatches"]] == ["trailing_bytes"]
    pol = tmp_path / "policy.json"
    pol.write_text(json.dumps({"allow_trailing_bytes": False}))
    assert main([*argv, "--policy", str(pol)]) == 1
    capsys.readouterr()
    # zero padding is not "trailing bytes" for the policy: the stored sample passes strictly
    strict = ["--policy", str(pol), "--json"]
    plain = samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json")
    assert main(["attest", "verify-quote", *plain, "--at", "collateral", *strict]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trailing_bytes"]["zero_padding"] is True and doc["padding"] == 70


def test_collateral_dir_without_matching_file_is_bad_input(
    tdx_samples: Path, tmp_path: Path, capsys
) -> None:
    """Issue #19.5: a directory with no file for this quote is bad input (2), not an
    external failure (3), and the message names the file it looked for."""
    q = str(tdx_samples / "dcap-qvl" / "tdx_quote")
    assert (
        main(["attest", "verify-quote", q, "--collateral", str(tmp_path), "--at", "collateral"])
        == 2
    )
    err = capsys.readouterr().err
    assert "tdx-B0C06F000000-platform.json" in err and str(tmp_path) in err
    assert "Traceback" not in err


def test_cache_dir_without_pccs_is_bad_input(tdx_samples: Path, tmp_path: Path, capsys) -> None:
    args = samples(tdx_samples, "dcap-qvl/tdx_quote", "dcap-qvl/tdx_quote_collateral.json")
    assert main(["attest", "verify-quote", *args, "--cache-dir", str(tmp_path)]) == 2
    assert "--cache-dir applies to --pccs only" in capsys.readouterr().err
