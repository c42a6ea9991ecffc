"""``sealfeed up``: the whole appliance on an ordinary machine, under a real s6-svscan.

render (pure) -> write the s6-rc source tree -> ``sealfeed s6 check`` -> convert to a scandir
(:mod:`sealfeed.s6.local`) -> ``s6-svscan`` in its own session -> wait until every service is
ready -> run until SIGTERM/SIGINT or until a finish/oneshot script records a cause -> stop
layer by layer in reverse dependency order -> stop s6-svscan -> make sure no process is left.

State directory layout (mirrors the image's paths)::

    <state>/etc/s6-overlay/                      rendered s6-rc source tree
    <state>/run/service/<name>/                  scandir = restart ledgers (design §2.5)
    <state>/run/s6-linux-init-container-results/ exitcode, cause, cause.json
    <state>/log/<name>/                          s6-log output (unless --log-dir)
    <state>/up.pid
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import ExternalError, InputError
from sealfeed.s6.check import check_tree
from sealfeed.s6.graph import CHAINLINK_RENDER, NODE_COMMAND_KEY, build_services, shutdown_layers
from sealfeed.s6.hooks import read_cause
from sealfeed.s6.local import local_users, scandir_path, scandir_tree
from sealfeed.s6.model import RenderOptions, ServiceDef, Skipped
from sealfeed.s6.render import render_services
from sealfeed.s6.runtime import HALT_WATCH, local_runtime
from sealfeed.s6.supervise import read_supervise_status
from sealfeed.s6.tree import write_tree

#: environment marker inherited by every process of the tree: how leftovers are found even
#: if one of them started its own session
MARKER_ENV = "SEALFEED_UP_STATE"
POLL = 0.05


def detect_postgres_bin_dir() -> str | None:
    """Debian's newest /usr/lib/postgresql/<major>/bin, else None (PATH)."""
    if shutil.which("postgres"):
        return None
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    return dirs[-1] if dirs else None


@dataclass(frozen=True)
class UpOptions:
    state_dir: Path
    config_path: str = "/sp/configurations/configuration.json"
    pubkey_path: str | None = None
    secrets_dir: str | None = None
    #: None: look for `chainlink` on PATH
    chainlink_bin: str | None = None
    #: per-service command overrides (see RenderOptions.commands)
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sealfeed_argv: tuple[str, ...] = (sys.executable, "-m", "sealfeed")
    log_dir: str | None = None
    postgres_bin_dir: str | None = None
    ready_timeout: float = 120.0
    #: per-service account override (local mode as root), merged over the defaults
    users: Mapping[str, str | None] = field(default_factory=dict)
    #: where s6-svscan's own output (oneshots, finish lines) goes; None = inherit stderr
    catchall: str | None = None
    log_file_size: int = 1024 * 1024
    log_files: int = 5


@dataclass
class UpResult:
    exit_code: int
    cause: dict[str, Any] | None
    skipped: list[Skipped]
    ready_seconds: float | None
    ready_at: dict[str, float]
    shutdown_layers: list[list[str]]
    leftovers: list[int]
    state_dir: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "cause": self.cause,
            "skipped": [{"service": s.service, "reason": s.reason} for s in self.skipped],
            "ready_seconds": self.ready_seconds,
            "ready_at": self.ready_at,
            "shutdown_layers": self.shutdown_layers,
            "leftover_processes": self.leftovers,
            "state_dir": self.state_dir,
        }


class Appliance:
    """One local run. ``start()``, ``wait_ready()``, ``wait()``, ``shutdown()``."""

    def __init__(self, cfg: ApplianceConfig, opts: UpOptions) -> None:
        self.cfg = cfg
        self.opts = opts
        self.state = Path(opts.state_dir).resolve()
        #: the same description the image's /init derives its paths from (runtime.py)
        self.runtime = local_runtime(self.state)
        self.tree_root = Path(self.runtime.tree_root)
        self.scandir = Path(self.runtime.scandir)
        assert self.scandir == scandir_path(self.state)
        self.results = Path(self.runtime.results_dir)
        self.skipped: list[Skipped] = []
        self.services: tuple[ServiceDef, ...] = ()
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_at: dict[str, float] = {}
        self.stop_requested = threading.Event()
        self._sessions: set[int] = set()
        self._catchall: IO[bytes] | None = None
        self.stop_times: list[tuple[list[str], float]] = []

    # -- preparation (pure render + atomic writes) ---------------------------------------
    def render_options(self) -> RenderOptions:
        o = self.opts
        chainlink = o.chainlink_bin or shutil.which("chainlink")
        overridden = NODE_COMMAND_KEY in o.commands or any(
            k.startswith("chainlink-node-") for k in o.commands
        )
        include_nodes = bool(chainlink) or overridden
        if o.chainlink_bin and not (os.access(o.chainlink_bin, os.X_OK)):
            raise InputError(
                f"--chainlink-bin {o.chainlink_bin} is not an executable file",
                location="--chainlink-bin",
            )
        if not include_nodes:
            why = "no `chainlink` binary on PATH (pass --chainlink-bin); not started, not faked"
            self.skipped = [Skipped(CHAINLINK_RENDER, why)] + [
                Skipped(s.service, why) for s in self.cfg.nodes.specs()
            ]
        as_root = os.geteuid() == 0
        assert self.runtime.halt == HALT_WATCH
        base = self.runtime.render_options(
            sealfeed_argv=o.sealfeed_argv,
            config_path=o.config_path,
            pubkey_path=o.pubkey_path,
            secrets_dir=o.secrets_dir,
            log_dir=o.log_dir or str(self.state / "log"),
            log_file_size=o.log_file_size,
            log_files=o.log_files,
            chainlink_bin=chainlink or "chainlink",
            include_nodes=include_nodes,
            postgres_bin_dir=o.postgres_bin_dir or detect_postgres_bin_dir(),
            drop_privileges=as_root,
            commands=dict(o.commands),
        )
        if not as_root:
            return base
        names = [s.name for s in build_services(self.cfg, base)]
        users = {**local_users(self.cfg, names), **o.users}
        if users.get("postgres") is None and "postgres" not in o.users:
            raise ExternalError(
                "running as root and there is no `postgres` user: PostgreSQL refuses to run "
                "as root (create the user or run `sealfeed up` as an ordinary user)"
            )
        return RenderOptions(**{**base.__dict__, "users": users})

    def prepare(self) -> None:
        self._refuse_if_running()
        ropts = self.render_options()
        self.services = build_services(self.cfg, ropts)
        tree = render_services(self.services, self.cfg, ropts)
        write_tree(tree, self.tree_root)
        problems = check_tree(self.tree_root)
        if problems:
            raise InputError(
                "rendered tree does not check: " + "; ".join(map(str, problems)),
                location=str(self.tree_root),
            )
        write_tree(scandir_tree(self.tree_root), self.scandir)
        shutil.rmtree(self.results, ignore_errors=True)  # a new boot: no old cause
        self.results.mkdir(parents=True)
        Path(ropts.log_dir or "").mkdir(parents=True, exist_ok=True)

    def _refuse_if_running(self) -> None:
        control = self.scandir / ".s6-svscan" / "control"
        try:
            # a FIFO opened for writing without a reader fails with ENXIO: nobody listens
            fd = os.open(control, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            pass
        else:
            os.close(fd)
            raise InputError(
                "an s6-svscan is still running on this scandir (a previous `sealfeed up` "
                f"was killed?); stop it with: s6-svscanctl -t {self.scandir}",
                location=str(self.scandir),
            )
        pidfile = self.state / "up.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
            if pid != os.getpid():
                os.kill(pid, 0)
                raise InputError(
                    f"sealfeed up (pid {pid}) is already running on this state dir",
                    location=str(self.state),
                )

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        if shutil.which("s6-svscan") is None:
            raise ExternalError("s6-svscan not found (Debian: apt-get install s6 execline)")
        self.prepare()
        out: IO[bytes] | None = None
        if self.opts.catchall:
            out = self._catchall = open(self.opts.catchall, "ab")  # noqa: SIM115
        env = {
            **os.environ,
            MARKER_ENV: str(self.state),
            # where the exporter finds the live scandir and the source tree (the image's
            # /init exports the same variables for its own paths)
            **self.runtime.service_env(),
        }
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            ["s6-svscan", str(self.scandir)],
            stdin=subprocess.DEVNULL,
            # services' own chatter is diagnostics: never on `up`'s stdout (--json is one doc)
            stdout=out if out is not None else 2,
            stderr=out,
            env=env,
            start_new_session=True,
        )
        self._sessions.add(self.proc.pid)
        (self.state / "up.pid").write_text(f"{os.getpid()}\n")
        deadline = time.monotonic() + 10
        while not (self.scandir / ".s6-svscan" / "control").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ExternalError(f"s6-svscan did not start on {self.scandir}")
            time.sleep(0.02)

    @property
    def top_services(self) -> list[str]:
        return [s.name for s in self.services if s.type != "bundle" and not s.is_logger]

    def _track(self) -> None:
        """Remember every service session (s6-supervise makes each run a session leader)."""
        for name in self.top_services:
            for path in (self.scandir / name, self.scandir / name / "log"):
                st = read_supervise_status(path)
                if st is not None and st.pid:
                    self._sessions.add(st.pid)

    def cause(self) -> dict[str, Any] | None:
        return read_cause(self.results)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Until every service is up and ready (True), or a cause was recorded (False)."""
        deadline = time.monotonic() + (timeout or self.opts.ready_timeout)
        pending = set(self.top_services)
        while pending and time.monotonic() < deadline:
            self._track()
            if self.cause() is not None or self.stop_requested.is_set():
                return False
            for name in list(pending):
                st = read_supervise_status(self.scandir / name)
                if st is not None and st.up and st.ready:
                    self.ready_at[name] = round(time.monotonic() - self.started_at, 3)
                    pending.discard(name)
            if self.proc is not None and self.proc.poll() is not None:
                return False
            time.sleep(POLL)
        return not pending

    def wait(self, timeout: float | None = None) -> None:
        """Run until stop is requested, a cause is recorded, or s6-svscan dies."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop_requested.is_set():
            self._track()
            if self.cause() is not None:
                return
            if self.proc is not None and self.proc.poll() is not None:
                return
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(POLL * 2)

    def request_stop(self, *_: object) -> None:
        self.stop_requested.set()

    # -- stopping -------------------------------------------------------------------------
    def _timeout_of(self, name: str) -> float:
        path = self.scandir / name / "timeout-kill"
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text().strip()) / 1000 + 5
        return 10.0

    def _down(self, paths: list[Path], timeout: float) -> None:
        live = [p for p in paths if (p / "supervise" / "control").exists()]
        if not live:
            return
        for p in live:  # s6-svc takes one service dir per call
            subprocess.run(["s6-svc", "-d", str(p)], check=False, capture_output=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = [read_supervise_status(p) for p in live]
            if all(st is None or not st.up for st in statuses):
                return
            time.sleep(POLL)

    def shutdown(self) -> list[list[str]]:
        """Reverse dependency order, then loggers, then s6-svscan; returns the layers."""
        layers = shutdown_layers(self.services)
        if self.proc is None:
            return layers
        self._track()
        if self.proc.poll() is None:
            for layer in layers:
                timeout = max(self._timeout_of(n) for n in layer)
                t0 = time.monotonic()
                self._down([self.scandir / n for n in layer], timeout)
                self.stop_times.append((layer, round(time.monotonic() - t0, 3)))
            self._down([self.scandir / n / "log" for n in self.top_services], 10.0)
            subprocess.run(
                ["s6-svscanctl", "-t", str(self.scandir)], check=False, capture_output=True
            )
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            (self.state / "up.pid").unlink()
        if self._catchall is not None:
            self._catchall.close()
        return layers

    def leftovers(self, grace: float = 3.0) -> list[int]:
        """Processes of this tree still alive after shutdown (by session/group or marker)."""
        deadline = time.monotonic() + grace
        found = self._find_leftovers()
        while found and time.monotonic() < deadline:
            time.sleep(0.1)
            found = self._find_leftovers()
        return found

    def _find_leftovers(self) -> list[int]:
        me = os.getpid()
        marker = f"{MARKER_ENV}={self.state}".encode()
        out: list[int] = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if fields[0] == "Z":
                    continue
                pgid, sid = int(fields[2]), int(fields[3])
                if pgid in self._sessions or sid in self._sessions:
                    out.append(pid)
                    continue
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    out.append(pid)
            except (OSError, IndexError, ValueError):
                continue
        return sorted(out)

    def kill_leftovers(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def result(self, layers: list[list[str]], leftovers: list[int]) -> UpResult:
        cause = self.cause()
        code = int(cause["container_exit_code"]) if cause else 0
        ready = None
        if self.ready_at and len(self.ready_at) == len(self.top_services):
            ready = max(self.ready_at.values())
        return UpResult(
            exit_code=code,
            cause=cause,
            skipped=self.skipped,
            ready_seconds=ready,
            ready_at=dict(self.ready_at),
            shutdown_layers=layers,
            leftovers=leftovers,
            state_dir=str(self.state),
        )


def run_up(
    cfg: ApplianceConfig,
    opts: UpOptions,
    *,
    on_ready: Any = None,
    install_signals: bool = True,
) -> UpResult:
    """Start, wait for readiness, run until stopped, shut down in order, report."""
    app = Appliance(cfg, opts)
    if install_signals:
        signal.signal(signal.SIGTERM, app.request_stop)
        signal.signal(signal.SIGINT, app.request_stop)
    app.start()
    layers: list[list[str]] = []
    try:
        if app.wait_ready() and on_ready is not None:
            on_ready(app)
        app.wait()
    finally:
        layers = app.shutdown()
    left = app.leftovers()
    app.kill_leftovers(left)
    return app.result(layers, left)


__all__ = ["MARKER_ENV", "Appliance", "UpOptions", "UpResult", "run_up"]
