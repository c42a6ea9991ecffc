"""`sealfeed up` on a real s6-svscan: readiness, kill -9, restart budget, tampered config,
ordered shutdown, no leftovers. Components not on this branch are stand-ins
(tests/s6/standin.py: a real HTTP server that speaks the --notify-fd readiness protocol)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sealfeed.cli import main
from sealfeed.s6.up import Appliance, UpOptions
from tests.fixtures.s6 import s6_make_config

STANDIN = str(Path(__file__).with_name("standin.py"))
PY = sys.executable

pytestmark = pytest.mark.skipif(
    shutil.which("s6-svscan") is None,
    reason="SKIPPED LOUDLY: s6 not installed (apt-get install s6)",
)


class Rig:
    """Stand-in command lines + an Appliance on a temp state dir."""

    def __init__(self, tmp: Path, free_port: Callable[[], int]) -> None:
        self.state = tmp / "state"
        self.events = tmp / "events"
        self.events.touch()
        # ports below the ephemeral range: see _free_block
        self.free_port = lambda: _free_block(1) + 1
        self.app: Appliance | None = None

    def standin(
        self, name: str, *, port: int = 0, notify: bool = True, extra: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        argv: tuple[str, ...] = (
            PY,
            STANDIN,
            "--name",
            name,
            "--events",
            str(self.events),
            "--port",
            str(port),
        )
        if notify:
            argv += ("--notify-fd", "3")
        return argv + extra

    def oneshot(self, name: str, code: int = 0) -> tuple[str, ...]:
        return self.standin(name, notify=False, extra=("--exit", str(code)))

    def commands(self, *, nodes: bool, verify_exit: int = 0) -> dict[str, tuple[str, ...]]:
        pg_port = self.free_port()
        cmds = {
            "config-verify": self.oneshot("config-verify", verify_exit),
            "secrets-import": self.oneshot("secrets-import"),
            "attest": self.oneshot("attest"),
            "postgres-bootstrap": self.oneshot("postgres-bootstrap"),
            "postgres": self.standin("postgres", port=pg_port, notify=False),
            "postgres-check": (PY, "-m", "sealfeed", "s6", "probe", f"http://127.0.0.1:{pg_port}/"),
            "postgres-init": self.oneshot("postgres-init"),
            "price-aggregator": self.standin(
                "price-aggregator",
                port=self.free_port(),
                extra=("--say", "start Authorization: Bearer s6-test-api-password"),
            ),
            "process-metrics": self.standin("process-metrics", port=self.free_port()),
        }
        if nodes:
            cmds["chainlink-render"] = self.oneshot("chainlink-render")
            cmds["chainlink-node"] = self.standin("chainlink-node-{index}", port=0, notify=False)
            cmds["chainlink-node"] = (*cmds["chainlink-node"][:-1], "{api_port}")
        return cmds

    def start(self, cfg: Any, cmds: dict[str, tuple[str, ...]], **kw: Any) -> Appliance:
        users = {"postgres": None} | {f"chainlink-node-{i}": None for i in range(1, 17)}
        users |= kw.pop("users", {})
        opts = UpOptions(
            state_dir=self.state,
            commands=cmds,
            users=users,
            catchall=str(self.state.parent / "catchall.log"),
            chainlink_bin=None,
            **kw,
        )
        self.app = Appliance(cfg, opts)
        self.app.start()
        return self.app

    def started(self) -> list[str]:
        return [
            ln.split()[1] for ln in self.events.read_text().splitlines() if ln.startswith("start")
        ]

    def stopped(self) -> list[str]:
        return [
            ln.split()[1] for ln in self.events.read_text().splitlines() if ln.startswith("stop")
        ]

    def pid(self, name: str) -> int:
        assert self.app is not None
        from sealfeed.s6.supervise import read_supervise_status

        st = read_supervise_status(self.app.scandir / name)
        assert st is not None and st.up, f"{name} not up: {st}"
        return st.pid

    def wait_new_pid(self, name: str, old: int, timeout: float = 30.0) -> tuple[int, float]:
        assert self.app is not None
        from sealfeed.s6.supervise import read_supervise_status

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            st = read_supervise_status(self.app.scandir / name)
            if st is not None and st.up and st.pid != old:
                return st.pid, time.monotonic() - t0
            time.sleep(0.01)
        pytest.fail(f"{name} did not come back within {timeout}s")

    def finish(self) -> tuple[list[list[str]], list[int]]:
        assert self.app is not None
        layers = self.app.shutdown()
        left = self.app.leftovers()
        self.app.kill_leftovers(left)
        self.app.close()
        return layers, left


@pytest.fixture
def rig(tmp_path: Path, free_port: Callable[[], int]) -> Iterator[Rig]:
    r = Rig(tmp_path, free_port)
    yield r
    if r.app is not None and r.app.proc is not None and r.app.proc.poll() is None:
        r.finish()  # a failed test must not leave s6-svscan behind
    if r.app is not None:
        r.app.close()


def _free_block(n: int) -> int:
    """A base port whose base+1..base+n are all free, below the ephemeral range (32768+)
    so concurrent outgoing connections of other test runs cannot take them meanwhile."""
    import random
    import socket

    for _ in range(200):
        base = random.randrange(20_000, 32_000)
        try:
            for port in range(base + 1, base + n + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    pytest.fail("no free block of ports")


def _ledger(app: Appliance, name: str) -> tuple[int, int]:
    d = app.scandir / name
    return int((d / "restart-count").read_text()), int((d / "last-restart").read_text())


@pytest.mark.slow
def test_up_ready_kill9_status_and_ordered_shutdown(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _free_block(3)  # node API ports base+1..base+3
    cfg = s6_make_config(3, api_base_port=base)
    app = rig.start(cfg, rig.commands(nodes=True))
    assert app.wait_ready(60), app.cause()
    # every service of the rendered manifest (the description the image boots from too) ran
    manifest = json.loads((app.tree_root / "sealfeed-services.json").read_text())
    loggers = {s["logger"] for s in manifest["services"] if s["logger"]}
    assert set(app.ready_at) == {s["name"] for s in manifest["services"]} - loggers
    # the oracles started only after the bootstrap node was ready
    assert app.ready_at["chainlink-node-1"] <= app.ready_at["chainlink-node-2"]
    started = rig.started()
    assert (
        started.index("config-verify")
        < started.index("postgres-bootstrap")
        < started.index("postgres")
    )
    assert (
        started.index("postgres-init")
        < started.index("chainlink-render")
        < started.index("chainlink-node-1")
    )

    # kill -9 -> restarted (how fast is a benchmark's business, not a test's), counted in the
    # ledger the exporter reads
    old = rig.pid("price-aggregator")
    before = time.time()
    os.kill(old, signal.SIGKILL)
    new, _took = rig.wait_new_pid("price-aggregator", old)
    deadline = time.monotonic() + 5
    while (
        not (app.scandir / "price-aggregator" / "restart-count").exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    count, last = _ledger(app, "price-aggregator")
    assert count == 1 and last >= int(before)
    assert app.cause() is None
    assert app.wait_ready(30)  # the new run signalled readiness too

    # sealfeed status reads s6's supervise records
    assert main(["status", "--state-dir", str(rig.state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    states = {s["name"]: s for s in doc["services"]}
    agg = states["price-aggregator"]
    assert agg["pid"] == new and agg["restarts"] == 1 and agg["state"] == "up"
    # why it restarted: s6-supervise's own record of the death (supervise/death_tally)
    assert agg["last_exit_signal"] == "SIGKILL" and agg["last_exit_code"] == 137
    assert before - 1 <= agg["last_exit_time"] <= time.time()
    assert states["process-metrics"]["last_exit_code"] is None  # never died
    assert states["chainlink-node-3"]["ready"] and states["postgres"]["up"]
    assert states["config-verify"]["type"] == "oneshot"
    assert states["config-verify"]["state"] == "done"
    assert "chainlink-node-3/log" in states
    assert doc["state"] == "ready" and doc["owner"]["pid"] == os.getpid()
    # every service of the manifest, in start order, each logger after its service
    names = [s["name"] for s in doc["services"]]
    assert names.index("config-verify") < names.index("postgres") < names.index("postgres/log")
    assert main(["status", "--state-dir", str(rig.state)]) == 0
    human = capsys.readouterr().out
    assert "appliance: ready -- sealfeed up pid" in human
    assert "SIGKILL (137) at " in human

    # logs are written by s6-log, with the secret redacted by the pipeline
    log = app.state / "log" / "price-aggregator" / "current"  # local default: STATE/log
    deadline = time.monotonic() + 5
    while (
        "Authorization" not in (log.read_text() if log.exists() else "")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    text = log.read_text()
    assert "Authorization: ***" in text and "s6-test-api-password" not in text

    layers, left = rig.finish()
    assert left == [], f"processes left behind: {left}"
    stopped = rig.stopped()
    assert stopped.index("chainlink-node-3") < stopped.index("chainlink-node-1")
    assert stopped.index("chainlink-node-1") < stopped.index("postgres")
    assert stopped.index("chainlink-node-1") < stopped.index("price-aggregator")
    assert app.proc is not None and app.proc.poll() is not None
    assert app.result(layers, left).exit_code == 0
    # stops we asked for are not crashes: nothing else was counted
    assert not (app.scandir / "process-metrics" / "restart-count").exists()
    assert _ledger(app, "price-aggregator")[0] == 1


@pytest.mark.slow
def test_restart_budget_exhausted_stops_appliance(rig: Rig) -> None:
    cfg = s6_make_config(1, max_restarts=3, window_seconds=300)
    app = rig.start(cfg, rig.commands(nodes=False))
    assert app.wait_ready(60)
    pid = rig.pid("process-metrics")
    for n in range(4):
        os.kill(pid, signal.SIGKILL)
        if n < 3:
            pid, _ = rig.wait_new_pid("process-metrics", pid)
    app.wait(timeout=15)
    cause = app.cause()
    assert cause is not None, "budget exhausted but no cause recorded"
    assert cause["service"] == "process-metrics"
    assert cause["signal"] == "SIGKILL" and cause["container_exit_code"] == 137
    assert "restart budget exhausted (4 exits within 300 s, max 3 restarts)" in str(cause["line"])
    assert (app.results / "exitcode").read_text() == "137\n"
    assert _ledger(app, "process-metrics")[0] == 3
    # finish exited 125: s6-supervise does not restart the exhausted service
    time.sleep(1.5)
    from sealfeed.s6.supervise import read_supervise_status

    st = read_supervise_status(app.scandir / "process-metrics")
    assert st is not None and not st.up and not st.want_up
    layers, left = rig.finish()
    assert left == []
    assert app.result(layers, left).exit_code == 137
    catchall = (rig.state.parent / "catchall.log").read_text()
    assert "appliance stopped: process-metrics: restart budget exhausted" in catchall


@pytest.mark.slow
def test_crashes_spread_beyond_the_window_keep_running(rig: Rig) -> None:
    cfg = s6_make_config(1, max_restarts=1, window_seconds=2)
    app = rig.start(cfg, rig.commands(nodes=False))
    assert app.wait_ready(60)
    pid = rig.pid("price-aggregator")
    for _ in range(3):
        os.kill(pid, signal.SIGKILL)
        pid, _took = rig.wait_new_pid("price-aggregator", pid)
        time.sleep(2.2)  # next crash falls outside the 2 s window
    assert app.cause() is None
    assert rig.pid("price-aggregator") == pid
    assert _ledger(app, "price-aggregator")[0] == 3
    _, left = rig.finish()
    assert left == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "why"),
    [(1, "the configuration signature does not verify"), (2, "the configuration is malformed")],
)
def test_tampered_config_only_config_verify_runs(rig: Rig, code: int, why: str) -> None:
    cfg = s6_make_config(2)
    cmds = rig.commands(nodes=True, verify_exit=code)
    app = rig.start(cfg, cmds)
    assert not app.wait_ready(20)
    cause = app.cause()
    assert cause is not None and cause["service"] == "config-verify"
    assert why in str(cause["line"]) and cause["container_exit_code"] == code
    time.sleep(0.3)  # give anything that would (wrongly) start a chance to
    assert rig.started() == ["config-verify"]
    layers, left = rig.finish()
    assert left == []
    assert app.result(layers, left).exit_code == code
    assert (app.results / "exitcode").read_text() == f"{code}\n"


def test_chainlink_nodes_skipped_without_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cfg = s6_make_config(4)
    app = Appliance(cfg, UpOptions(state_dir=tmp_path / "st", users={"postgres": None}))  # type: ignore[arg-type]
    app.prepare()
    app.close()
    skipped = {s.service: s.reason for s in app.skipped}
    assert set(skipped) == {"chainlink-render"} | {f"chainlink-node-{i}" for i in range(1, 5)}
    assert all("no `chainlink` binary on PATH" in r for r in skipped.values())
    assert not (app.scandir / "chainlink-node-1").exists()
    assert (app.scandir / "price-aggregator" / "run").exists()
    # shown by `sealfeed status` from the start, not only after the run
    record = json.loads((app.state / "run" / "sealfeed-up.json").read_text())
    assert {s["service"]: s["type"] for s in record["skipped"]} == {
        "chainlink-render": "oneshot",
        **{f"chainlink-node-{i}": "longrun" for i in range(1, 5)},
    }
    assert record["stopped"] is None


def _pg_bin() -> Path | None:
    from sealfeed.s6.up import detect_postgres_bin_dir

    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    d = detect_postgres_bin_dir()
    return Path(d) if d else None


@pytest.mark.slow
def test_up_with_real_postgresql(rig: Rig) -> None:
    """The real server, run by its rendered longrun (fast shutdown, pg_isready readiness);
    bootstrap/provision are stand-ins until `sealfeed pg` lands (initdb / psql)."""
    import subprocess
    import tempfile

    pg_bin = _pg_bin()
    if pg_bin is None or not (pg_bin / "initdb").exists():
        pytest.skip("SKIPPED LOUDLY: PostgreSQL not installed (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    # the server's user must reach its data dir: not below root's 0700 pytest tmp dir
    base = Path(tempfile.mkdtemp(prefix="sealfeed-s6-pg-", dir="/tmp"))
    try:
        base.chmod(0o755)
        data, sock = base / "data", base / "sock"
        sock.mkdir()
        if as_root:
            shutil.chown(sock, "postgres", "postgres")
        drop = ("s6-setuidgid", "postgres") if as_root else ()
        port = rig.free_port()
        cfg = s6_make_config(1, data_dir=str(data), socket_dir=str(sock), pg_port=port)
        cmds = rig.commands(nodes=False)
        del cmds["postgres"], cmds["postgres-check"]  # the real ones, as rendered
        chown = f"chown postgres:postgres {data} && " if as_root else ""
        bootstrap = (
            f"mkdir -p {data} && {chown}"
            f"{' '.join(drop)} {pg_bin / 'initdb'} -D {data} -A trust -U postgres --no-sync -E UTF8"
            " >/dev/null"
        )
        cmds["postgres-bootstrap"] = ("/bin/sh", "-c", bootstrap)
        cmds["postgres-init"] = (
            str(pg_bin / "psql"), "-qAt", "-h", str(sock), "-p", str(port), "-U", "postgres",
            "-c", "select 1",
        )  # fmt: skip
        app = rig.start(cfg, cmds, users={"postgres": "postgres" if as_root else None})
        assert app.wait_ready(90), (app.cause(), (rig.state.parent / "catchall.log").read_text())
        pg_pid = rig.pid("postgres")
        out = subprocess.run(
            [str(pg_bin / "psql"), "-qAt", "-h", str(sock), "-p", str(port), "-U", "postgres",
             "-c", "select pg_backend_pid() > 0, current_setting('listen_addresses')"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == "t|"  # unix socket only
        if as_root:
            assert Path(f"/proc/{pg_pid}/status").read_text().count("postgres") >= 1
            uid = int(Path(f"/proc/{pg_pid}/status").read_text().split("Uid:")[1].split()[0])
            assert uid != 0
        layers, left = rig.finish()
        assert left == [], f"left behind: {left}"
        assert not (data / "postmaster.pid").exists()  # the server shut down cleanly
        assert app.result(layers, left).exit_code == 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_leftover_detection_catches_an_escaped_child(rig: Rig) -> None:
    """The no-orphans check is not vacuous: a child that outlives its service is found
    (by session/process group, even after it lost its parent) and killed."""
    cfg = s6_make_config(1)
    cmds = rig.commands(nodes=False)
    marker = rig.state.parent / "escaped.pid"
    inner = " ".join(shlex.quote(a) for a in cmds["process-metrics"])
    # a stray grandchild that ignores SIGTERM, as a badly written daemon would leave
    cmds["process-metrics"] = (
        "/bin/sh",
        "-c",
        f"(trap '' TERM; exec sleep 300) & echo $! > {shlex.quote(str(marker))}; exec {inner}",
    )
    app = rig.start(cfg, cmds)
    assert app.wait_ready(60)
    stray = int(marker.read_text())
    app.shutdown()
    left = app.leftovers(grace=0.5)
    assert stray in left
    app.kill_leftovers(left)
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{stray}").exists()
        or "Z" in Path(f"/proc/{stray}/stat").read_text().split()[2]
    )


@pytest.mark.slow
def test_second_up_is_refused_and_an_orphaned_tree_is_named_and_stops_in_order(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live `up` owns its state dir: a second one is refused, naming it. Once that owner
    is gone (its lock released, as a kill -9 would), the tree left behind is *orphaned*:
    `up` and `status` name its processes and say how to stop it, and that command (SIGTERM
    to s6-svscan, its .s6-svscan/SIGTERM script) stops it in reverse dependency order."""
    from sealfeed.errors import InputError

    cfg = s6_make_config(2, api_base_port=_free_block(2))
    app = rig.start(cfg, rig.commands(nodes=True))
    assert app.wait_ready(60)
    second = Appliance(cfg, app.opts)  # type: ignore[arg-type]
    with pytest.raises(InputError) as err:
        second.prepare()
    assert f"already running on this state dir (pid {os.getpid()}, since " in err.value.message
    assert "s6-svscanctl" not in err.value.message  # never suggest stopping a healthy one
    tree_before = sorted((p, p.stat().st_mtime_ns) for p in app.scandir.rglob("run"))

    assert app.lock is not None and app.proc is not None
    app.lock.release()  # as if this `up` had been killed (its tree did not die with it)
    with pytest.raises(InputError) as err:
        second.prepare()
    svscan = app.proc.pid
    assert f"kill -TERM {svscan} (s6-svscan" in err.value.message
    assert (
        f"{svscan} (s6-svscan)" in err.value.message and "nothing was changed" in err.value.message
    )
    assert sorted((p, p.stat().st_mtime_ns) for p in app.scandir.rglob("run")) == tree_before

    assert main(["status", "--state-dir", str(rig.state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state"] == "orphaned" and doc["owner"] is None
    assert doc["orphans"]["svscan_pid"] == svscan
    assert svscan in {p["pid"] for p in doc["orphans"]["processes"]}

    os.kill(svscan, signal.SIGTERM)  # the suggested command
    app.proc.wait(timeout=60)
    stopped = rig.stopped()  # shutdown_layers: node 2, node 1, ..., postgres, the rest
    assert stopped.index("chainlink-node-2") < stopped.index("chainlink-node-1")
    assert stopped.index("chainlink-node-1") < stopped.index("postgres")
    assert stopped.index("postgres") < stopped.index("price-aggregator")
    assert app.leftovers(grace=5) == []
    assert main(["status", "--state-dir", str(rig.state), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"


@pytest.mark.slow
def test_cause_carries_the_failing_services_own_reason(rig: Rig) -> None:
    """Budget exhausted by a service that says why it exits (as a sealfeed component does
    when its configuration no longer verifies): the cause line ends with those words."""
    cfg = s6_make_config(1, max_restarts=1, window_seconds=300)
    cmds = rig.commands(nodes=False)
    said = "sealfeed: /sp/configurations/configuration.json: signature does not verify"
    cmds["process-metrics"] = rig.standin("process-metrics", extra=("--say", said, "--exit", "1"))
    app = rig.start(cfg, cmds)
    app.wait(timeout=60)
    cause = app.cause()
    assert cause is not None and cause["service"] == "process-metrics", cause
    assert cause["reason"] == said
    assert cause["container_exit_code"] == 1 and cause["signal"] is None
    line = str(cause["line"])
    assert line.startswith(
        "sealfeed: appliance stopped: process-metrics: restart budget exhausted "
        "(2 exits within 300 s, max 1 restarts) (exit 1) at "
    )
    assert f"; its last words: {said}; container exit code 1" in line
    assert (app.results / "cause").read_text() == line + "\n"
    layers, left = rig.finish()
    assert left == [] and app.result(layers, left).exit_code == 1
