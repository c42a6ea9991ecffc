"""``sealfeed up``: the whole appliance on an ordinary machine, under a real s6-svscan.

lock the state dir (or refuse: already running / orphaned tree, nothing touched) -> render
(pure) -> write the s6-rc source tree -> ``sealfeed s6 check`` -> convert to a scandir
(:mod:`sealfeed.s6.local`) -> record what runs and what is skipped -> ``s6-svscan`` in its own
session, told to stop in order when ``up`` dies (``PR_SET_PDEATHSIG``) -> wait until every
service is ready -> run until SIGTERM/SIGINT or until a finish/oneshot script records a
cause -> stop layer by layer in reverse dependency order -> stop s6-svscan -> make sure no
process is left -> release the lock.

State directory layout (mirrors the image's paths)::

    <state>/up.lock                              flock held by the running `up` (pid, start)
    <state>/etc/s6-overlay/                      rendered s6-rc source tree
    <state>/run/service/<name>/                  scandir = restart ledgers (design §2.5)
    <state>/run/service/.s6-svscan/              SIGTERM (ordered stop), finish (orphan sweep)
    <state>/run/s6-linux-init-container-results/ exitcode, cause, cause.json
    <state>/run/sealfeed-up.json                 services, skipped ones and why, how it ended
    <state>/log/<name>/                          s6-log output (unless --log-dir)
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import ExternalError, InputError
from sealfeed.fsutil import atomic_write
from sealfeed.s6.check import check_tree
from sealfeed.s6.graph import CHAINLINK_RENDER, NODE_COMMAND_KEY, build_services, shutdown_layers
from sealfeed.s6.hooks import read_cause
from sealfeed.s6.local import local_users, scandir_path, scandir_tree, svscan_control_files
from sealfeed.s6.model import RenderOptions, ServiceDef, Skipped
from sealfeed.s6.render import render_services
from sealfeed.s6.runtime import HALT_WATCH, local_runtime
from sealfeed.s6.statedir import (
    LEFTOVERS_FILE,
    MARKER_ENV,
    RECORD_FILE,
    UpLock,
    find_orphans,
    svscan_listening,
    unreachable_dir,
)
from sealfeed.s6.supervise import read_supervise_status
from sealfeed.s6.tree import write_tree

POLL = 0.05
#: prctl(2) option: signal sent to this process when its parent thread dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1


def detect_postgres_bin_dir() -> str | None:
    """Debian's newest /usr/lib/postgresql/<major>/bin, else None (PATH)."""
    if shutil.which("postgres"):
        return None
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    return dirs[-1] if dirs else None


def _die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that has the kernel send SIGTERM to s6-svscan when ``up`` dies
    (``kill -9`` included): its ``.s6-svscan/SIGTERM`` then stops the tree in order."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    parent = os.getpid()

    def pre() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # died between fork and prctl: nobody would signal us
            os.kill(os.getpid(), signal.SIGTERM)

    return pre


def check_reachable(user: str, targets: list[Path]) -> None:
    """InputError (exit 2) naming the first directory ``user`` cannot traverse to a target."""
    for target in targets:
        blocked = unreachable_dir(target, user)
        if blocked is not None:
            raise InputError(blocked.message(user, str(target)), location=blocked.directory)


def claim_state_dir(state: Path) -> UpLock:
    """Lock ``state`` for one `up`, or refuse (exit 2) without writing anything into it.

    Refused when another `up` holds it ("already running (pid N, since T)"), or when
    processes of an earlier `up` that was killed still run there: they are named, with the
    command that stops them (only then is a stop command suggested: nothing owns them).
    """
    lock = UpLock.acquire(state)
    orphans = find_orphans(state)
    if orphans is not None:
        lock.release()
        raise InputError(orphans.describe() + "; nothing was changed", location=str(state))
    scandir = scandir_path(state)
    if svscan_listening(scandir):  # an s6-svscan without our marker (an older `up`)
        lock.release()
        raise InputError(
            "an s6-svscan started by an earlier `sealfeed up` still runs on this scandir "
            f"without it; stop it with: s6-svscanctl -t {scandir}",
            location=str(scandir),
        )
    return lock


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
        self.started_wall = 0.0
        self.stop_requested = threading.Event()
        self._sessions: set[int] = set()
        self._catchall: IO[bytes] | None = None
        self.stop_times: list[tuple[list[str], float]] = []
        #: held from prepare() until close(): this `up` owns the state dir
        self.lock: UpLock | None = None
        #: progress lines (``sealfeed up: ...``); the CLI prints them on stderr
        self.on_progress: Callable[[str], None] = lambda _line: None

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

    def claim(self) -> None:
        """Own the state dir for this run (see :func:`claim_state_dir`)."""
        if self.lock is None:
            self.lock = claim_state_dir(self.state)

    @staticmethod
    def check_state_reachable(state: Path) -> None:
        """Before anything is created, when the data dirs will be below the state dir (the
        embedded defaults): as root PostgreSQL runs as `postgres` (local_users), which must
        be able to traverse to it; exit 2 naming the directory to change."""
        if os.geteuid() == 0:
            check_reachable("postgres", [state])

    def check_reachable(self, ropts: RenderOptions) -> None:
        """Before rendering: every account a service drops to (as root: `postgres`, the
        nodes' `chainlink-N`/`nobody`) reaches the directories that service works in."""
        users = ropts.users or {}
        if os.geteuid() != 0:
            return
        plan: list[tuple[str | None, Path]] = [
            (users.get("postgres"), Path(self.cfg.postgres.data_dir)),
            (users.get("postgres"), Path(self.cfg.postgres.socket_dir)),
        ]
        if ropts.include_nodes:
            plan += [(users.get(n.service), Path(n.workdir)) for n in self.cfg.nodes.specs()]
        for user, target in plan:
            if user and user != "root":
                check_reachable(user, [target])

    def prepare(self) -> None:
        self.claim()
        ropts = self.render_options()
        self.check_reachable(ropts)
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
        self._write_svscan_control()
        shutil.rmtree(self.results, ignore_errors=True)  # a new boot: no old cause
        self.results.mkdir(parents=True)
        with contextlib.suppress(FileNotFoundError):
            (Path(self.runtime.run_dir) / LEFTOVERS_FILE).unlink()
        Path(ropts.log_dir or "").mkdir(parents=True, exist_ok=True)
        self.write_record()

    def _write_svscan_control(self) -> None:
        loggers = [f"{n}/log" for n in self.top_services if (self.scandir / n / "log").is_dir()]
        files = svscan_control_files(
            shutdown_layers(self.services),
            loggers,
            {n: self._timeout_of(n) for n in self.top_services},
            marker=f"{MARKER_ENV}={self.state}",
            owner_pid=os.getpid(),
            leftovers_file=str(Path(self.runtime.run_dir) / LEFTOVERS_FILE),
        )
        for rel, data in files.items():
            atomic_write(self.scandir / rel, data, mode=0o755)

    def record(self, **extra: Any) -> dict[str, Any]:
        """What `sealfeed status` shows before, while and after this run (RECORD_FILE)."""
        by_name = {s.name: s for s in self.services}
        doc: dict[str, Any] = {
            "format": "sealfeed-up/1",
            "pid": os.getpid(),
            "started": self.started_wall,
            "state_dir": str(self.state),
            "services": [
                {"name": n, "type": by_name[n].type, "logger": by_name[n].logger}
                for n in self.top_services
            ],
            "skipped": [
                {
                    "service": s.service,
                    "type": "oneshot" if s.service == CHAINLINK_RENDER else "longrun",
                    "reason": s.reason,
                }
                for s in self.skipped
            ],
            "endpoints": self.endpoints(),
            "stopped": None,
        }
        doc.update(extra)
        return doc

    def write_record(self, **extra: Any) -> None:
        atomic_write(self.state / RECORD_FILE, json.dumps(self.record(**extra), indent=2) + "\n")

    def endpoints(self) -> dict[str, str]:
        agg, exp = self.cfg.aggregator, self.cfg.exporter
        return {
            "price-aggregator": f"http://{agg.host}:{agg.port}",
            "process-metrics": f"http://{exp.host}:{exp.port}",
        }

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        if shutil.which("s6-svscan") is None:
            raise ExternalError("s6-svscan not found (Debian: apt-get install s6 execline)")
        self.started_wall = time.time()
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
            # only prctl + getppid run between fork and exec (no locks, no allocation)
            preexec_fn=_die_with_parent(),
        )
        self._sessions.add(self.proc.pid)
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
                    self.on_progress(f"ready: {name} ({self.ready_at[name]:.1f} s)")
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
            self.on_progress("stopping in reverse dependency order")
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

    def close(self, result: UpResult | None = None) -> None:
        """Record how the run ended (if it ran) and release the state dir."""
        if result is not None and self.started_wall:
            with contextlib.suppress(OSError):
                self.write_record(
                    stopped=time.time(),
                    exit_code=result.exit_code,
                    leftover_processes=result.leftovers,
                )
        if self.lock is not None:
            self.lock.release()
            self.lock = None

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
    on_start: Any = None,
    on_progress: Callable[[str], None] | None = None,
    install_signals: bool = True,
    lock: UpLock | None = None,
) -> UpResult:
    """Start, wait for readiness, run until stopped, shut down in order, report.

    ``lock``: the state dir already claimed by the caller (the CLI claims it before it
    writes anything there); otherwise it is claimed here.
    """
    app = Appliance(cfg, opts)
    app.lock = lock
    if on_progress is not None:
        app.on_progress = on_progress
    if install_signals:
        signal.signal(signal.SIGTERM, app.request_stop)
        signal.signal(signal.SIGINT, app.request_stop)
    result: UpResult | None = None
    try:
        app.start()
        if on_start is not None:
            on_start(app)
        layers: list[list[str]] = []
        try:
            if app.wait_ready() and on_ready is not None:
                on_ready(app)
            app.wait()
        finally:
            layers = app.shutdown()
        left = app.leftovers()
        app.kill_leftovers(left)
        result = app.result(layers, left)
        return result
    finally:
        app.close(result)


__all__ = [
    "MARKER_ENV",
    "Appliance",
    "UpOptions",
    "UpResult",
    "check_reachable",
    "claim_state_dir",
    "detect_postgres_bin_dir",
    "run_up",
]
