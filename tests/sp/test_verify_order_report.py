"""`sealfeed verify --order-report`: accepts the honest chain, rejects each broken link."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sealfeed.config import signing
from sealfeed.config.objecthash import object_hash
from sealfeed.sp import orderreport as spr
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.superprotocol import NOW, SpWorld, pem

IMAGE = "11" * 32
OTHER_IMAGE = "22" * 32


def sf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def world() -> SpWorld:
    return SpWorld()


class Case:
    def __init__(self, root: Path, world: SpWorld, solution: dict[str, Any]) -> None:
        self.root, self.world = root, world
        self.key = signing.generate_key(signing.Scheme.MODERN)
        (root / "owner.pub").write_bytes(signing.public_key_pem(self.key.public()))
        self.config = root / "configuration.json"
        self.doc = {"solution": solution}
        self.write_config(self.doc, self.key)
        self.image = write_measured_image(root, b"the appliance")
        (root / "ca.pem").write_text(pem(world.ca))
        (root / "loader.pem").write_text(pem(world.loader_cert))
        world.write_signatures(root / "signatures")

    def write_config(self, doc: dict[str, Any], key: signing.PrivateKey) -> None:
        self.config.write_text(json.dumps(doc))
        sig = signing.sign_modern(doc["solution"], key)
        (self.root / "configuration.json.sig").write_text(json.dumps(sig))

    @property
    def config_hash(self) -> str:
        return object_hash(json.loads(self.config.read_text()))

    def report(self, **kw: Any) -> Path:
        path = self.root / "report.json"
        path.write_text(json.dumps(self.world.order_report(kw.pop("image", self.image),
                                                           kw.pop("config_hash", self.config_hash), **kw)))  # fmt: skip
        return path

    def verify(self, report: Path, *extra: str) -> tuple[int, dict[str, Any]]:
        proc = sf("verify", "--image-measurement", str(self.root / "measurement.json"),
                  "--config", str(self.config), "--pubkey", str(self.root / "owner.pub"),
                  "--order-report", str(report), "--sp-ca", str(self.root / "ca.pem"),
                  "--tee-loader-cert", str(self.root / "loader.pem"),
                  "--sp-signatures", str(self.root / "signatures"),
                  "--at", NOW.isoformat(), "--json", *extra)  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def case(tmp_path: Path, world: SpWorld, solution: dict[str, Any]) -> Case:
    return Case(tmp_path, world, solution)


def test_honest_chain_is_accepted(case: Case) -> None:
    rc, doc = case.verify(case.report())
    assert rc == 0, doc
    assert doc["verdict"] == "accepted"
    names = [c["name"] for c in doc["checks"]]
    for link in ("config-signature", "image-measurement", "sp-cert-chain", "sp-challenge",
                 "sp-td-measurement", "sp-workload-info", "image-hash", "config-hash"):  # fmt: skip
        assert link in names


def _other_key_config(case: Case) -> Path:
    case.write_config(case.doc, signing.generate_key(signing.Scheme.MODERN))
    return case.report()


def _other_config(case: Case) -> Path:
    report = case.report()
    doc = json.loads(case.config.read_text())
    doc["solution"]["pgPort"] = 5433
    case.write_config(doc, case.key)  # validly signed, but not what the order runs
    return report


def _tampered_workload(case: Case) -> Path:
    path = case.report()
    doc = json.loads(path.read_text())
    doc["workloadInfo"]["runtimeInfo"][0]["hash"]["hash"] = case.image[:-2] + "ff"
    path.write_text(json.dumps(doc))
    return path


def _unlisted_measurement(case: Case) -> Path:
    for f in (case.root / "signatures").rglob("*.json"):
        f.unlink()
    return case.report()


def _forged_allow_list(case: Case) -> Path:
    case.world.write_signatures(case.root / "signatures",
                                key=rsa.generate_private_key(public_exponent=65537, key_size=2048))  # fmt: skip
    return case.report()


CASES: list[tuple[str, Callable[[Case], Path], str]] = [
    ("other image", lambda c: c.report(image=OTHER_IMAGE), "image-hash"),
    ("other config", _other_config, "config-hash"),
    ("config signed by another key", _other_key_config, "config-signature"),
    ("workloadInfo edited", _tampered_workload, "sp-workload-info"),
    ("chain to another CA", lambda c: c.report(issuer_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)), "sp-cert-chain"),
    ("expired certificate", lambda c: c.report(not_after=NOW - dt.timedelta(days=1)), "sp-cert-chain"),
    ("untrusted challenge", lambda c: c.report(challenge_type=b"untrusted"), "sp-challenge"),
    ("TD measurement not on the allow-list", _unlisted_measurement, "sp-td-measurement"),
    ("allow-list entry not signed by the loader", _forged_allow_list, "sp-td-measurement"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "break_it", "link"), CASES, ids=[c[0] for c in CASES])
def test_each_broken_link_is_rejected_and_named(
    case: Case, what: str, break_it: Callable[[Case], Path], link: str
) -> None:
    rc, doc = case.verify(break_it(case))
    assert rc == 1, what
    assert doc["verdict"] == "rejected"
    failing = [c["name"] for c in doc["checks"] if not c["ok"]]
    assert link in failing, (what, failing)


def test_malformed_report_is_input_error(case: Case) -> None:
    bad = case.root / "bad.json"
    bad.write_text(json.dumps({"certificate": "x", "workloadInfo": {}}))
    proc = sf("verify", "--image-measurement", str(case.root / "measurement.json"),
              "--config", str(case.config), "--pubkey", str(case.root / "owner.pub"),
              "--order-report", str(bad))  # fmt: skip
    assert proc.returncode == 2
    assert "certificate must be a PEM chain" in proc.stderr


def test_human_output_names_failing_link_first(case: Case) -> None:
    report = case.report(image=OTHER_IMAGE)
    proc = sf("verify", "--image-measurement", str(case.root / "measurement.json"),
              "--config", str(case.config), "--pubkey", str(case.root / "owner.pub"),
              "--order-report", str(report), "--sp-ca", str(case.root / "ca.pem"),
              "--tee-loader-cert", str(case.root / "loader.pem"),
              "--sp-signatures", str(case.root / "signatures"), "--at", NOW.isoformat())  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("REJECTED at image-hash")


def test_leaf_first_ordering_and_parse(world: SpWorld) -> None:
    doc = world.order_report(IMAGE, "33" * 32)
    certs = doc["certificate"].split("-----END CERTIFICATE-----")
    swapped = (
        certs[1].strip()
        + "\n-----END CERTIFICATE-----\n"
        + certs[0].strip()
        + "\n-----END CERTIFICATE-----\n"
    )
    report = spr.parse_order_report({**doc, "certificate": swapped})
    assert (
        report.leaf.subject.rfc4514_string().endswith("CN=tee-order")
        or "tee-order" in report.leaf.subject.rfc4514_string()
    )


def test_sp_resource_and_check_report(case: Case) -> None:
    out = case.root / "resource.json"
    proc = sf("sp", "resource", "--image-measurement", str(case.root / "measurement.json"),
              "--out", str(out), "--order-id", "257619", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["orderId"] == 257619
    assert res["hash"] == {"algo": "sha256", "encoding": "hex", "hash": case.image}
    proc = sf("sp", "check-report", str(case.report()), "--sp-ca", str(case.root / "ca.pem"),
              "--tee-loader-cert", str(case.root / "loader.pem"),
              "--sp-signatures", str(case.root / "signatures"), "--at", NOW.isoformat())  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sp_resource_merges_into_the_upload_file(case: Case) -> None:
    out = case.root / "resource.json"
    upload = {"encryption": {"algo": "AES", "key": "k"}, "resource": {"type": "STORAGE_PROVIDER"}}
    out.write_text(json.dumps(upload))
    proc = sf("sp", "resource", "--image-measurement", str(case.root / "measurement.json"),
              "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    merged = json.loads(out.read_text())
    assert merged["encryption"] == upload["encryption"] and merged["resource"] == upload["resource"]
    assert merged["hash"]["hash"] == case.image
    merged["hash"]["hash"] = "00" * 32
    out.write_text(json.dumps(merged))
    proc = sf("sp", "resource", "--image-measurement", str(case.root / "measurement.json"),
              "--out", str(out))  # fmt: skip
    assert proc.returncode == 2 and "--force" in proc.stderr
