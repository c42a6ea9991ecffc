#!/usr/bin/env python3
"""SIGTERM -> exit of the long-running services (conventions.md: "graceful shutdown within 10 s").

Each run starts the real service as s6 does (``sealfeed <component> serve --notify-fd``, its
typed configuration handed in through ``sealfeed.cli.main(load_config=...)``), waits for the
readiness newline, sends SIGTERM and measures until the process has exited:

* ``aggregator`` (granian, the shipped server) with one request in flight against a fake
  Binance that answers after 1 s (tests/fakes/exchanges.py): the request must still get its
  200, so the figure includes draining it;
* ``exporter`` sampling a real ``s6-svscan`` scandir (one ``sleep`` service), no push.

The 10 s ceiling is reported beside the worst run as a ratio. (These claims used to be
wall-clock asserts in tests/aggregator/test_serve.py and tests/exporter/test_serve.py.)

  uv run python bench/shutdown.py [--runs 5]

Prints one JSON line, then a human table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: conventions.md "Services": SIGTERM -> graceful shutdown within 10 s
CEILING_S = 10.0

WRAPPER = r"""
import json, sys
from sealfeed.config.model import *
from sealfeed.secret import Secret
spec = json.loads(sys.argv[1])
def load(args):
    agg = AggregatorConfig(sources={"binance": SourceConfig(name="binance",
                                                            base_url=spec["binance"])})
    return ApplianceConfig(nodes=NodesConfig(total=1), chain=ChainConfig(1, "http://x", "ws://x"),
        postgres=PostgresConfig(), chainlink=ChainlinkConfig(email="a@b", password=Secret("p"),
        keystore_password=Secret("k")), aggregator=agg,
        exporter=ExporterConfig(interval_ms=500))
from sealfeed.cli import main
sys.exit(main(sys.argv[2:], load_config=load))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def slow_binance() -> Iterator[str]:
    """A fake Binance answering after 1 s, on its own loop in a thread."""
    from tests.fakes.exchanges import FakeExchange

    loop = asyncio.new_event_loop()
    fake = FakeExchange("binance", prices={("BTC", "USDT"): "1.5"}, latency_s=1.0)
    url = loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(fake.stop())
        loop.close()


@contextmanager
def s6_scandir() -> Iterator[Path]:
    if shutil.which("s6-svscan") is None:
        raise SystemExit("s6-svscan not installed (apt-get install s6)")
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scandir"
        (scan / "sleeper").mkdir(parents=True)
        run = scan / "sleeper" / "run"
        run.write_text("#!/bin/sh\nexec sleep 1000\n")
        run.chmod(0o755)
        proc = subprocess.Popen(["s6-svscan", str(scan)], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while not (scan / "sleeper" / "supervise" / "status").exists():
            if time.monotonic() > deadline:
                raise SystemExit("s6-svscan did not start the sleeper")
            time.sleep(0.02)
        try:
            yield scan
        finally:
            subprocess.run(["s6-svscanctl", "-t", str(scan)], check=False, capture_output=True)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def one_run(spec: dict[str, Any], argv: list[str], in_flight_url: str | None) -> dict[str, Any]:
    rfd, wfd = os.pipe()
    cmd = [sys.executable, "-c", WRAPPER, json.dumps(spec), *argv, "--notify-fd", str(wfd)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SEALFEED_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(cmd, pass_fds=(wfd,), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(wfd)
    answer: dict[str, Any] = {}
    try:
        if not select.select([rfd], [], [], 60)[0] or os.read(rfd, 1) != b"\n":
            raise SystemExit(f"{argv[0]}: no readiness notification within 60 s")
        client = None
        if in_flight_url is not None:

            def request() -> None:
                with urllib.request.urlopen(in_flight_url, timeout=30) as resp:
                    answer["status"] = resp.status

            client = threading.Thread(target=request)
            client.start()
            time.sleep(0.3)  # the request is now waiting on the 1 s upstream
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        seconds = time.perf_counter() - t0
        if client is not None:
            client.join(30)
        return {"seconds": seconds, "exit_code": rc, "in_flight_status": answer.get("status")}
    finally:
        os.close(rfd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per service")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with slow_binance() as binance, s6_scandir() as scan:
        spec = {"binance": binance}
        for name in ("aggregator", "exporter"):
            runs = []
            for _ in range(args.runs):
                port = _free_port()
                if name == "aggregator":
                    argv = ["aggregator", "serve", "--server", "granian", "--port", str(port),
                            "--no-streams", "--config", "/dev/null"]  # fmt: skip
                    url = f"http://127.0.0.1:{port}/quote/binance/BTC/USDT"
                else:
                    argv = ["exporter", "serve", "--port", str(port), "--scandir", str(scan),
                            "--source-dir", "", "--config", "/dev/null"]  # fmt: skip
                    url = None
                runs.append(one_run(spec, argv, url))
            secs = [r["seconds"] for r in runs]
            results[name] = {
                "median_s": round(statistics.median(secs), 3),
                "max_s": round(max(secs), 3),
                "max_over_ceiling": round(max(secs) / CEILING_S, 3),
                "clean_exits": sum(r["exit_code"] == 0 for r in runs),
                "in_flight_answered": (
                    sum(r["in_flight_status"] == 200 for r in runs) if name == "aggregator"
                    else None
                ),
            }  # fmt: skip
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    doc = {"bench": "shutdown", "commit": commit, "runs": args.runs, "ceiling_s": CEILING_S,
           "services": results}  # fmt: skip
    print(json.dumps(doc))
    print(f"{'service':<12} {'median s':>9} {'max s':>7} {'max/10 s':>9} {'exit 0':>7} "
          f"{'in-flight 200':>14}")  # fmt: skip
    for name, r in results.items():
        answered = "-" if r["in_flight_answered"] is None else f"{r['in_flight_answered']}"
        print(f"{name:<12} {r['median_s']:>9} {r['max_s']:>7} {r['max_over_ceiling']:>9} "
              f"{r['clean_exits']:>4}/{args.runs} {answered:>14}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
