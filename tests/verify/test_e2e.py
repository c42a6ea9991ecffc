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

from sealfeed.attest.binding import appliance_report_data
from sealfeed.config import signing
from sealfeed.config.objecthash import object_hash
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
            else appliance_report_data(self.image, self.config_hash)
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


SPR_E4_TAIL = b"\nextra bytes(only for testing purpose)\n"


def test_trailing_bytes_are_reported_and_a_policy_can_forbid_them(world: World) -> None:
    """Issue #19.6: bytes after the quote do not change the verdict the quote earns; they
    are reported as unauthenticated; ``allow_trailing_bytes: false`` rejects them."""
    built = world.quote()
    quote = world.root / "quote.bin"
    quote.write_bytes(quote.read_bytes() + SPR_E4_TAIL)
    rc, doc, err = world.verify(built)
    assert rc == 0, (doc, err)
    link = next(c for c in doc["checks"] if c["name"] == "quote")
    assert link["data"]["trailing_bytes"]["count"] == 39
    assert link["data"]["trailing_bytes"]["authenticated"] is False
    assert "UNAUTHENTICATED" in link["detail"]
    policy = json.loads((world.root / "policy.json").read_text())
    (world.root / "policy.json").write_text(json.dumps({**policy, "allow_trailing_bytes": False}))
    rc, doc, _err = world.verify(built)
    assert rc == 1 and doc["failing_link"] == "policy"
    assert "trailing_bytes" in next(c for c in doc["checks"] if c["name"] == "policy")["detail"]


def test_evidence_need_not_come_from_files(world: World) -> None:
    """The chain takes an Evidence value: a fetched document (``verify --url``, later) gives
    the same verdict as files, with its source reported."""
    from sealfeed.attest import CollateralSource, load_policy
    from sealfeed.config.loader import Trust, load_and_verify
    from sealfeed.image import load_measurement
    from sealfeed.verify import Evidence, Inputs, make_quote_verifier, run

    built = world.quote()
    trust = Trust(world.owner.public(), "test")
    inputs = Inputs(
        config=load_and_verify(world.config, trust, read_secrets=False),
        measurement=load_measurement(world.root / "measurement.json").raw,
        at=built.now,
        evidence=Evidence(quote=built.quote, source="https://appliance.example/attestation"),
    )
    verifier = make_quote_verifier(
        collateral=CollateralSource(file=world.root / "collateral.json"),
        policy=load_policy(world.root / "policy.json"),
        at=built.now,
        trust_roots=[built.root_fingerprint],
    )
    verdict = run(inputs, verifier)
    assert verdict.ok, verdict.to_json()
    assert verdict.facts["evidence"] == "https://appliance.example/attestation"
    assert verdict.facts["config_hash"] == world.config_hash


def test_config_hash_in_the_verdict_is_of_the_verified_document(world: World) -> None:
    rc, doc, _err = world.verify(world.quote())
    assert rc == 0
    signed = next(c for c in doc["checks"] if c["name"] == "config-signature")
    assert signed["data"]["config_hash"] == doc["facts"]["config_hash"] == world.config_hash
