"""Real processes under a real s6-svscan, pushed to a real Pushgateway and VictoriaMetrics."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sealfeed.config.model import MetricsPushConfig, MonitoringLabels
from sealfeed.exporter.collector import ProcessCollector
from sealfeed.exporter.sampler import Sampler
from sealfeed.exporter.server import SERIES_LABELS
from sealfeed.push import MetricsPusher
from tests.fixtures.metrics_backends import Pushgateway, VictoriaMetrics
from tests.fixtures.s6 import Scandir

pytestmark = pytest.mark.slow

# the finish script keeps the counters the way the s6 helper's finish scripts do (design §2.5):
# s6-supervise runs ./finish in the service directory
FINISH = """#!/bin/sh
c=$(cat restart-count 2>/dev/null || echo 0)
echo $((c + 1)) > restart-count
date +%s > last-restart
"""

# the trap takes the background children down with the run script when s6 stops it
FORKER = """#!/bin/sh
trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
python3 -c "import time; n = 24 << 20; b = bytearray(n); b[::4096] = b'x' * (n // 4096)
time.sleep(600)" &
sleep 600 &
wait
"""

CRASHER = """#!/bin/sh
sleep 0.3
exit 3
"""


def _wait(pred: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail("condition not reached")


def _collector(s6: Scandir) -> tuple[CollectorRegistry, ProcessCollector]:
    reg = CollectorRegistry()
    col = ProcessCollector(Sampler(scandir=s6.path, source_dir=None), max_age=0)
    reg.register(col)
    return reg, col


def _child_rss(col: ProcessCollector, service: str, comm: str) -> int:
    snap = col.sample()
    svc = next(s for s in snap.services if s.name == service)
    return max((p.rss_kb for p in svc.processes if p.comm == comm), default=0)


def test_tree_restarts_and_push(
    exporter_s6: Scandir, metrics_pushgateway: Pushgateway, metrics_victoria: VictoriaMetrics
) -> None:
    exporter_s6.add_service("forker", FORKER, finish=FINISH)
    exporter_s6.add_service("victim", "#!/bin/sh\nexec sleep 600\n", finish=FINISH)
    exporter_s6.add_service("crasher", CRASHER, finish=FINISH)
    st = exporter_s6.wait_up("forker")
    victim = exporter_s6.wait_up("victim")
    reg, col = _collector(exporter_s6)

    # the python child's RSS (24 MiB touched) shows up under its service, not the sh pid
    _wait(lambda: _child_rss(col, "forker", "python3") > 20_000)
    snap = col.sample()
    forker = next(s for s in snap.services if s.name == "forker")
    assert forker.pid == st.pid
    assert {p.comm for p in forker.processes} == {
        "run",
        "python3",
        "sleep",
    }  # comm of a script = its name
    assert forker.rss_kb >= 20_000

    # kill -9: s6 restarts it, the finish script counts, the exporter reports it
    before = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    exporter_s6.wait(
        "victim",
        lambda s: (
            s.up
            and s.pid != victim.pid
            and (exporter_s6.path / "victim" / "restart-count").exists()
        ),
    )
    snap = col.sample()
    v = next(s for s in snap.services if s.name == "victim")
    assert v.restart_count == 1
    assert v.last_restart_ts is not None and v.last_restart_ts >= int(before) - 1
    assert v.last_exit_signal == 9 and v.last_exit_code == 137

    # the crashing service: restarts counted, last exit code 3 once it is down
    _wait(lambda: col.sample() and (exporter_s6.path / "crasher" / "restart-count").exists())
    _wait(lambda: any(s.name == "crasher" and s.last_exit_code == 3 for s in col.sample().services))

    # push both ways and read the values back
    labels = MonitoringLabels(instance="it-" + uuid.uuid4().hex[:6], environment="test")

    async def push() -> None:
        for cfg in (
            MetricsPushConfig(
                enabled=True, url=metrics_pushgateway.url, job_name="process-metrics"
            ),
            MetricsPushConfig(
                enabled=True,
                url=metrics_victoria.url,
                kind="victoriametrics",
                job_name="process-metrics",
            ),
        ):
            p = MetricsPusher(reg, cfg, labels, drop_grouping_labels=SERIES_LABELS)
            try:
                await p.push_once()
            finally:
                await p.aclose()

    col.sample()
    asyncio.run(push())
    pg = [
        (lab, val)
        for lab, val in metrics_pushgateway.series("chainlink_process_memory_rss_kb")
        if lab.get("instance") == labels.instance
        and lab["service"] == "forker"
        and lab["process"] == "python3"
    ]
    assert pg and pg[0][1] > 20_000
    assert pg[0][0]["job"] == "process-metrics" and pg[0][0]["environment"] == "test"
    assert pg[0][0]["ttl"] == "3600"
    restarts = metrics_victoria.series(
        "chainlink_s6_service_restart_count", instance=labels.instance, service="victim"
    )
    assert [val for _, val in restarts] == [1.0]
    rss = metrics_victoria.series(
        "chainlink_process_memory_rss_kb",
        instance=labels.instance,
        service="forker",
        process="python3",
    )
    assert rss and rss[0][1] > 20_000


def test_collect_cli_once_json(exporter_s6: Scandir, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    exporter_s6.add_service("forker", FORKER)
    exporter_s6.wait_up("forker")
    _wait(
        lambda: (
            len(
                next(
                    s for s in Sampler(scandir=exporter_s6.path, source_dir=None).sample().services
                ).processes
            )
            == 3
        )
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sealfeed",
            "exporter",
            "collect",
            "--once",
            "--json",
            "--scandir",
            str(exporter_s6.path),
            "--source-dir",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    (svc,) = doc["services"]
    assert svc["name"] == "forker" and svc["up"] and len(svc["processes"]) == 3
