"""Effective memory and CPU limits of this machine or container.

The cgroup files are parsed by :mod:`sealfeed.cgroup` (the one parser, shared with the
exporter; kernel semantics for ``max``, ``-1`` and the default period). :func:`read_limits` is
the thin reader: it looks at files under ``root`` (``/`` in production, a fixture tree in tests) in this order:

* cgroup v2 (``memory.max``, ``cpu.max``, ``cpuset.cpus.effective``), walking from this
  process's cgroup up to the mount root and keeping the tightest value, because cgroup limits
  are hierarchical (Linux ``Documentation/admin-guide/cgroup-v2.rst`` "Memory Interface
  Files", "CPU Interface Files");
* cgroup v1 (``memory.limit_in_bytes``, ``cpu.cfs_quota_us``/``cpu.cfs_period_us``,
  ``cpuset.cpus``) -- Linux ``Documentation/admin-guide/cgroup-v1/memory.rst``,
  ``Documentation/scheduler/sched-bwc.rst``;
* ``/proc/meminfo`` ``MemTotal`` and ``/sys/devices/system/cpu/online`` as the machine limit.

The effective value is the minimum of what applies; each result says where it came from so
``sealfeed pg tune`` can print the reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from sealfeed.cgroup import (
    CgroupMount,
    parse_cpu_list,
    parse_cpu_max,
    parse_memory_max,
    parse_mountinfo,
    parse_proc_cgroup,
    parse_v1_cfs,
    parse_v1_memory_limit,
)
from sealfeed.errors import InputError

_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Limits:
    """What PostgreSQL may use: bytes of memory and (possibly fractional) CPUs."""

    memory_bytes: int
    memory_source: str
    cpus: float
    cpu_source: str


# ---------------------------------------------------------------- pure parsers
# (the cgroup files themselves are parsed by sealfeed.cgroup, shared with the exporter)


def parse_meminfo_total(text: str, *, location: str = "/proc/meminfo") -> int:
    """``MemTotal:  24684012 kB`` -> bytes."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            try:
                kib = int(fields[1])
            except (IndexError, ValueError):
                break
            return kib * 1024
    raise InputError("no parsable MemTotal line", location=location)


# ---------------------------------------------------------------- the reader


def _walk(mount: str, mount_root: str, path: str) -> list[str]:
    """Directories from this process's cgroup up to the mount point (leaf first)."""
    rel = PurePosixPath(path)
    base = PurePosixPath(mount_root)
    if mount_root != "/" and (rel == base or base in rel.parents):
        rel = PurePosixPath("/") / rel.relative_to(base)
    parts = rel.parts[1:] if rel.parts and rel.parts[0] == "/" else rel.parts
    dirs = []
    for i in range(len(parts), -1, -1):
        dirs.append(str(PurePosixPath(mount, *parts[:i])))
    return dirs


def read_limits(
    root: str | os.PathLike[str] = "/",
    *,
    affinity: Callable[[], int] | None = None,
) -> Limits:
    """Read the effective limits under ``root`` (see the module docstring)."""
    base = Path(root)

    def read(path: str) -> str | None:
        try:
            return (base / path.lstrip("/")).read_text()
        except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
            return None
        except OSError:
            return None

    membership = parse_proc_cgroup(read("/proc/self/cgroup") or "")
    mounts_text = read("/proc/self/mountinfo")
    mounts = parse_mountinfo(mounts_text) if mounts_text is not None else []

    v2_mounts = [m for m in mounts if m.fstype == "cgroup2"]
    # no mountinfo (fixture trees): assume the usual layout
    if not mounts and read("/sys/fs/cgroup/cgroup.controllers") is not None:
        v2_mounts = [CgroupMount("/sys/fs/cgroup", "/", "cgroup2", frozenset())]
    v2_dirs: list[str] = []
    for m in v2_mounts:
        v2_dirs += _walk(m.mountpoint, m.root, membership.v2 or "/")

    def v1_dirs(controller: str) -> list[str]:
        found = [m for m in mounts if m.fstype == "cgroup" and controller in m.options]
        if not found and not mounts:
            found = [
                CgroupMount(f"/sys/fs/cgroup/{name}", "/", "cgroup", frozenset({controller}))
                for name in (controller, "cpu,cpuacct")
            ]
        dirs: list[str] = []
        for m in found:
            dirs += _walk(m.mountpoint, m.root, membership.v1.get(controller, "/"))
        return dirs

    # ---- memory
    mem_candidates: list[tuple[int, str]] = []
    v2_mem = _tightest(v2_dirs, "memory.max", read, parse_memory_max)
    if v2_mem is not None:
        mem_candidates.append((v2_mem[0], f"cgroup v2 {v2_mem[1]}"))
    else:
        v1_mem = _tightest(v1_dirs("memory"), "memory.limit_in_bytes", read, parse_v1_memory_limit)
        if v1_mem is not None:
            mem_candidates.append((v1_mem[0], f"cgroup v1 {v1_mem[1]}"))
    meminfo = read("/proc/meminfo")
    if meminfo is not None:
        mem_candidates.append((parse_meminfo_total(meminfo), "/proc/meminfo MemTotal"))
    if not mem_candidates:
        raise InputError(
            "cannot determine memory: no cgroup limit and no /proc/meminfo", location=str(base)
        )
    memory, memory_source = min(mem_candidates, key=lambda c: c[0])

    # ---- CPU
    cpu_candidates: list[tuple[float, str]] = []
    v2_cpu = _tightest(v2_dirs, "cpu.max", read, parse_cpu_max)
    if v2_cpu is not None:
        cpu_candidates.append((v2_cpu[0], f"cgroup v2 {v2_cpu[1]}"))
    else:
        v1_cpu = _tightest_cfs(v1_dirs("cpu"), read)
        if v1_cpu is not None:
            cpu_candidates.append((v1_cpu[0], f"cgroup v1 {v1_cpu[1]}"))
    cpuset = _first(v2_dirs, "cpuset.cpus.effective", read) or _first(
        v1_dirs("cpuset"), "cpuset.cpus", read
    )
    if cpuset is not None:
        cpu_candidates.append(
            (float(parse_cpu_list(cpuset[0], location=cpuset[1])), f"cpuset {cpuset[1]}")
        )
    online = read("/sys/devices/system/cpu/online")
    if online is not None and online.strip():
        cpu_candidates.append(
            (
                float(parse_cpu_list(online, location="/sys/devices/system/cpu/online")),
                "/sys/devices/system/cpu/online",
            )
        )
    if affinity is not None:
        cpu_candidates.append((float(affinity()), "sched_getaffinity"))
    if not cpu_candidates:
        cpu_candidates.append((float(os.cpu_count() or 1), "os.cpu_count()"))
    cpus, cpu_source = min(cpu_candidates, key=lambda c: c[0])
    return Limits(
        memory_bytes=memory, memory_source=memory_source, cpus=cpus, cpu_source=cpu_source
    )


def read_host_limits() -> Limits:
    """The limits of the running process (``/`` plus the scheduler affinity mask)."""
    return read_limits("/", affinity=lambda: len(os.sched_getaffinity(0)))


def _tightest(
    dirs: list[str],
    name: str,
    read: Callable[[str], str | None],
    parse: Callable[..., _N | None],
) -> tuple[_N, str] | None:
    best: tuple[_N, str] | None = None
    for d in dirs:
        path = f"{d}/{name}"
        text = read(path)
        if text is None:
            continue
        value = parse(text, location=path)
        if value is not None and (best is None or value < best[0]):
            best = (value, path)
    return best


def _tightest_cfs(dirs: list[str], read: Callable[[str], str | None]) -> tuple[float, str] | None:
    best: tuple[float, str] | None = None
    for d in dirs:
        quota = read(f"{d}/cpu.cfs_quota_us")
        if quota is None:
            continue
        # no cpu.cfs_period_us to read: the kernel default period (sealfeed.cgroup)
        period = read(f"{d}/cpu.cfs_period_us")
        value = parse_v1_cfs(quota, period, location=f"{d}/cpu.cfs_quota_us")
        if value is not None and (best is None or value < best[0]):
            best = (value, f"{d}/cpu.cfs_quota_us")
    return best


def _first(dirs: list[str], name: str, read: Callable[[str], str | None]) -> tuple[str, str] | None:
    for d in dirs:
        text = read(f"{d}/{name}")
        if text is not None and text.strip():
            return text, f"{d}/{name}"
    return None


def effective_cpu_count(cpus: float) -> int:
    """Whole CPUs for worker counts: a 1.5-CPU quota runs at most one worker at full speed."""
    return max(1, math.floor(cpus + 1e-9))


__all__ = [
    "Limits",
    "effective_cpu_count",
    "parse_meminfo_total",
    "read_host_limits",
    "read_limits",
]
