"""``sealfeed aggregator serve`` for real: each ASGI server, s6 readiness fd, SIGTERM."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The CLI gets a typed config built in-process through its seam (main(load_config=...)), so
# the test exercises the real CLI, server, sockets and signals.
SCRIPT = """
import sys
from sealfeed.config.model import (AggregatorConfig, ApplianceConfig, ChainConfig,
    ChainlinkConfig, ExporterConfig, NodesConfig, PostgresConfig, SourceConfig)
from sealfeed.secret import Secret

def fake_config(args):
    agg = AggregatorConfig(sources={"binance": SourceConfig(name="binance", base_url=sys.argv[1])})
    return ApplianceConfig(nodes=NodesConfig(total=1), chain=ChainConfig(1, "http://x", "ws://x"),
        postgres=PostgresConfig(), chainlink=ChainlinkConfig(email="a@b", password=Secret("p"),
        keystore_password=Secret("k")), aggregator=agg, exporter=ExporterConfig())

from sealfeed.cli import main
sys.exit(main(sys.argv[2:], load_config=fake_config))
"""


@pytest.fixture
def slow_binance() -> Iterator[str]:
    """A fake Binance answering after 1 s, on its own loop in a thread."""
    import asyncio
    import threading

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


@pytest.mark.slow
@pytest.mark.parametrize("server", ["granian", "uvicorn", "hypercorn"])
def test_serve_readiness_and_graceful_sigterm(
    server: str, free_port: Callable[[], int], slow_binance: str
) -> None:
    import threading

    port = free_port()
    rfd, wfd = os.pipe()
    cmd = [sys.executable, "-c", SCRIPT, slow_binance, "aggregator", "serve",
           "--server", server, "--port", str(port), "--notify-fd", str(wfd),
           "--config", "/dev/null"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, pass_fds=(wfd,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    os.close(wfd)
    try:
        ready, _, _ = select.select([rfd], [], [], 20)
        assert ready, "no readiness notification within 20 s"
        assert os.read(rfd, 16) == b"\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        # a request in flight (upstream takes 1 s) when SIGTERM arrives still gets its answer
        answer: dict[str, object] = {}

        def in_flight() -> None:
            url = f"http://127.0.0.1:{port}/quote/binance/BTC/USDT"
            with urllib.request.urlopen(url, timeout=10) as resp:
                answer["status"] = resp.status
                answer["price"] = json.loads(resp.read())["price"]

        client = threading.Thread(target=in_flight)
        client.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        # how fast it stops is bench/shutdown.py's business; these only bound the wait
        rc = proc.wait(timeout=60)
        client.join(60)
        assert answer == {"status": 200, "price": "1.5"}
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert rc == 0, err
        assert "Traceback" not in err
        assert '"event": "ready"' in err and '"event": "stopped"' in err
    finally:
        os.close(rfd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_fails_closed_without_a_verified_config(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sealfeed",
            "aggregator",
            "serve",
            "--config",
            str(tmp_path / "missing.json"),
            "--port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_sources_command_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sealfeed", "aggregator", "sources", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    names = [s["name"] for s in doc["sources"]]
    assert len(names) == 13 and "exchangerate-host" in names
    binance = next(s for s in doc["sources"] if s["name"] == "binance")
    assert (binance["rps"], binance["maxBatchSize"]) == (100, 500)


def test_fetch_command_against_a_fake(tmp_path: Path) -> None:
    import asyncio
    import threading

    from tests.fakes.exchanges import FakeExchange

    loop = asyncio.new_event_loop()
    fake = FakeExchange("finnhub", prices={("BTC", "USDT"): "67009.99"}, api_key="k-123")
    url = loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    key = tmp_path / "finnhub.key"
    key.write_text("k-123\n")
    key.chmod(0o600)
    try:

        def cli(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "sealfeed", "aggregator", "fetch", "finnhub",
                 "BTC/USDT", *extra, "--base-url", url, "--json"],
                capture_output=True, text=True, timeout=30, cwd=ROOT,
            )  # fmt: skip

        ok = cli("--api-key-file", str(key))
        assert ok.returncode == 0, ok.stderr
        doc = json.loads(ok.stdout)
        assert doc["prices"] == [{"pair": "BTC/USDT", "price": "67009.99"}]
        missing = cli("FOO/USDT", "--api-key-file", str(key))
        assert missing.returncode == 1  # one pair not found
        nokey = cli()
        assert nokey.returncode == 3 and "unauthorized" in json.loads(nokey.stdout)["error"]
        assert "k-123" not in ok.stdout + ok.stderr + nokey.stdout + nokey.stderr
        bad = cli("BTCUSDT")
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(fake.stop())
        loop.close()


@pytest.mark.parametrize("server", ["granian", "uvicorn", "hypercorn"])
def test_port_in_use_is_one_line_and_exit_3(server: str) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, "http://127.0.0.1:9", "aggregator", "serve",
             "--server", server, "--port", str(port), "--config", "/dev/null"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines()[-1] == (
        f"sealfeed: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in proc.stderr


def test_optional_servers_need_the_bench_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from sealfeed.aggregator import server
    from sealfeed.errors import InputError

    assert server.resolve_server("auto") == server.resolve_server(None) == "granian"
    monkeypatch.setattr(server.importlib.util, "find_spec", lambda name: None)
    for name in ("uvicorn", "hypercorn"):
        with pytest.raises(InputError) as err:
            server.resolve_server(name)
        msg = err.value.message
        assert "\n" not in msg and "'bench'" in msg and "sealfeed[bench]" in msg
    assert server.resolve_server("granian") == "granian"


def test_server_limits_follow_the_file_limit() -> None:
    import resource

    from sealfeed.aggregator.server import FD_RESERVE, ServerLimits, raise_nofile

    nofile = raise_nofile()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert nofile == soft and (hard == resource.RLIM_INFINITY or soft == hard)
    assert ServerLimits().resolved(20_000).max_connections == 20_000 - FD_RESERVE
    assert ServerLimits().resolved(100).max_connections == 64
    assert ServerLimits(max_connections=7).resolved(20_000).max_connections == 7
