"""Benchmark: cold bootstrap + provision of N nodes on a real PostgreSQL (target < 5 s for 5).

Each run: empty temp dir -> ``bootstrap`` (initdb with checksums, tuned config, hba) ->
``pg_ctl start`` -> ``provision`` (N roles + databases) -> ``probe_nodes`` (every role
connects). Also times a second provision (the no-op path) and stops the server.

    uv run python bench/pg_bootstrap.py [--nodes 5] [--runs 3]

Prints one JSON line, then a human table (medians over the runs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

from sealfeed.config.model import NodesConfig, PostgresConfig
from sealfeed.postgres import bootstrap, control, probe_nodes, provision, read_host_limits
from sealfeed.postgres.secrets import superuser_password_path
from sealfeed.secret import read_secret_file


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(nodes: int, bins: control.PgBinaries, user: control.OsUser) -> dict[str, float]:
    base = Path(tempfile.mkdtemp(prefix="sealfeed-pg-bench-"))
    base.chmod(0o755)
    secrets = base / "secrets"
    secrets.mkdir(mode=0o700)
    log = base / "postgres.log"
    log.touch()
    user.chown(log)
    pg = PostgresConfig(port=_port(), data_dir=str(base / "data"), socket_dir=str(base / "run"))
    specs = NodesConfig(total=nodes).specs()
    times: dict[str, float] = {}
    started = False
    try:
        t0 = time.perf_counter()
        bootstrap(pg, specs, secrets_dir=secrets, limits=read_host_limits(), bins=bins, user=user)
        t1 = time.perf_counter()
        control.pg_ctl_start(bins, user, Path(pg.data_dir), log_file=log)
        started = True
        t2 = time.perf_counter()
        su = read_secret_file(superuser_password_path(secrets))
        report = provision(pg, specs, secrets_dir=secrets, superuser_password=su)
        t3 = time.perf_counter()
        ready = probe_nodes(pg, specs, secrets_dir=secrets)
        t4 = time.perf_counter()
        again = provision(pg, specs, secrets_dir=secrets, superuser_password=su)
        t5 = time.perf_counter()
        assert report.changed and ready.ok and not again.changed
        times = {
            "bootstrap_s": t1 - t0,
            "start_s": t2 - t1,
            "provision_s": t3 - t2,
            "ready_s": t4 - t3,
            "cold_total_s": t4 - t0,
            "second_provision_s": t5 - t4,
        }
    finally:
        if started:
            control.pg_ctl_stop(bins, user, Path(pg.data_dir), mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    bins = control.find_binaries()
    user = control.server_user()
    runs = [one_run(args.nodes, bins, user) for _ in range(args.runs)]
    med = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    doc = {
        "bench": "pg_bootstrap",
        "nodes": args.nodes,
        "runs": args.runs,
        "postgres": bins.version,
        **med,
        "target_cold_total_s": 5.0,
        "max_cold_total_s": round(max(r["cold_total_s"] for r in runs), 3),
    }
    print(json.dumps(doc))
    print(
        f"\ncold bootstrap + provision of {args.nodes} nodes, PostgreSQL {bins.version}, "
        f"median of {args.runs}"
    )
    for key, value in med.items():
        print(f"  {key:<20} {value:7.3f} s")
    print(f"  {'target cold_total':<20} {5.0:7.3f} s")


if __name__ == "__main__":
    main()
