"""The whole appliance, for real: `sealfeed up --embedded-defaults` brings PostgreSQL (real
server, per-node roles), the price aggregator and the process-metrics exporter to ready under
a real s6-svscan, on free ports; what an operator meets (issue #19) is checked against that:
a price through a local fake upstream (scripts/fake_exchange.py), 503 for an unreachable one,
a refused second `up` that changes nothing, the status after a kill -9 of a service, a
kill -9 of `up` itself that leaves nothing running, a configuration tampered with while it
runs that stops the appliance with the failing service's own reason."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealfeed.s6.statedir import tree_processes

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
NO_CHAINLINK_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


def _http(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    # no `chainlink` binary: the nodes are reported as skipped (status shows them)
    return {**os.environ, "PATH": NO_CHAINLINK_PATH + ":" + os.path.dirname(sys.executable)}


def _sealfeed(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealfeed", *argv],
        capture_output=True, text=True, timeout=timeout, env=_env(),
    )  # fmt: skip


class Up:
    """`sealfeed up --embedded-defaults` as an operator runs it, stderr collected."""

    def __init__(self, state: Path, *extra: str) -> None:
        self.state = state
        self.agg_port, self.exp_port = _free_port(), _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sealfeed", "up", "--embedded-defaults", "--nodes", "5",
             "--state-dir", str(state), "--ready-timeout", "150", "--json",
             "--aggregator-port", str(self.agg_port), "--exporter-port", str(self.exp_port),
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "sealfeed up:   stop:" in line:  # the last line of the ready report
                self._ready.set()

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        while not self._ready.wait(0.2):
            assert self.proc.poll() is None, f"up exited {self.proc.returncode}:\n{self.err}"
            assert time.monotonic() < deadline, self.err[-3000:]

    def status(self) -> dict[str, Any]:
        st = _sealfeed("status", "--state-dir", str(self.state), "--json")
        assert st.returncode == 0, st.stderr
        return dict(json.loads(st.stdout))

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status()["services"] if s["name"] == name)

    def finish(self, timeout: float = 90) -> tuple[int, dict[str, Any]]:
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(10)
        return self.proc.returncode, json.loads(out) if out.strip() else {}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


README_STATE = "/home/ann/.local/state/sealfeed/up"


def _normalise(line: str, state: str) -> str:
    """Blank what differs between runs: the state dir, numbers (pids, times, ports, node
    numbers), digests; the README's run used the default state dir, the test's does not."""
    line = line.replace(state, "<state>").replace(" (per-user default; --state-dir to change)", "")
    return re.sub(r"\d+", "N", re.sub(r"sha256:[0-9a-f]{64}", "sha256:<hex>", line)).rstrip()


def readme_lines_not_in(stderr: str, state: Path) -> list[str]:
    """Lines of README.md's ```console block of `bash scripts/up.sh` that this run did not
    print (order aside: services become ready in any order)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```console\n\$ bash scripts/up\.sh\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md lost its `bash scripts/up.sh` transcript"
    real = {_normalise(ln, str(state)) for ln in stderr.splitlines()}
    doc = [_normalise(ln, README_STATE) for ln in block.group(1).splitlines() if ln.strip()]
    return [ln for ln in doc if ln not in real]


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
        for p in tree_processes(base / "state"):  # a failed test must not leave it running
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def _wait(pred: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_up_runs_the_real_appliance(state: Path) -> None:
    fake_port, closed = _free_port(), _free_port()
    fake = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "fake_exchange.py"), "--port", str(fake_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert fake.stdout is not None
    first = fake.stdout.readline()
    assert first.startswith(f"fake binance on http://127.0.0.1:{fake_port} (BTC/USDT "), first
    up = Up(state, "--source-url", f"binance=http://127.0.0.1:{fake_port}",
            "--source-url", f"kraken=http://127.0.0.1:{closed}")  # fmt: skip
    try:
        up.wait_ready()
        assert up.lines[0] == f"sealfeed up: state dir {state}\n"
        assert f"price-aggregator: http://127.0.0.1:{up.agg_port}" in up.err
        # "every provisioning step twice" (issue #19): the report once, no info log lines
        assert up.err.count("created role chainlink_node_1 ") == 1, up.err
        assert '"event": "pg_provision"' not in up.err
        # and the provisioning report ends in a sentence, not a bare "changed"
        assert "\nchanged\n" not in up.err and "5 nodes provisioned: 25 changes" in up.err

        # README.md's "ready" transcript is what a run prints
        missing = readme_lines_not_in(up.err, state)
        assert not missing, f"README.md's `up` transcript is stale: {missing}"

        assert _http(f"http://127.0.0.1:{up.agg_port}/health")[0] == 200
        code, body = _http(f"http://127.0.0.1:{up.agg_port}/quote/binance/BTC/USDT")
        assert code == 200 and json.loads(body)["price"] == "67012.34000000", body
        # an upstream it cannot reach (as every real exchange is without internet): 503
        code, body = _http(f"http://127.0.0.1:{up.agg_port}/quote/kraken/BTC/USD")
        assert code == 503 and "Source kraken unavailable" in body, body
        status, metrics = _http(f"http://127.0.0.1:{up.exp_port}/metrics")
        assert status == 200
        for svc in ("postgres", "price-aggregator", "process-metrics"):
            assert f'chainlink_s6_service_up{{service="{svc}"}} 1.0' in metrics, svc

        doc = up.status()
        assert doc["state"] == "ready" and doc["owner"]["pid"] == up.proc.pid
        services = {s["name"]: s for s in doc["services"]}
        assert services["postgres"]["up"] and services["price-aggregator"]["ready"]
        # skipped nodes are there while it runs, with why
        assert services["chainlink-node-5"]["state"] == "skipped"
        assert "no `chainlink` binary" in services["chainlink-node-5"]["reason"]

        # a second `up` on the live state dir: refused, nothing rewritten
        cfg = state / "config"
        files = ("configuration.json", "local.pem", "local.pub")
        before = {f: ((cfg / f).read_bytes(), (cfg / f).stat().st_mtime_ns) for f in files}
        second = _sealfeed("up", "--embedded-defaults", "--state-dir", str(state))
        assert second.returncode == 2, second.stderr
        assert f"already running on this state dir (pid {up.proc.pid}, since " in second.stderr
        assert "s6-svscanctl" not in second.stderr
        assert {f: ((cfg / f).read_bytes(), (cfg / f).stat().st_mtime_ns) for f in files} == (
            before
        )

        # kill -9 of a service: restarted; status says how it ended and when
        old = services["price-aggregator"]["pid"]
        killed_at = time.time()
        os.kill(old, signal.SIGKILL)
        _wait(lambda: up.service("price-aggregator")["state"] == "up"
              and up.service("price-aggregator")["pid"] != old, "the aggregator to come back")  # fmt: skip
        agg = up.service("price-aggregator")
        assert agg["restarts"] == 1
        assert agg["last_exit_code"] == 137 and agg["last_exit_signal"] == "SIGKILL"
        assert killed_at - 1 <= agg["last_exit_time"] <= time.time()
        human = _sealfeed("status", "--state-dir", str(state)).stdout
        assert "SIGKILL (137) at " in human
    finally:
        up.kill()
        fake.send_signal(signal.SIGINT)
        fake.wait(10)
    rc, doc = up.finish()
    assert rc == 0, up.err[-3000:]
    assert doc["exit_code"] == 0 and doc["leftover_processes"] == []
    assert tree_processes(state) == []


def test_kill_9_of_up_leaves_nothing_running(state: Path) -> None:
    """The tree dies with `up` (the kernel's PR_SET_PDEATHSIG -> s6-svscan's ordered stop):
    no process of it is left, PostgreSQL shut down cleanly, the next `up` starts normally."""
    up = Up(state)
    try:
        up.wait_ready()
        pg = up.service("postgres")["pid"]
        assert tree_processes(state)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait(10)
        _wait(lambda: tree_processes(state) == [], "the tree to stop after kill -9 of up")
    finally:
        up.kill()
    assert not Path(f"/proc/{pg}").exists()
    assert not (state / "pgdata" / "postmaster.pid").exists()  # a clean shutdown
    log = (state / "log" / "postgres" / "current").read_text()
    assert "database system is shut down" in log
    doc = up.status()
    assert doc["state"] == "stopped" and doc["orphans"] is None
    assert (
        "ended without shutting down (killed?)"
        in _sealfeed("status", "--state-dir", str(state)).stdout
    )

    again = Up(state, "--exit-when-ready")
    rc, result = again.finish(timeout=240)
    assert rc == 0 and result["exit_code"] == 0, again.err[-3000:]


def test_tampered_config_at_restart_stops_with_the_services_reason(state: Path) -> None:
    """The configuration is edited while the appliance runs; the aggregator, restarted,
    refuses it (exit 1) until its restart budget is spent: `up` exits 1 and the cause
    line says what the aggregator itself said."""
    up = Up(state)
    try:
        up.wait_ready()
        config = state / "config" / "configuration.json"
        doc = json.loads(config.read_text())
        doc["solution"]["chainlinkChainId"] += 1  # after signing
        config.write_text(json.dumps(doc))
        os.kill(up.service("price-aggregator")["pid"], signal.SIGKILL)
        rc, result = up.finish(timeout=180)
    finally:
        up.kill()
    assert rc == 1, up.err[-3000:]
    cause = result["cause"]
    assert cause["service"] == "price-aggregator" and cause["exit_code"] == 1
    assert cause["reason"].startswith(f"sealfeed: {state / 'config' / 'configuration.json'}: ")
    assert "does not match the configuration (content changed)" in cause["reason"]
    assert (
        "restart budget exhausted (4 exits within 300 s, max 3 restarts) (exit 1)"
        in (cause["line"])
    )
    assert f"its last words: {cause['reason']}; container exit code 1" in cause["line"]
    status = up.status()
    assert status["cause"]["line"] == cause["line"]
    agg = next(s for s in status["services"] if s["name"] == "price-aggregator")
    assert agg["state"] == "failed" and agg["reason"] == cause["reason"]
    assert agg["last_exit_code"] == 1 and agg["last_exit_signal"] is None
    assert tree_processes(state) == []
