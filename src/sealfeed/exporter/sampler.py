"""One sample of every s6 service, its whole process tree and the container cgroup.

Everything is read straight from files -- s6's ``supervise/status`` (via
:mod:`sealfeed.s6.supervise`), the finish scripts' ``restart-count``/``last-restart`` (design
§2.5), ``/proc/<pid>/{stat,io,fd}`` and cgroup v2 -- with no subprocess (the reference spawns
``s6-svstat`` per service and ``ps`` every 5 s and only sees each service's top pid).

Processes may exit between listing and reading: every per-process read tolerates ``OSError``
and the process is simply left out (as prometheus/client_python's ``process_collector`` does).
A sample *fails* only when procfs itself or the scandir cannot be read, or no service is found.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sealfeed.cgroup import (
    parse_cpu_max,
    parse_flat_keyed,
    parse_memory_max,
    parse_proc_cgroup,
    parse_single_value,
)
from sealfeed.errors import ExitCode, ExternalError, InputError, SealfeedError
from sealfeed.exporter.procfs import (
    PidStat,
    parse_children,
    parse_int_file,
    parse_keyed,
    parse_pg_backend,
    parse_pid_stat,
    parse_uptime,
)
from sealfeed.exporter.procread import IoFds, LocalReader, ProcReader
from sealfeed.s6.supervise import read_supervise_status

_log = logging.getLogger("sealfeed.exporter")

CLK_TCK = os.sysconf("SC_CLK_TCK")  # USER_HZ, the unit of stat's utime/stime/starttime
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class SampleError(SealfeedError):
    """The sample as a whole failed (procfs or scandir unreadable, nothing to watch)."""

    exit_code = ExitCode.EXTERNAL


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    ppid: int
    comm: str
    cpu_seconds: float
    cpu_percent: float  # of one CPU over the sampling interval (ps-style lifetime on first sight)
    rss_kb: int
    threads: int
    start_time: float  # unix seconds
    open_fds: int | None  # None: not readable (another account's, without the helper)
    read_bytes: int | None
    write_bytes: int | None


@dataclass(frozen=True)
class ServiceSample:
    name: str
    supervised: bool  # a supervise/status exists
    up: bool
    ready: bool
    want_up: bool
    pid: int
    uptime_seconds: float
    last_exit_code: int | None  # 128+signal for a signal death (shell convention)
    last_exit_signal: int | None
    restart_count: int | None
    last_restart_ts: int | None
    processes: tuple[ProcessSample, ...] = ()

    @property
    def cpu_percent(self) -> float:
        return sum(p.cpu_percent for p in self.processes)

    @property
    def rss_kb(self) -> int:
        return sum(p.rss_kb for p in self.processes)

    @property
    def open_fds(self) -> int:
        return sum(p.open_fds or 0 for p in self.processes)

    @property
    def threads(self) -> int:
        return sum(p.threads for p in self.processes)


@dataclass(frozen=True)
class CgroupSample:
    memory_current: int | None = None
    memory_max: int | None = None  # None: no limit ("max") or not available
    cpu_usage_usec: int | None = None
    cpu_user_usec: int | None = None
    cpu_system_usec: int | None = None
    nr_throttled: int | None = None
    throttled_usec: int | None = None
    cpu_max_cores: float | None = None


@dataclass(frozen=True)
class Snapshot:
    timestamp: float
    duration_seconds: float
    cpu_seconds: float  # CPU time this sample cost the exporter
    services: tuple[ServiceSample, ...]
    cgroup: CgroupSample
    memory_total_bytes: int | None
    pg_backends: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: non-fatal problems (a malformed restart-count, an unreadable status) for the log
    warnings: tuple[str, ...] = ()


def _read_text(path: Path | str) -> str:
    return _read_bytes(str(path)).decode("utf-8", "replace")


def _read_bytes(path: str) -> bytes:
    """One small /proc file. os.open/os.read skip io.open's layers: at 60 processes x 4 files
    per sample, that is most of the sample's CPU time (bench/exporter.py)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Sampler:
    """Takes :class:`Snapshot` s; keeps the previous CPU counters to compute percentages.

    ``proc_root``/``scandir``/``source_dir``/``cgroup_root`` are directories (fixtures in tests);
    ``clock`` is the wall clock (unix seconds). ``use_children`` forces the process-tree walk
    mode (``None``: use ``/proc/<pid>/task/<tid>/children`` when the kernel has it,
    CONFIG_PROC_CHILDREN; else scan every pid's ppid).
    """

    def __init__(
        self,
        *,
        proc_root: str | os.PathLike[str] = "/proc",
        scandir: str | os.PathLike[str] = "/run/service",
        source_dir: str | os.PathLike[str] | None = None,
        cgroup_root: str | os.PathLike[str] | None = "/sys/fs/cgroup",
        clock: Callable[[], float] = time.time,
        discovery_interval: float = 60.0,
        use_children: bool | None = None,
        proc_reader: ProcReader | None = None,
    ) -> None:
        self.proc = Path(proc_root)
        self._p = str(self.proc)
        #: who reads /proc/<pid>/{io,fd}: this process, or the privileged helper (ADR 0133)
        self.proc_reader: ProcReader = proc_reader or LocalReader(self._p)
        self.scandir = Path(scandir)
        self.source_dir = Path(source_dir) if source_dir else None
        self.cgroup_root = Path(cgroup_root) if cgroup_root else None
        self.clock = clock
        self.discovery_interval = discovery_interval
        self._use_children = use_children
        self._services: tuple[str, ...] = ()
        self._discovered_at: float | None = None
        #: (pid, starttime) -> (cpu ticks, uptime) of the previous sample
        self._prev: dict[tuple[int, int], tuple[int, float]] = {}
        self._cgroup_dir: Path | None = None
        self._cgroup_resolved = False

    # ---- discovery -------------------------------------------------------------------
    def discover(self) -> tuple[str, ...]:
        """Longruns of the s6-rc source dir plus every live scandir entry (design §3.4)."""
        names: set[str] = set()
        if self.source_dir is not None:
            try:
                entries = list(self.source_dir.iterdir())
            except OSError:
                entries = []
            for entry in entries:
                try:
                    if _read_text(entry / "type").strip() == "longrun":
                        names.add(entry.name)
                except OSError:
                    continue
        try:
            live = list(self.scandir.iterdir())
        except OSError as exc:
            raise SampleError(
                f"cannot list the scandir: {exc.strerror}", location=str(self.scandir)
            ) from None
        names.update(e.name for e in live if not e.name.startswith(".") and e.is_dir())
        return tuple(sorted(names))

    def services(self, now_mono: float) -> tuple[str, ...]:
        if self._discovered_at is None or now_mono - self._discovered_at >= self.discovery_interval:
            self._services = self.discover()
            self._discovered_at = now_mono
        return self._services

    # ---- process tree ----------------------------------------------------------------
    def _children_mode(self) -> bool:
        if self._use_children is None:
            self._use_children = any(self.proc.glob("self/task/*/children")) or any(
                self.proc.glob("1/task/1/children")
            )
        return self._use_children

    def _stat(self, pid: int) -> PidStat | None:
        path = f"{self._p}/{pid}/stat"
        try:
            text = _read_bytes(path).decode("utf-8", "replace")
        except OSError:
            return None
        try:
            return parse_pid_stat(text, location=path)
        except InputError:
            return None

    def _tree_children(self, roots: Iterable[int]) -> dict[int, list[PidStat]]:
        """root pid -> stats of root and all descendants, via the ``children`` files."""
        out: dict[int, list[PidStat]] = {}
        for root in roots:
            found: list[PidStat] = []
            queue = [root]
            seen: set[int] = set()
            while queue:
                pid = queue.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                st = self._stat(pid)
                if st is None:
                    continue
                found.append(st)
                task = f"{self._p}/{pid}/task"
                try:
                    tids = os.listdir(task)
                except OSError:
                    continue
                for tid in tids:
                    try:
                        text = _read_bytes(f"{task}/{tid}/children").decode()
                        queue.extend(parse_children(text))
                    except (OSError, InputError, UnicodeDecodeError):
                        continue
            out[root] = found
        return out

    def _tree_scan(self, roots: Iterable[int]) -> dict[int, list[PidStat]]:
        """root pid -> stats of root and all descendants, by reading every pid's ppid."""
        try:
            names = os.listdir(self._p)
        except OSError as exc:
            raise SampleError(
                f"cannot list procfs: {exc.strerror}", location=str(self.proc)
            ) from None
        stats: dict[int, PidStat] = {}
        kids: dict[int, list[int]] = {}
        for name in names:
            if not name.isdigit():
                continue
            st = self._stat(int(name))
            if st is None:
                continue
            stats[st.pid] = st
            kids.setdefault(st.ppid, []).append(st.pid)
        out: dict[int, list[PidStat]] = {}
        for root in roots:
            found: list[PidStat] = []
            queue = [root]
            seen: set[int] = set()
            while queue:
                pid = queue.pop()
                if pid in seen or pid not in stats:
                    continue
                seen.add(pid)
                found.append(stats[pid])
                queue.extend(kids.get(pid, ()))
            out[root] = found
        return out

    def _io_fds(self, pids: list[int], warnings: list[str]) -> Mapping[int, IoFds]:
        try:
            return self.proc_reader.read(pids)
        except ExternalError as err:  # the helper died: keep sampling what we can read
            warnings.append(f"{err}; reading /proc with this process's own rights from now on")
            self.proc_reader = LocalReader(self._p)
            return self.proc_reader.read(pids)

    def _pg_backend(self, pid: int) -> tuple[str, str] | None:
        try:
            return parse_pg_backend(_read_bytes(f"{self._p}/{pid}/cmdline"))
        except OSError:
            return None

    # ---- cgroup ------------------------------------------------------------------------
    def _resolve_cgroup(self) -> Path | None:
        """Our cgroup v2 directory: the root itself (cgroup namespace, as in a container) or
        root (or root/unified) + the ``0::`` path of ``/proc/self/cgroup`` (cgroups(7))."""
        if self._cgroup_resolved:
            return self._cgroup_dir
        self._cgroup_resolved = True
        root = self.cgroup_root
        if root is None:
            return None
        # hybrid hosts mount the v2 hierarchy at <root>/unified (systemd "hybrid" layout)
        candidates = [root]
        try:
            v2_path = parse_proc_cgroup(_read_text(self.proc / "self" / "cgroup")).v2
        except OSError:
            v2_path = None
        if v2_path is not None:
            rel = v2_path.strip().lstrip("/")
            candidates += [root / rel, root / "unified" / rel]
        for c in candidates:
            if (c / "memory.current").exists() or (c / "cpu.stat").exists():
                self._cgroup_dir = c
                break
        return self._cgroup_dir

    def _cgroup(self) -> CgroupSample:
        d = self._resolve_cgroup()
        if d is None:
            return CgroupSample()

        def read(name: str) -> str | None:
            try:
                return _read_text(d / name)
            except OSError:
                return None

        current = read("memory.current")
        mmax = read("memory.max")
        cpu_stat = read("cpu.stat")
        cpu_max = read("cpu.max")
        try:
            cs = parse_flat_keyed(cpu_stat, location=str(d / "cpu.stat")) if cpu_stat else {}
            return CgroupSample(
                memory_current=(
                    parse_single_value(current, location=str(d / "memory.current"))
                    if current
                    else None
                ),
                memory_max=parse_memory_max(mmax, location=str(d / "memory.max")) if mmax else None,
                cpu_usage_usec=cs.get("usage_usec"),
                cpu_user_usec=cs.get("user_usec"),
                cpu_system_usec=cs.get("system_usec"),
                nr_throttled=cs.get("nr_throttled"),
                throttled_usec=cs.get("throttled_usec"),
                cpu_max_cores=parse_cpu_max(cpu_max, location=str(d / "cpu.max"))
                if cpu_max
                else None,
            )
        except InputError as err:
            _log.warning("cgroup file malformed", extra={"event": "cgroup_bad", "error": str(err)})
            return CgroupSample()

    # ---- sample ------------------------------------------------------------------------
    def _counter_file(self, service: str, name: str, warnings: list[str]) -> int | None:
        path = f"{self.scandir}/{service}/{name}"
        try:
            text = _read_text(path)
        except OSError:
            return None
        try:
            return parse_int_file(text, location=path)
        except InputError as err:
            warnings.append(str(err))
            return None

    def sample(self) -> Snapshot:
        cpu0 = time.process_time()
        mono0 = time.monotonic()
        now = self.clock()
        warnings: list[str] = []
        try:
            uptime = parse_uptime(_read_text(self.proc / "uptime"))
        except OSError as exc:
            raise SampleError(
                f"cannot read uptime: {exc.strerror}", location=str(self.proc / "uptime")
            ) from None
        boot = now - uptime
        names = self.services(mono0)
        if not names:
            raise SampleError("no s6 services found", location=str(self.scandir))
        statuses = {}
        for name in names:
            try:
                statuses[name] = read_supervise_status(self.scandir / name)
            except InputError as err:
                warnings.append(str(err))
                statuses[name] = None
        roots = [st.pid for st in statuses.values() if st is not None and st.up]
        trees = self._tree_children(roots) if self._children_mode() else self._tree_scan(roots)

        prev, self._prev = self._prev, {}
        iofds = self._io_fds(
            [ps.pid for st in statuses.values() if st is not None and st.up
             for ps in trees.get(st.pid, ())],
            warnings,
        )  # fmt: skip
        pg: dict[tuple[str, str], int] = {}
        services: list[ServiceSample] = []
        for name in names:
            st = statuses[name]
            procs: list[ProcessSample] = []
            if st is not None and st.up:
                for ps in trees.get(st.pid, ()):
                    key = (ps.pid, ps.starttime)
                    ticks = ps.cpu_ticks
                    before = prev.get(key)
                    if before is not None and uptime > before[1]:
                        pct = (ticks - before[0]) / CLK_TCK / (uptime - before[1]) * 100
                    else:  # first sight: lifetime average, as ps(1) reports %CPU
                        alive = uptime - ps.starttime / CLK_TCK
                        pct = ticks / CLK_TCK / alive * 100 if alive > 0 else 0.0
                    self._prev[key] = (ticks, uptime)
                    rb, wb, fds = iofds.get(ps.pid, (None, None, None))
                    procs.append(
                        ProcessSample(
                            pid=ps.pid,
                            ppid=ps.ppid,
                            comm=ps.comm,
                            cpu_seconds=ticks / CLK_TCK,
                            cpu_percent=round(max(pct, 0.0), 3),
                            rss_kb=ps.rss_pages * PAGE_SIZE // 1024,
                            threads=ps.num_threads,
                            start_time=boot + ps.starttime / CLK_TCK,
                            open_fds=fds,
                            read_bytes=rb,
                            write_bytes=wb,
                        )
                    )
                    if ps.comm == "postgres" and ps.pid != st.pid:
                        backend = self._pg_backend(ps.pid)
                        if backend is not None:
                            pg[backend] = pg.get(backend, 0) + 1
            code: int | None = None
            sig: int | None = None
            if st is not None and (st.wstat or not st.up):
                if os.WIFSIGNALED(st.wstat):
                    sig = os.WTERMSIG(st.wstat)
                    code = 128 + sig
                elif os.WIFEXITED(st.wstat):
                    code = os.WEXITSTATUS(st.wstat)
                    sig = 0
            services.append(
                ServiceSample(
                    name=name,
                    supervised=st is not None,
                    up=bool(st and st.up),
                    ready=bool(st and st.up and st.ready),
                    want_up=bool(st and st.want_up),
                    pid=st.pid if st is not None and st.up else 0,
                    uptime_seconds=st.seconds_in_state(now) if st is not None and st.up else 0.0,
                    last_exit_code=code,
                    last_exit_signal=sig,
                    restart_count=self._counter_file(name, "restart-count", warnings),
                    last_restart_ts=self._counter_file(name, "last-restart", warnings),
                    processes=tuple(sorted(procs, key=lambda p: p.pid)),
                )
            )
        mem_total: int | None = None
        try:
            meminfo = parse_keyed(
                _read_text(self.proc / "meminfo"), location=str(self.proc / "meminfo"), sep=":"
            )
            mem_total = meminfo["MemTotal"] * 1024 if "MemTotal" in meminfo else None
        except (OSError, InputError):
            pass
        return Snapshot(
            timestamp=now,
            duration_seconds=time.monotonic() - mono0,
            cpu_seconds=time.process_time() - cpu0,
            services=tuple(services),
            cgroup=self._cgroup(),
            memory_total_bytes=mem_total,
            pg_backends=pg,
            warnings=tuple(warnings),
        )


__all__ = [
    "CgroupSample",
    "ProcessSample",
    "SampleError",
    "Sampler",
    "ServiceSample",
    "Snapshot",
]
