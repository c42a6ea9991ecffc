"""Operator secrets into the appliance, end to end on this machine (issue #19 item 4), with the
real ``sealfeed up`` (real s6-svscan, PostgreSQL, aggregator, exporter), the fake TDX kernel
(tests/fakes/tsm.py) and a fake Finnhub that accepts only the operator's API key:

1. first boot: the configuration references ``exchanges/finnhub.key``, which the appliance
   does not have. ``secrets-import`` creates the import key and reports the file missing;
   ``attest`` binds the key into the quote; the aggregator refuses to start without its key
   (fail closed) and the appliance stops -- the key ceremony of docs/deploy-super-protocol.md;
2. the operator verifies the attestation document offline and seals the key to it
   (``sealfeed secrets seal``), then drops the bundle into the appliance's inputs;
3. second boot: ``secrets-import`` opens the bundle, the aggregator fetches from Finnhub with
   the operator's key, the exporter serves the attestation, ``status`` shows it and
   ``sealfeed verify --url`` accepts it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.s6.embedded import embedded_solution
from tests.fakes.appliance_image import write_measured_image
from tests.fakes.tsm import DEFAULT_MR_TD, DEFAULT_RTMRS, FakeTdxHost, fuse_available
from tests.secrets.helpers import ThreadedExchange

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

API_KEY = "fh-operator-secret-0017"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def base() -> Iterator[Path]:
    if shutil.which("s6-svscan") is None or not Path("/usr/lib/postgresql").exists():
        pytest.skip("SKIPPED LOUDLY: s6 or PostgreSQL not installed")
    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    # the postgres user must reach its data dir: not below root's 0700 pytest tmp dir
    root = Path(tempfile.mkdtemp(prefix="sealfeed-secrets-up-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Operator:
    def __init__(self, root: Path, host: FakeTdxHost, finnhub_url: str) -> None:
        self.root = root
        self.host = host
        self.state = root / "state"
        self.image = write_measured_image(root, b"the appliance")
        self.key = signing.generate_key(signing.Scheme.MODERN)
        self.pub = root / "owner.pub"
        self.pub.write_bytes(signing.public_key_pem(self.key.public()))
        self.agg_port, self.exp_port = _free_port(), _free_port()
        sol: dict[str, Any] = embedded_solution(self.state, 2)
        sol["priceAggregatorConfig"]["port"] = self.agg_port
        sol["sealfeed"]["exporter"] = {"port": self.exp_port, "intervalMs": 1000}
        sol["maxRestarts"] = 1
        for src in sol["priceAggregatorConfig"]["sources"].values():
            src["enabled"] = False  # tests talk to 127.0.0.1 only
        sol["priceAggregatorConfig"]["sources"]["finnhub"] = {
            "enabled": True, "baseUrl": finnhub_url,
            "apiKey": {"secretFile": "exchanges/finnhub.key"}}  # fmt: skip
        sol["sealfeed"]["feeds"] = []
        sol[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(sol, self.key)
        self.config = root / "configuration.json"
        self.config.write_text(json.dumps({"solution": sol}))
        policy = {"mr_td": [DEFAULT_MR_TD.hex()]}
        policy.update({f"rtmr{i}": [r.hex()] for i, r in enumerate(DEFAULT_RTMRS)})
        (root / "policy.json").write_text(json.dumps(policy))
        host.collateral_file(root / "collateral.json")

    def up(self, tsm: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "SEALFEED_TSM_ROOT": str(tsm), "SEALFEED_IMAGE_SHA256": self.image}
        return subprocess.Popen(
            [sys.executable, "-m", "sealfeed", "up", "--config", str(self.config), "--pubkey",
             str(self.pub), "--secrets-dir", str(self.state / "secrets"), "--state-dir",
             str(self.state), "--ready-timeout", "150", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True,
        )  # fmt: skip

    def verify_args(self) -> list[str]:
        return ["--image-measurement", str(self.root / "measurement.json"),
                "--config", str(self.config), "--pubkey", str(self.pub),
                "--policy", str(self.root / "policy.json"),
                "--collateral", str(self.root / "collateral.json"),
                "--root-ca-fingerprint", self.host.root_fingerprint]  # fmt: skip


def sf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIGURATION_", "SEALFEED_"))}
    return subprocess.run([sys.executable, "-m", "sealfeed", *args], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()


def test_sealed_api_key_reaches_the_aggregator_through_sealfeed_up(base: Path) -> None:
    host = FakeTdxHost()
    with ThreadedExchange("finnhub", api_key=API_KEY, prices={("BTC", "USDT"): "67012.5"}) as fx:
        op = Operator(base, host, fx.base_url)
        tsm = host.mount(base / "tsm")
        try:
            # 1. first boot: no key yet -> attested, but the aggregator refuses to run
            first = op.up(tsm.root)
            out, err = first.communicate(timeout=240)
            assert first.returncode != 0, err[-3000:]
            result = json.loads(out)
            assert "price-aggregator" in (result.get("cause") or {}).get("line", ""), (
                out + err[-3000:]
            )
            agg_log = (op.state / "log" / "price-aggregator" / "current").read_text()
            assert (
                "secret for priceAggregatorConfig.sources.finnhub.apiKey file does not exist"
                in agg_log
            )
            doc = op.state / "run" / "sealfeed" / "attestation.json"
            assert json.loads(doc.read_text())["attested"] is True
            assert fx.tokens() == []

            # 2. the operator checks the appliance and seals the key to it
            mine = base / "operator-secrets" / "exchanges"
            mine.mkdir(parents=True)
            (mine / "finnhub.key").write_text(API_KEY + "\n")
            inputs = op.state / "inputs" / "input-0001"
            inputs.mkdir(parents=True)
            sealed = sf("secrets", "seal", "--attestation", str(doc), *op.verify_args(),
                        "--from", str(base / "operator-secrets"),
                        "--out", str(inputs / "ops.sealed.json"))  # fmt: skip
            assert sealed.returncode == 0, sealed.stdout + sealed.stderr
            assert API_KEY not in (inputs / "ops.sealed.json").read_text()

            # 3. second boot: imported, used, attested, verified
            second = op.up(tsm.root)
            lines: list[str] = []
            assert second.stderr is not None
            deadline = time.monotonic() + 200
            while time.monotonic() < deadline and not any("all services ready" in x for x in lines):
                line = second.stderr.readline()
                if not line and second.poll() is not None:
                    break
                lines.append(line)
            try:
                assert any("all services ready" in x for x in lines), "".join(lines[-40:])
                code, body = _get(f"http://127.0.0.1:{op.agg_port}/quote/finnhub/BTC/USDT")
                assert code == 200 and json.loads(body)["price"] == "67012.5", body
                assert set(fx.tokens()) == {API_KEY}
                code, body = _get(f"http://127.0.0.1:{op.exp_port}/attestation")
                assert code == 200 and json.loads(body)["attested"] is True, body
                st = sf("status", "--state-dir", str(op.state))
                assert "\nattestation: attested (" in st.stdout, st.stdout + st.stderr
                ok = sf("verify", *op.verify_args(), "--url", f"http://127.0.0.1:{op.exp_port}")
                assert ok.returncode == 0, ok.stdout + ok.stderr
                assert API_KEY not in "".join(lines)
            finally:
                out, err = _stop(second)
            assert second.returncode == 0, err[-3000:]
            assert API_KEY not in out + err
            for log in (op.state / "log").glob("*/current"):
                assert API_KEY not in log.read_text(), log
        finally:
            tsm.stop()
