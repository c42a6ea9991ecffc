"""One order-report rule set: `sealfeed sp check-report` and `sealfeed verify
--order-report` apply the same rules and reach the same verdict on the report (issue #17.1).
Before, check-report looked at the leaf's TDX challenge only; verify at every certificate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.config.objecthash import object_hash
from sealfeed.sp import SpAnchors, check_order_report, parse_order_report
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.superprotocol import NOW, SpWorld, pem

SP_CHECKS = ("sp-cert-chain", "sp-challenge", "sp-td-measurement", "sp-workload-info")


def sf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def world() -> SpWorld:
    return SpWorld()


class Setup:
    def __init__(self, root: Path, world: SpWorld, solution: dict[str, Any]) -> None:
        self.root, self.world = root, world
        key = signing.generate_key(signing.Scheme.MODERN)
        (root / "owner.pub").write_bytes(signing.public_key_pem(key.public()))
        self.config = root / "configuration.json"
        self.config.write_text(json.dumps({"solution": solution}))
        sig = signing.sign_modern(solution, key)
        (root / "configuration.json.sig").write_text(json.dumps(sig))
        self.image = write_measured_image(root, b"the appliance")
        (root / "ca.pem").write_text(pem(world.ca))
        (root / "loader.pem").write_text(pem(world.loader_cert))
        world.write_signatures(root / "signatures")

    def report(self, **kw: Any) -> Path:
        path = self.root / "report.json"
        config_hash = object_hash(json.loads(self.config.read_text()))
        path.write_text(json.dumps(self.world.order_report(self.image, config_hash, **kw)))
        return path

    def trust(self, loader: bool = True) -> list[str]:
        out = ["--sp-ca", str(self.root / "ca.pem")]
        if loader:
            out += ["--tee-loader-cert", str(self.root / "loader.pem"),
                    "--sp-signatures", str(self.root / "signatures")]  # fmt: skip
        return out

    def check_report(self, report: Path, loader: bool = True) -> tuple[int, dict[str, Any]]:
        proc = sf("sp", "check-report", str(report), *self.trust(loader),
                  "--at", NOW.isoformat(), "--json")  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    def verify(self, report: Path, loader: bool = True) -> tuple[int, dict[str, Any]]:
        proc = sf("verify", "--image-measurement", str(self.root / "measurement.json"),
                  "--config", str(self.config), "--pubkey", str(self.root / "owner.pub"),
                  "--order-report", str(report), *self.trust(loader),
                  "--at", NOW.isoformat(), "--json")  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def setup(tmp_path: Path, world: SpWorld, solution: dict[str, Any]) -> Setup:
    return Setup(tmp_path, world, solution)


def _sp_part(doc: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(c["name"], c["ok"]) for c in doc["checks"] if c["name"] in SP_CHECKS]


CASES = {
    "honest": {},
    "sub-CA issued for another challenge (the leaf-only gap)": {"sub_challenge_type": b"sev-snp"},
    "leaf challenge untrusted": {"challenge_type": b"untrusted"},
}


@pytest.mark.parametrize("kw", list(CASES.values()), ids=list(CASES))
def test_check_report_and_verify_judge_the_report_alike(setup: Setup, kw: dict[str, Any]) -> None:
    report = setup.report(**kw)
    rc_check, check = setup.check_report(report)
    rc_verify, verify = setup.verify(report)
    assert [(c["name"], c["ok"]) for c in check["checks"]] == _sp_part(verify)
    honest = not kw
    assert rc_check == (0 if honest else 1) and check["ok"] is honest
    assert rc_verify == (0 if honest else 1)


def test_leaf_only_gap_is_closed(setup: Setup) -> None:
    rc, doc = setup.check_report(setup.report(sub_challenge_type=b"sev-snp"))
    assert rc == 1
    failed = {c["name"]: c["detail"] for c in doc["checks"] if not c["ok"]}
    assert "sp-challenge" in failed and "SubRoot" in failed["sp-challenge"]
    assert "sev-snp" in failed["sp-challenge"]


def test_without_the_allow_list_neither_command_accepts(setup: Setup) -> None:
    report = setup.report()
    rc_check, check = setup.check_report(report, loader=False)
    rc_verify, verify = setup.verify(report, loader=False)
    assert rc_check == rc_verify == 1
    assert [(c["name"], c["ok"]) for c in check["checks"]] == _sp_part(verify)
    td = next(c for c in check["checks"] if c["name"] == "sp-td-measurement")
    assert not td["ok"] and "--tee-loader-cert" in td["detail"]


def test_rules_library_without_ca_fails_closed(world: SpWorld) -> None:
    report = parse_order_report(world.order_report("11" * 32, "22" * 32))
    result = check_order_report(report, SpAnchors(ca=None), NOW)
    assert not result.ok and result.checks[0].name == "sp-cert-chain"
    assert result.td_measurement == world.measurement


def test_check_report_bad_certificate_is_input_error(setup: Setup, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    proc = sf("sp", "check-report", str(setup.report()), "--sp-ca", str(bad))
    assert proc.returncode == 2 and "--sp-ca: not a PEM/DER certificate" in proc.stderr
