"""The whole appliance, for real: `sealfeed up --embedded-defaults` brings PostgreSQL (real
server, per-node roles), the price aggregator and the process-metrics exporter to ready under
a real s6-svscan; they answer on their ports; SIGTERM stops everything, nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _http(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode()


def _leftovers(marker: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmd:
            out.append(f"{pid}: {cmd[:120]}")
    return out


@pytest.fixture
def state() -> Iterator[Path]:
    if shutil.which("s6-svscan") is None or not Path("/usr/lib/postgresql").exists():
        pytest.skip("SKIPPED LOUDLY: s6 or PostgreSQL not installed")
    # the postgres user must reach its data dir: not below root's 0700 pytest tmp dir
    base = Path(tempfile.mkdtemp(prefix="sealfeed-up-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base / "state"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_up_runs_the_real_appliance(state: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealfeed", "up", "--embedded-defaults", "--nodes", "4",
         "--state-dir", str(state), "--ready-timeout", "120", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if "all services ready" in line:
                break
        assert any("all services ready" in x for x in lines), "".join(lines[-30:])

        status, _body = _http("http://127.0.0.1:3000/health")
        assert status == 200
        status, metrics = _http("http://127.0.0.1:3003/metrics")
        assert status == 200
        for svc in ("postgres", "price-aggregator", "process-metrics"):
            assert f'chainlink_s6_service_up{{service="{svc}"}} 1.0' in metrics, svc
        st = subprocess.run(
            [sys.executable, "-m", "sealfeed", "status", "--state-dir", str(state), "--json"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert st.returncode == 0, st.stderr
        services = {s["name"]: s for s in json.loads(st.stdout)["services"]}
        assert services["postgres"]["up"] and services["price-aggregator"]["ready"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out)["exit_code"] == 0, (out, err[-2000:])
    assert _leftovers(str(state)) == []
