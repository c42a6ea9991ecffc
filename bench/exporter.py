"""Benchmark: CPU time of one exporter collection for ~60 processes vs the reference's ps approach.

Starts a real s6-svscan with 6 services, each a shell with 9 ``sleep`` children (60 processes
in service trees), then measures per collection:

* ``sealfeed-sample`` -- ``Sampler.sample()``: reads s6 status, counters, /proc for every process
* ``sealfeed-sample-ppid-scan`` -- the same without ``children`` files (reads every pid's stat)
* ``sealfeed``   -- the sample + rendering the text exposition of all ~650 series
* ``reference``  -- what the reference exporter does every 5 s: one ``s6-svstat -o pid`` per
  service plus one ``ps -p <pids> -o pid,comm,pcpu,rss`` (only the 6 top pids)
* ``ps-tree``    -- the cheapest ps-based way to cover the same 60 processes:
  ``s6-svstat`` per service + one ``ps -e -o pid,ppid,comm,pcpu,rss``

CPU time = this process's CPU + its children's (``getrusage(RUSAGE_CHILDREN)``).
Prints one JSON line, then a human table. Usage: ``uv run python bench/exporter.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from sealfeed.exporter import ProcessCollector, Sampler
from sealfeed.s6.supervise import read_supervise_status

SERVICES = 6
CHILDREN = 9
# the trap takes the children down with the run script when s6-svscan stops
RUN = (
    "#!/bin/sh\ntrap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM\n"
    + "sleep 600 &\n" * CHILDREN
    + "wait\n"
)


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn: Callable[[], object], runs: int) -> dict[str, float]:
    fn()  # warm up
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(runs):
        c0, w0 = cpu_now(), time.perf_counter()
        fn()
        cpu.append(cpu_now() - c0)
        wall.append(time.perf_counter() - w0)
    return {
        "cpu_ms_median": statistics.median(cpu) * 1000,
        "cpu_ms_mean": statistics.fmean(cpu) * 1000,
        "wall_ms_median": statistics.median(wall) * 1000,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    for tool in ("s6-svscan", "s6-svstat", "ps"):
        if shutil.which(tool) is None:
            print(f"bench/exporter.py: {tool} not installed", file=sys.stderr)
            return 3
    tmp = Path(tempfile.mkdtemp(prefix="bench-exporter-"))
    scan = tmp / "scandir"
    scan.mkdir()
    svscan = subprocess.Popen(
        ["s6-svscan", str(scan)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    names = [f"svc-{i}" for i in range(SERVICES)]
    try:
        deadline = time.monotonic() + 5
        while not (scan / ".s6-svscan" / "control").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        for name in names:
            d = tmp / name
            d.mkdir()
            (d / "run").write_text(RUN)
            (d / "run").chmod(0o755)
            d.rename(scan / name)
        subprocess.run(["s6-svscanctl", "-a", str(scan)], check=True)
        deadline = time.monotonic() + 20
        sampler = Sampler(scandir=scan, source_dir=None)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                snap = sampler.sample()
            except Exception:
                continue
            if sum(len(s.processes) for s in snap.services) >= SERVICES * (CHILDREN + 1):
                break
        nproc = sum(len(s.processes) for s in sampler.sample().services)
        if nproc < SERVICES * (CHILDREN + 1):
            print(f"bench/exporter.py: only {nproc} processes came up", file=sys.stderr)
            return 3

        reg = CollectorRegistry()
        collector = ProcessCollector(sampler, max_age=float("inf"))
        reg.register(collector)

        def ours() -> None:
            collector.sample()
            generate_latest(reg)

        def ours_sample() -> None:
            collector.sample()

        scan_sampler = Sampler(scandir=scan, source_dir=None, use_children=False)

        def reference() -> None:
            pids = []
            for n in names:
                out = subprocess.run(
                    ["s6-svstat", "-o", "pid", str(scan / n)], capture_output=True, text=True
                )
                pids.append(out.stdout.strip())
            subprocess.run(
                ["ps", "-p", ",".join(pids), "-o", "pid,comm,pcpu,rss", "--no-headers"],
                capture_output=True,
            )

        def ps_tree() -> None:
            for n in names:
                subprocess.run(["s6-svstat", "-o", "pid", str(scan / n)], capture_output=True)
            subprocess.run(
                ["ps", "-e", "-o", "pid,ppid,comm,pcpu,rss", "--no-headers"], capture_output=True
            )

        results = {
            "sealfeed-sample": measure(ours_sample, args.runs),
            "sealfeed-sample-ppid-scan": measure(scan_sampler.sample, args.runs),
            "sealfeed": measure(ours, args.runs),
            "reference": measure(reference, max(args.runs // 4, 10)),
            "ps-tree": measure(ps_tree, max(args.runs // 4, 10)),
        }
        mode = "children-files" if sampler._children_mode() else "ppid-scan"
        doc = {
            "bench": "exporter",
            "processes_in_service_trees": nproc,
            "processes_on_host": sum(1 for p in os.listdir("/proc") if p.isdigit()),
            "tree_walk": mode,
            "runs": args.runs,
            "results": results,
            "status_ok": all(read_supervise_status(scan / n) is not None for n in names),
        }
        print(json.dumps(doc))
        print()
        print(f"{nproc} processes in {SERVICES} s6 service trees, tree walk: {mode}")
        print(f"{'approach':26} {'cpu ms (median)':>16} {'cpu ms (mean)':>14} {'wall ms':>9}")
        for k, r in results.items():
            print(
                f"{k:26} {r['cpu_ms_median']:>16.2f} {r['cpu_ms_mean']:>14.2f} "
                f"{r['wall_ms_median']:>9.2f}"
            )
    finally:
        # down every service and kill its process group (the run script's background
        # children would otherwise outlive s6-svscan)
        for n in names:
            st = read_supervise_status(scan / n)
            subprocess.run(["s6-svc", "-d", str(scan / n)], capture_output=True, check=False)
            if st is not None and st.pid > 0:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(st.pid, signal.SIGKILL)
        subprocess.run(["s6-svscanctl", "-t", str(scan)], capture_output=True, check=False)
        with contextlib.suppress(subprocess.TimeoutExpired):
            svscan.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(svscan.pid, signal.SIGKILL)
        svscan.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
