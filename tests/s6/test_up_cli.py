"""`sealfeed up` / `sealfeed status` through the CLI: real s6-svscan, real processes; the
configuration is handed in through ``main(load_config=...)`` where a test is about what
comes after it, and the services are stand-ins (tests/s6/standin.py) where a test is about
supervision rather than a component."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealfeed.cli import main
from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import VerificationError
from sealfeed.s6.statedir import MARKER_ENV, ROOT_DEFAULT, default_state_dir, tree_processes
from tests.fixtures.s6 import s6_make_config
from tests.s6.test_up import STANDIN, _free_block

NO_CHAINLINK_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = pytest.mark.skipif(
    shutil.which("s6-svscan") is None,
    reason="SKIPPED LOUDLY: s6 not installed (apt-get install s6)",
)


@pytest.fixture
def keep_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def _cmd(service: str, argv: list[str]) -> list[str]:
    return ["--command", f"{service}={shlex.join(argv)}"]


@pytest.mark.slow
def test_up_cli_exit_when_ready(
    tmp_path: Path,
    reachable_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keep_signals: None,
) -> None:
    monkeypatch.setenv("PATH", "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin")  # no chainlink
    events = tmp_path / "events"

    def standin(name: str, *extra: str) -> list[str]:
        return [sys.executable, STANDIN, "--name", name, "--events", str(events), *extra]

    st = reachable_tmp / "st"
    argv = ["up", "--config", "c.json", "--state-dir", str(st), "--json"]
    argv += ["--exit-when-ready"]
    argv += _cmd("config-verify", standin("config-verify", "--exit", "0"))
    argv += _cmd("secrets-import", ["true"]) + _cmd("attest", ["true"])
    argv += _cmd("postgres-bootstrap", ["true"])
    argv += _cmd("postgres-init", ["true"])
    # runs as `postgres` when the test runs as root: a program that account may execute
    argv += _cmd("postgres", ["sleep", "1000"]) + _cmd("postgres-check", ["true"])
    for svc in ("price-aggregator", "process-metrics"):
        port = str(_free_block(1) + 1)
        argv += _cmd(svc, standin(svc, "--port", port, "--notify-fd", "3"))
    rc = main(argv, load_config=lambda args: s6_make_config(2))
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert rc == 0, doc
    assert doc["ok"] and doc["exit_code"] == 0 and doc["cause"] is None
    assert doc["ready_seconds"] is not None and doc["leftover_processes"] == []
    skipped = {s["service"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"chainlink-render", "chainlink-node-1", "chainlink-node-2"}
    assert "no `chainlink` binary on PATH" in skipped["chainlink-node-1"]
    assert doc["shutdown_layers"][0] == ["postgres-init"]

    # progress: the state dir first, skipped services up front, each service as it is ready
    lines = err.splitlines()
    assert lines[0] == f"sealfeed up: state dir {st}"
    assert (
        "sealfeed up: skipped chainlink-render, chainlink-node-1, chainlink-node-2: no `chainlink`"
        in err
    )
    assert any(ln.startswith("sealfeed up: ready: price-aggregator (") for ln in lines)
    assert "sealfeed up: all services ready after" in err
    assert f"status: sealfeed status --state-dir {st}" in err

    # status after the run: everything stopped, still readable, the skipped ones with why
    assert main(["status", "--state-dir", str(st)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"appliance: stopped (state dir {st})\n")
    assert "price-aggregator" in out and "RESTARTS" in out
    assert "skipped chainlink-render, chainlink-node-1, chainlink-node-2: no `chainlink`" in out
    assert main(["status", "--state-dir", str(st), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["last_run"]["exit_code"] == 0 and doc["last_run"]["stopped"]
    states = {x["name"]: x for x in doc["services"]}
    assert states["price-aggregator"]["state"] == "stopped"
    assert states["chainlink-node-2"]["state"] == "skipped"
    assert doc["attestation"]["attested"] is False  # the stand-in attest step wrote nothing


def test_up_cli_rejected_config_records_cause(
    reachable_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def reject(args: object) -> ApplianceConfig:
        raise VerificationError("signature does not verify", location="c.json")

    st = reachable_tmp / "st"
    assert main(["up", "--config", "c.json", "--state-dir", str(st)], load_config=reject) == 1
    assert "signature does not verify" in capsys.readouterr().err
    cause = json.loads((st / "run/s6-linux-init-container-results/cause.json").read_text())
    assert cause["service"] == "config-verify" and cause["container_exit_code"] == 1
    assert not (st / "run" / "service").exists()  # nothing was rendered or started


def test_up_cli_bad_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--state-dir", str(tmp_path), "--command", "nonsense"]) == 2
    assert "SERVICE=CMDLINE" in capsys.readouterr().err


def test_up_cli_demo_flags_need_embedded_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["up", "--config", "c.json", "--state-dir", str(tmp_path / "st")]
    assert main([*argv, "--source-url", "binance=http://127.0.0.1:1"]) == 2
    assert "priceAggregatorConfig.sources.NAME.baseUrl" in capsys.readouterr().err
    assert main([*argv, "--embedded-defaults", "--source-url", "binance"]) == 2
    assert "SOURCE=http(s)://HOST:PORT" in capsys.readouterr().err
    assert not (tmp_path / "st").exists()  # usage errors come before anything is created


def test_default_state_dir_is_per_user() -> None:
    assert default_state_dir({}, 1000, "/home/ann") == Path("/home/ann/.local/state/sealfeed/up")
    xdg = {"XDG_STATE_HOME": "/srv/state"}
    assert default_state_dir(xdg, 1000, "/home/ann") == Path("/srv/state/sealfeed/up")
    # a relative XDG_STATE_HOME is invalid (XDG Base Directory spec) and ignored
    rel = {"XDG_STATE_HOME": "state"}
    assert default_state_dir(rel, 1000, "/home/ann") == Path("/home/ann/.local/state/sealfeed/up")
    # root's home is 0700: PostgreSQL's account could not reach a state dir below it
    assert default_state_dir({}, 0, "/root") == Path(ROOT_DEFAULT)
    assert default_state_dir(xdg, 0, "/root") == Path("/srv/state/sealfeed/up")


@pytest.mark.skipif(os.geteuid() != 0, reason="postgres runs as another account only as root")
def test_state_dir_postgres_cannot_reach_is_refused_up_front(
    reachable_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("SKIPPED LOUDLY: no `postgres` account (apt-get install postgresql)")
    closed = reachable_tmp / "private"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    st = closed / "deeper" / "state"
    assert main(["up", "--embedded-defaults", "--state-dir", str(st)]) == 2
    err = capsys.readouterr().err
    assert f"sealfeed: {closed}: the `postgres` account cannot reach {st}: {closed} is mode " in err
    assert "drwx------ (0700, owner root, group root)" in err
    assert f"chmod o+x {closed}" in err
    assert list(closed.iterdir()) == []  # nothing was created


def test_status_and_up_name_an_orphaned_process(
    reachable_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process of an earlier `up` still runs (it carries the state dir's marker) and no
    `up` owns the state dir: status names it and how to stop it; up refuses, touching
    nothing."""
    st = reachable_tmp / "st"
    (st / "config").mkdir(parents=True)
    (st / "config" / "configuration.json").write_text("{}\n")
    before = (st / "config" / "configuration.json").stat().st_mtime_ns
    stray = subprocess.Popen(
        ["sleep", "300"], env={**os.environ, MARKER_ENV: str(st)}, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        while not tree_processes(st) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert main(["status", "--state-dir", str(st)]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"appliance: orphaned (state dir {st})")
        assert "orphaned: 1 processes of an earlier `sealfeed up` are still running " in out
        assert f"{stray.pid} (sleep)" in out
        assert f"nothing supervises them any more; stop them with: kill {stray.pid}" in out

        assert main(["up", "--embedded-defaults", "--state-dir", str(st)]) == 2
        err = capsys.readouterr().err
        assert f"kill {stray.pid}" in err and "nothing was changed" in err
        assert (st / "config" / "configuration.json").read_text() == "{}\n"
        assert (st / "config" / "configuration.json").stat().st_mtime_ns == before
        assert not (st / "config" / "local.pem").exists()
        assert not (st / "run").exists()
    finally:
        stray.kill()
        stray.wait()


@pytest.mark.slow
def test_kill_9_of_up_stops_its_tree_and_sweeps_escaped_children(
    reachable_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of `sealfeed up`: the kernel tells s6-svscan (PR_SET_PDEATHSIG), which stops
    every service in order; its finish script then kills what a service left behind (a
    child that escaped and ignores SIGTERM) and says so. Nothing of the tree is left."""
    st = reachable_tmp / "st"
    events = reachable_tmp / "events"
    escaped = reachable_tmp / "escaped.pid"

    def standin(name: str, *extra: str) -> list[str]:
        return [sys.executable, STANDIN, "--name", name, "--events", str(events), *extra]

    metrics = shlex.join(standin("process-metrics", "--port", str(_free_block(1) + 1),
                                 "--notify-fd", "3"))  # fmt: skip
    argv = [sys.executable, "-m", "sealfeed", "up", "--embedded-defaults", "--nodes", "2",
            "--state-dir", str(st)]  # fmt: skip
    argv += _cmd("postgres-bootstrap", ["true"]) + _cmd("postgres-init", ["true"])
    argv += _cmd("postgres", ["sleep", "1000"]) + _cmd("postgres-check", ["true"])
    argv += _cmd("price-aggregator", standin("price-aggregator", "--port",
                                             str(_free_block(1) + 1), "--notify-fd", "3"))  # fmt: skip
    argv += _cmd("process-metrics", ["/bin/sh", "-c",
        f"(trap '' TERM; exec sleep 300) & echo $! > {shlex.quote(str(escaped))}; exec {metrics}"])  # fmt: skip
    up = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": NO_CHAINLINK_PATH + ":" + os.path.dirname(sys.executable)},
    )
    assert up.stderr is not None
    seen: list[str] = []
    try:
        for line in up.stderr:
            seen.append(line)
            if "all services ready" in line:
                break
        assert any("all services ready" in x for x in seen), "".join(seen[-30:])
        stray = int(escaped.read_text())
        assert any(p.pid == stray for p in tree_processes(st))
        os.kill(up.pid, signal.SIGKILL)
        up.wait(timeout=10)
        deadline = time.monotonic() + 60
        while tree_processes(st) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_processes(st) == [], "the tree outlived its `sealfeed up`"
    finally:
        if up.poll() is None:
            up.kill()
        up.wait()
    rest = up.stderr.read()
    assert "s6-svscan got SIGTERM: stopping every service in reverse dependency order" in rest
    assert f"orphaned tree: stopping leftover process {stray} (sleep)" in rest
    assert "cannot open" not in rest  # the sweep reads /proc quietly
    stops = [ln.split()[1] for ln in events.read_text().splitlines() if ln.startswith("stop")]
    assert set(stops) == {"price-aggregator", "process-metrics"}  # graceful SIGTERM for each

    assert main(["status", "--state-dir", str(st), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "stopped" and doc["orphans"] is None
    assert doc["swept_leftovers"] == [f"{stray} sleep"]
    assert doc["last_run"]["stopped"] is None  # it never got to record its end
    assert main(["status", "--state-dir", str(st)]) == 0
    assert "ended without shutting down (killed?)" in capsys.readouterr().out
