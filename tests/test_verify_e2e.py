"""End to end: image archive -> measurement, signed config, synthetic TDX quote binding both;
`sealfeed verify` accepts the honest chain and rejects each single broken link (issue #12)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.config.objecthash import object_hash
from sealfeed.verification import expected_report_data
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.intel_pki import TD_ATTRIBUTES_DEBUG, Scenario


def sf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


class World:
    def __init__(self, root: Path, solution: dict[str, Any]) -> None:
        self.root = root
        self.image = write_measured_image(root, b"the appliance")
        self.owner = signing.generate_key(signing.Scheme.REFERENCE)
        (root / "owner.pub").write_bytes(signing.public_key_pem(self.owner.public()))
        self.config = root / "configuration.json"
        self.solution = solution
        self.sign_config(solution, self.owner)

    def sign_config(self, solution: dict[str, Any], key: signing.PrivateKey) -> None:
        sol = dict(solution)
        sol["signature"] = signing.sign_reference(sol, key)
        self.config.write_text(json.dumps({"solution": sol}))

    @property
    def config_hash(self) -> str:
        return object_hash(json.loads(self.config.read_text()))

    def quote(self, scenario: Scenario | None = None, report_data: bytes | None = None) -> Any:
        base = scenario or Scenario()
        rd = (
            report_data
            if report_data is not None
            else expected_report_data(self.image, self.config_hash)
        )
        built = dataclasses.replace(base, report_data=rd).build()
        (self.root / "quote.bin").write_bytes(built.quote)
        (self.root / "collateral.json").write_text(built.collateral.to_json())
        if not (self.root / "policy.json").exists():
            self.pin_td(built)
        return built

    def pin_td(self, built: Any) -> None:
        """The auditor's policy: the golden TD (MRTD + RTMR0-3) of the appliance VM image."""
        td = built.parsed.td_report
        policy = {"mr_td": [td.mr_td.hex()]}
        policy.update({f"rtmr{i}": [r.hex()] for i, r in enumerate(td.rtmrs)})
        (self.root / "policy.json").write_text(json.dumps(policy))

    def verify(self, built: Any) -> tuple[int, dict[str, Any], str]:
        proc = sf("verify", "--image-measurement", str(self.root / "measurement.json"),
                  "--config", str(self.config), "--pubkey", str(self.root / "owner.pub"),
                  "--quote", str(self.root / "quote.bin"), "--policy", str(self.root / "policy.json"),
                  "--collateral", str(self.root / "collateral.json"),
                  "--root-ca-fingerprint", built.root_fingerprint,
                  "--at", built.now.isoformat(), "--json")  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


@pytest.fixture
def world(tmp_path: Path, solution: dict[str, Any]) -> World:
    return World(tmp_path, solution)


def test_honest_appliance_is_accepted(world: World) -> None:
    rc, doc, err = world.verify(world.quote())
    assert rc == 0, (doc, err)
    assert doc["verdict"] == "accepted"
    assert [c["name"] for c in doc["checks"]] == [
        "config-signature", "image-measurement", "quote", "policy", "td-pinned",
        "report-data-binding",
    ]  # fmt: skip


def test_unpinned_td_is_not_enough(world: World) -> None:
    built = world.quote()
    (world.root / "policy.json").write_text("{}")
    rc, doc, _err = world.verify(built)
    assert rc == 1 and doc["failing_link"] == "td-pinned"


def _other_td(w: World) -> Any:
    w.quote()  # the auditor pinned the golden TD...
    return w.quote(
        Scenario(rtmrs=(bytes(48), bytes(48), bytes(48), b"\x01" * 48))
    )  # ...this one differs


def _other_image(w: World) -> Any:
    built = w.quote()
    write_measured_image(w.root, b"another appliance")  # the auditor's golden image differs
    return built


def _other_config(w: World) -> Any:
    built = w.quote()
    w.sign_config({**w.solution, "pgPort": 5433}, w.owner)
    return built


def _config_by_other_key(w: World) -> Any:
    w.sign_config(w.solution, signing.generate_key(signing.Scheme.REFERENCE))
    return w.quote()


BROKEN: list[tuple[str, Callable[[World], Any], str]] = [
    ("other image", _other_image, "report-data-binding"),
    ("other config", _other_config, "report-data-binding"),
    ("config signed by another key", _config_by_other_key, "config-signature"),
    ("quote for another report_data", lambda w: w.quote(report_data=b"\x07" * 64), "report-data-binding"),
    ("debug TD", lambda w: w.quote(Scenario(td_attributes=TD_ATTRIBUTES_DEBUG)), "policy"),
    ("revoked PCK", lambda w: w.quote(Scenario(revoke_pck=True)), "quote"),
    ("other TD image (RTMR3)", _other_td, "policy"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "break_it", "link"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_link_is_rejected(
    world: World, what: str, break_it: Callable[[World], Any], link: str
) -> None:
    built = break_it(world)
    rc, doc, err = world.verify(built)
    assert rc == 1, (what, doc, err)
    assert doc["verdict"] == "rejected"
    assert doc["failing_link"] == link or link in [
        c["name"] for c in doc["checks"] if not c["ok"]
    ], doc
