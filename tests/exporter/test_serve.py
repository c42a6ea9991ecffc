"""``sealfeed exporter serve`` as a real process: readiness fd, /metrics, /healthz, push,
SIGTERM, self-healing exit. The CLI gets a typed config through its seam
(``main(load_config=...)``); everything after it is the real code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.metrics_backends import Pushgateway
from tests.fixtures.s6 import Scandir

pytestmark = pytest.mark.slow

WRAPPER = r"""
import json, sys
from sealfeed.config.model import *
spec = json.loads(sys.argv[1])
def fake(args):
    return ApplianceConfig(
        nodes=NodesConfig(total=4),
        chain=ChainConfig(chain_id=1, rpc_http_url="http://x", rpc_ws_url="ws://x"),
        postgres=PostgresConfig(),
        chainlink=ChainlinkConfig(email="a@b", password=None, keystore_password=None),
        aggregator=AggregatorConfig(),
        exporter=ExporterConfig(
            interval_ms=spec["interval_ms"],
            push=MetricsPushConfig(
                enabled=bool(spec.get("push")), url=spec.get("push"), job_name="process-metrics",
                interval_ms=100, delete_on_shutdown=True,
            ),
        ),
        monitoring=MonitoringLabels(instance="serve-test", environment="ci"),
    )
from sealfeed.cli import main
sys.exit(main(sys.argv[2:], load_config=fake))
"""


def _start(
    spec: dict[str, object], *argv: str, pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRAPPER, json.dumps(spec), "exporter", "serve", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=pass_fds,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_ready_metrics_push_sigterm(
    exporter_s6: Scandir,
    metrics_pushgateway: Pushgateway,
    free_port: Callable[[], int],
    tmp_path: Path,
) -> None:
    exporter_s6.add_service("sleeper", "#!/bin/sh\nexec sleep 600\n")
    exporter_s6.wait_up("sleeper")
    port = free_port()
    r, w = os.pipe()
    proc = _start(
        {"interval_ms": 200, "push": metrics_pushgateway.url},
        "--port",
        str(port),
        "--scandir",
        str(exporter_s6.path),
        "--source-dir",
        "",
        "--notify-fd",
        str(w),
        pass_fds=(w,),
    )
    os.close(w)
    try:
        assert os.read(r, 1) == b"\n"  # readiness only once serving
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and body == "ok\n"
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert 'chainlink_s6_service_up{service="sleeper"} 1.0' in text
        assert 'chainlink_process_list{pid="' in text
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = [
                s
                for s in metrics_pushgateway.series("chainlink_s6_service_up")
                if s[0].get("instance") == "serve-test"
            ]
            if got:
                break
            time.sleep(0.1)
        assert got and got[0][0]["service"] == "sleeper" and got[0][0]["environment"] == "ci"
        proc.send_signal(signal.SIGTERM)
        # how fast it stops is bench/shutdown.py's business; the timeout only bounds the wait
        assert proc.wait(timeout=60) == 0
        # delete_on_shutdown removed our group
        assert not [
            s
            for s in metrics_pushgateway.series("chainlink_s6_service_up")
            if s[0].get("instance") == "serve-test"
        ]
    finally:
        os.close(r)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_self_heal_exit_after_consecutive_failures(
    free_port: Callable[[], int], tmp_path: Path
) -> None:
    port = free_port()
    proc = _start(
        {"interval_ms": 50},
        "--port",
        str(port),
        "--scandir",
        str(tmp_path / "missing"),
        "--source-dir",
        "",
        "--health-failures",
        "2",
    )
    try:
        deadline = time.monotonic() + 5
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                if status == 503:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        assert status == 503 and "consecutive failures" in body
        rc = proc.wait(timeout=10)
        _, err = proc.communicate()
        assert rc == 3
        assert "sampling failed 12 times in a row" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_fails_closed_without_valid_config(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sealfeed",
            "exporter",
            "serve",
            "--config",
            str(tmp_path / "nope.json"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "CONFIGURATION_PUBLIC_KEY": ""},
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
