"""How long the appliance takes to stop when `sealfeed up` is killed, beside a normal stop.

The real appliance (`sealfeed up --embedded-defaults`: real s6-svscan, PostgreSQL, price
aggregator, exporter; free ports; no `chainlink` binary, so the nodes are skipped) is
started, brought to ready, and then either

* ``term``: SIGTERM to `up` -- its own ordered stop (the reference point), or
* ``kill9``: SIGKILL to `up` -- the kernel's PR_SET_PDEATHSIG makes s6-svscan run its
  ``.s6-svscan/SIGTERM`` (the same order, in sh) and its finish script (ADR 0126),

timed until no process carrying the state dir's marker is left. Runs are interleaved;
the ratio kill9/term says what the safety costs. Also reported: processes left (must be 0)
and whether PostgreSQL shut down cleanly (no postmaster.pid).

Usage: uv run python bench/up_stop.py [--runs 3] [--nodes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sealfeed.s6.statedir import tree_processes  # noqa: E402

NO_CHAINLINK_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(how: str, nodes: int, work: Path) -> dict[str, object]:
    state = work / f"state-{how}-{time.monotonic_ns()}"
    env = {**os.environ, "PATH": NO_CHAINLINK_PATH + ":" + os.path.dirname(sys.executable)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealfeed", "up", "--embedded-defaults", "--nodes", str(nodes),
         "--state-dir", str(state), "--aggregator-port", str(free_port()),
         "--exporter-port", str(free_port())],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "all services ready" in line:
            break
    else:
        raise SystemExit(f"up exited {proc.wait()} before ready")
    procs_at_ready = len(tree_processes(state))
    t0 = time.monotonic()
    proc.send_signal(signal.SIGKILL if how == "kill9" else signal.SIGTERM)
    deadline = t0 + 120
    while tree_processes(state) and time.monotonic() < deadline:
        time.sleep(0.02)
    took = time.monotonic() - t0
    left = len(tree_processes(state))
    proc.wait(30)
    proc.stderr.read()
    clean = not (state / "pgdata" / "postmaster.pid").exists()
    shutil.rmtree(state, ignore_errors=True)
    return {"how": how, "stop_s": took, "left": left, "pg_clean": clean,
            "processes": procs_at_ready}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("s6-svscan") is None:
        raise SystemExit("s6 not installed (apt-get install s6 execline)")
    work = Path(tempfile.mkdtemp(prefix="sealfeed-bench-stop-", dir="/tmp"))
    work.chmod(0o755)  # as root, PostgreSQL runs as `postgres` and must reach its data dir
    try:
        runs = []
        for _ in range(args.runs):
            runs.append(one_run("term", args.nodes, work))
            runs.append(one_run("kill9", args.nodes, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    term = [float(r["stop_s"]) for r in runs if r["how"] == "term"]  # type: ignore[arg-type]
    kill = [float(r["stop_s"]) for r in runs if r["how"] == "kill9"]  # type: ignore[arg-type]
    doc = {
        "bench": "s6.up_stop",
        "runs": args.runs,
        "nodes_skipped": args.nodes,
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "term_stop_s_median": round(statistics.median(term), 3),
        "kill9_stop_s_median": round(statistics.median(kill), 3),
        "kill9_over_term": round(statistics.median(kill) / statistics.median(term), 2),
        "processes_left": sum(int(r["left"]) for r in runs),  # type: ignore[call-overload]
        "postgres_clean_shutdowns": sum(bool(r["pg_clean"]) for r in runs),
        "tree_processes_at_ready": runs[-1]["processes"],
        "samples": [{k: r[k] for k in ("how", "stop_s", "left", "pg_clean")} for r in runs],
    }
    print(json.dumps(doc))
    print(f"\n{'stop of the whole tree':<34}{'median s':>10}{'runs':>30}")
    for name, xs in (("SIGTERM to up (ordered, by up)", term),
                     ("kill -9 of up (PDEATHSIG path)", kill)):  # fmt: skip
        print(f"{name:<34}{statistics.median(xs):>10.2f}{', '.join(f'{x:.2f}' for x in xs):>30}")
    print(f"\nkill9 / term: x{doc['kill9_over_term']}; processes left: {doc['processes_left']}; "
          f"PostgreSQL clean: {doc['postgres_clean_shutdowns']}/{len(runs)}")  # fmt: skip


if __name__ == "__main__":
    main()
