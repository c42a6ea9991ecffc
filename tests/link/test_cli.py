"""``sealfeed link ...``: precise errors and exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.link.measurements import parse_measurements
from tests.fakes.tsm import FakeTdxHost, TdKnobs
from tests.link.conftest import plan_doc


def sf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
    proc = subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def plan_file(host: FakeTdxHost, tmp_path: Path) -> Path:
    coll = host.collateral_file(tmp_path / "collateral.json")
    doc = plan_doc("vm-a", host=host, collateral=coll, listen="127.0.0.2:1",
                   peers=[{"name": "vm-b", "address": "127.0.0.3:1",
                           "forward": [{"listen": "127.0.0.2:2", "target": "node-2"}]}],
                   targets={"node-1": "127.0.0.1:3"})  # fmt: skip
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    return path


def test_help_lists_the_command() -> None:
    out = sf("--help").stdout
    assert "link" in out and "attested mutual-TLS tunnels" in out
    assert "cvm-reverse-proxy" in sf("link", "measurements", "--help").stdout


def test_check_plan(plan_file: Path) -> None:
    proc = sf("link", "check-plan", str(plan_file))
    assert proc.returncode == 0, proc.stderr
    assert "peer vm-b at 127.0.0.3:1: 127.0.0.2:2 -> node-2" in proc.stdout
    doc = json.loads(sf("link", "check-plan", str(plan_file), "--json").stdout)
    assert doc["ok"] is True and doc["targets"] == {"node-1": "127.0.0.1:3"}


def test_check_plan_names_the_bad_field(plan_file: Path) -> None:
    doc = json.loads(plan_file.read_text())
    doc["peers"][0]["forward"][0]["listen"] = "0.0.0.0:9903"
    plan_file.write_text(json.dumps(doc))
    proc = sf("link", "check-plan", str(plan_file), "--json")
    assert proc.returncode == 2
    assert (
        f"{plan_file}.peers[0].forward[0].listen: a tunnel endpoint must bind a loopback"
        in proc.stderr
    )
    assert json.loads(proc.stdout)["error"]["exit_code"] == 2


def test_measurements_from_a_quote(host: FakeTdxHost, tmp_path: Path) -> None:
    td = TdKnobs(mr_td=b"\x42" * 48)
    (tmp_path / "q.bin").write_bytes(host.quote(bytes(64), td))
    proc = sf("link", "measurements", str(tmp_path / "q.bin"), "--id", "my-image")
    assert proc.returncode == 0, proc.stderr
    m = parse_measurements(json.loads(proc.stdout))
    entry = m.match(td.registers())
    assert entry is not None and entry.measurement_id == "my-image"
    (tmp_path / "junk").write_bytes(b"junk")
    assert sf("link", "measurements", str(tmp_path / "junk")).returncode == 2


def test_status_without_a_running_link(tmp_path: Path) -> None:
    proc = sf("link", "status", "--status-file", str(tmp_path / "none.json"))
    assert proc.returncode == 2 and "is `sealfeed link serve` running?" in proc.stderr


def _signed_config(tmp_path: Path, solution: dict[str, Any]) -> tuple[Path, Path]:
    key = signing.generate_key(signing.Scheme.REFERENCE)
    sol = dict(solution)
    sol["signature"] = signing.sign_reference(sol, key)
    cfg = tmp_path / "configuration.json"
    cfg.write_text(json.dumps({"solution": sol}))
    pub = tmp_path / "owner.pub"
    pub.write_bytes(signing.public_key_pem(key.public()))
    return cfg, pub


def test_serve_fails_closed(plan_file: Path, tmp_path: Path, solution: dict[str, Any]) -> None:
    cfg, pub = _signed_config(tmp_path, solution)
    base = ["link", "serve", "--plan", str(plan_file), "--config", str(cfg),
            "--status-file", str(tmp_path / "s.json")]  # fmt: skip
    # no trusted key: refuse to read the configuration
    proc = sf(*base, "--tsm-root", str(tmp_path))
    assert proc.returncode == 2 and "no trusted public key" in proc.stderr
    # tampered configuration
    doc = json.loads(cfg.read_text())
    doc["solution"]["chainlinkNodeName"] = "tampered"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(doc))
    proc = sf(*base[:5], str(bad), *base[6:], "--pubkey", str(pub), "--tsm-root", str(tmp_path))
    assert proc.returncode == 1 and "does not verify" in proc.stderr
    # not a TDX guest (no configfs-tsm): an external dependency, nothing is served
    proc = sf(*base, "--pubkey", str(pub), "--tsm-root", str(tmp_path / "no-tsm"))
    assert proc.returncode == 3 and "configfs-tsm is not available" in proc.stderr
    # a bad plan is named before anything else
    proc = sf("link", "serve", "--plan", str(tmp_path / "nope.json"), "--config", str(cfg),
              "--pubkey", str(pub))  # fmt: skip
    assert proc.returncode == 2 and "nope.json: file not found" in proc.stderr
