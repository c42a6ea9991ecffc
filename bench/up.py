"""Time from `sealfeed up` (render + check + scandir + s6-svscan) to every service ready.

Real s6-svscan and, when installed, a real PostgreSQL (initdb'd once, outside the timing).
Commands that are not on this checkout yet (`sealfeed aggregator/exporter serve`, `pg
bootstrap/provision`, `config verify`, `chainlink`) are replaced by tests/s6/standin.py,
a real HTTP server speaking the --notify-fd readiness protocol; the JSON says which.

Usage: uv run python bench/up.py [--nodes 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.s6 import s6_make_config  # noqa: E402

from sealfeed.s6.up import Appliance, UpOptions, detect_postgres_bin_dir  # noqa: E402

STANDIN = str(ROOT / "tests" / "s6" / "standin.py")
PY = sys.executable


def free_block(n: int) -> int:
    for _ in range(500):
        base = random.randrange(20_000, 32_000)
        try:
            for port in range(base + 1, base + n + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise SystemExit("no free ports")


def pg_bin() -> Path | None:
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    d = detect_postgres_bin_dir()
    return Path(d) if d else None


def one_run(nodes: int, work: Path, pg: Path | None) -> dict[str, object]:
    state = work / f"state-{time.monotonic_ns()}"
    events = work / "events"
    as_root = os.geteuid() == 0

    def standin(name: str, port: int, notify: bool = True) -> tuple[str, ...]:
        a: tuple[str, ...] = (PY, STANDIN, "--name", name, "--events", str(events))
        a += ("--port", str(port))
        return a + (("--notify-fd", "3") if notify else ())

    def oneshot(name: str) -> tuple[str, ...]:
        return (PY, STANDIN, "--name", name, "--events", str(events), "--exit", "0")

    pg_port = free_block(1) + 1
    node_base = free_block(nodes)
    data, sock = work / "pgdata", work / "sock"
    cmds: dict[str, tuple[str, ...]] = {
        "config-verify": oneshot("config-verify"),
        "postgres-bootstrap": oneshot("postgres-bootstrap"),
        "postgres-init": oneshot("postgres-init"),
        "chainlink-render": oneshot("chainlink-render"),
        "chainlink-node": (*standin("chainlink-node-{index}", 0, notify=False)[:-1], "{api_port}"),
        "price-aggregator": standin("price-aggregator", free_block(1) + 1),
        "process-metrics": standin("process-metrics", free_block(1) + 1),
    }
    users: dict[str, str | None] = {f"chainlink-node-{i}": None for i in range(1, nodes + 1)}
    if pg is None:
        cmds["postgres"] = standin("postgres", pg_port, notify=False)
        cmds["postgres-check"] = (
            PY,
            "-m",
            "sealfeed",
            "s6",
            "probe",
            f"http://127.0.0.1:{pg_port}/",
        )
        users["postgres"] = None
    else:
        users["postgres"] = "postgres" if as_root else None
    cfg = s6_make_config(
        nodes, api_base_port=node_base, data_dir=str(data), socket_dir=str(sock), pg_port=pg_port
    )
    app = Appliance(
        cfg,  # type: ignore[arg-type]
        UpOptions(
            state_dir=state,
            commands=cmds,
            users=users,
            catchall=str(work / "catchall.log"),
            postgres_bin_dir=str(pg) if pg else None,
        ),
    )
    t0 = time.monotonic()
    app.start()
    ok = app.wait_ready(120)
    ready = time.monotonic() - t0
    t1 = time.monotonic()
    app.shutdown()
    stop = time.monotonic() - t1
    left = app.leftovers()
    app.kill_leftovers(left)
    if not ok:
        raise SystemExit(f"not ready: {app.cause()}")
    return {"ready_s": ready, "stop_s": stop, "ready_at": app.ready_at, "leftovers": len(left)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    pg = pg_bin()
    if pg is not None and not (pg / "initdb").exists():
        pg = None
    work = Path(tempfile.mkdtemp(prefix="sealfeed-bench-up-", dir="/tmp"))
    work.chmod(0o755)
    try:
        if pg is not None:  # initdb once, outside the timing (bootstrap is the pg helper's)
            (work / "sock").mkdir()
            drop = ["s6-setuidgid", "postgres"] if os.geteuid() == 0 else []
            if drop:
                shutil.chown(work / "sock", "postgres", "postgres")
                (work / "pgdata").mkdir()
                shutil.chown(work / "pgdata", "postgres", "postgres")
            subprocess.run(
                [*drop, str(pg / "initdb"), "-D", str(work / "pgdata"), "-A", "trust",
                 "-U", "postgres", "--no-sync"],
                check=True, capture_output=True, cwd="/",
            )  # fmt: skip
        runs = [one_run(args.nodes, work, pg) for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    real = {
        name: importlib.util.find_spec(mod) is not None
        for name, mod in {
            "aggregator": "sealfeed.aggregator.cli",
            "exporter": "sealfeed.exporter.cli",
            "pg": "sealfeed.postgres.cli",
        }.items()
    }
    ready = [float(r["ready_s"]) for r in runs]  # type: ignore[arg-type]
    stop = [float(r["stop_s"]) for r in runs]  # type: ignore[arg-type]
    doc = {
        "bench": "s6.up",
        "nodes": args.nodes,
        "runs": args.runs,
        "postgres": "real" if pg else "stand-in",
        "stand_ins": [k for k, v in real.items() if not v] + ["config-verify", "chainlink"],
        "ready_s_median": round(statistics.median(ready), 3),
        "ready_s_min": round(min(ready), 3),
        "stop_s_median": round(statistics.median(stop), 3),
        "leftovers": sum(int(r["leftovers"]) for r in runs),  # type: ignore[call-overload]
        "ready_at_last_run": runs[-1]["ready_at"],
    }
    print(json.dumps(doc))
    print(f"\n{'service':<24}{'ready at (s, last run)':>24}")
    for name, t in sorted(runs[-1]["ready_at"].items(), key=lambda kv: kv[1]):  # type: ignore[attr-defined]
        print(f"{name:<24}{t:>24.3f}")
    print(f"\nup -> all ready: median {doc['ready_s_median']} s (min {doc['ready_s_min']} s) over "
          f"{args.runs} runs; ordered shutdown median {doc['stop_s_median']} s; "
          f"PostgreSQL {doc['postgres']}")  # fmt: skip


if __name__ == "__main__":
    main()
