"""The one parser of cgroup v1/v2 files (pure: text in, data out).

Used by the exporter (its cgroup gauges) and by ``sealfeed pg tune`` (the effective limits). The
semantics are the kernel's, as documented:

* cgroup v2, Documentation/admin-guide/cgroup-v2.rst:
  ``memory.max`` is a byte count or ``max`` (no limit, the default); ``cpu.max`` is
  ``$MAX $PERIOD`` in microseconds, ``max`` for ``$MAX`` means no limit, the default is
  ``max 100000``, and "if only one number is written, $MAX is updated" (the period keeps its
  default); ``cpu.stat`` and ``memory.stat`` are "flat keyed" files (``key value`` lines).
* cgroup v1, Documentation/scheduler/sched-bwc.rst: ``cpu.cfs_period_us`` defaults to 100 ms
  (100000), ``cpu.cfs_quota_us`` defaults to -1, and -1 (any negative value written) means no
  bandwidth restriction; Documentation/admin-guide/cgroup-v1/memory.rst: writing -1 to
  ``memory.limit_in_bytes`` resets it to unlimited, which reads back as LONG_MAX rounded down to
  the page size (9223372036854771712 with 4 KiB pages).
* ``/proc/self/cgroup`` and ``/proc/self/mountinfo``: cgroups(7), proc(5).

A value the kernel never produces (a negative v2 limit, a zero quota or period, garbage) raises
:class:`CgroupParseError`, an :class:`~sealfeed.errors.InputError` naming the file -- never
ValueError/IndexError. "No limit" is ``None`` everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealfeed.errors import InputError

#: The CFS bandwidth period when none is given: 100 ms, in microseconds (sched-bwc.rst
#: "The default values are: cpu.cfs_period_us=100ms"; cgroup-v2.rst cpu.max "default is
#: max 100000").
DEFAULT_CFS_PERIOD_US = 100_000

#: cgroup v1 reports "no memory limit" as LONG_MAX rounded down to the page size
#: (0x7FFFFFFFFFFFF000 with 4 KiB pages, larger pages round lower); no real limit comes near
#: 2^62 bytes (4 EiB), so anything at or above it is unlimited.
V1_MEMORY_UNLIMITED = 1 << 62


class CgroupParseError(InputError):
    """A cgroup (or /proc cgroup membership) file did not have the documented layout."""


def parse_memory_max(text: str, *, location: str = "memory.max") -> int | None:
    """cgroup v2 ``memory.max`` (or ``memory.high``): bytes, or ``max`` (no limit) -> None."""
    value = text.strip()
    if value == "max":
        return None
    try:
        n = int(value)
    except ValueError:
        raise CgroupParseError(
            f"expected 'max' or a byte count, got {value[:40]!r}", location=location
        ) from None
    if n < 0:
        raise CgroupParseError(f"negative memory limit {n}", location=location)
    return n


def parse_cpu_max(text: str, *, location: str = "cpu.max") -> float | None:
    """cgroup v2 ``cpu.max``: ``$MAX $PERIOD`` -> CPUs (``$MAX / $PERIOD``), ``max`` -> None.

    A lone ``$MAX`` uses the default period (100000 us). Both numbers must be positive: the
    kernel never shows zero or a negative value here (it shows ``max`` for no limit).
    """
    parts = text.split()
    if len(parts) not in (1, 2):
        raise CgroupParseError(
            f"expected '$MAX $PERIOD', got {text.strip()[:40]!r}", location=location
        )
    try:
        period = int(parts[1]) if len(parts) == 2 else DEFAULT_CFS_PERIOD_US
        quota = None if parts[0] == "max" else int(parts[0])
    except ValueError:
        raise CgroupParseError(
            f"expected '$MAX $PERIOD', got {text.strip()[:40]!r}", location=location
        ) from None
    if period <= 0 or (quota is not None and quota <= 0):
        raise CgroupParseError(
            f"quota and period must be positive, got {text.strip()!r}", location=location
        )
    return None if quota is None else quota / period


def parse_flat_keyed(text: str, *, location: str) -> dict[str, int]:
    """A cgroup v2 "flat keyed" file (``cpu.stat``, ``memory.stat``): ``key value`` lines."""
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            key, value = fields
            out[key] = int(value)
        except ValueError:
            raise CgroupParseError(f"line {n}: expected 'key value'", location=location) from None
    return out


def parse_single_value(text: str, *, location: str) -> int:
    """A cgroup file holding one non-negative integer (``memory.current``, ``memory.peak``)."""
    try:
        n = int(text.strip())
    except ValueError:
        raise CgroupParseError("expected one integer", location=location) from None
    if n < 0:
        raise CgroupParseError(f"negative value {n}", location=location)
    return n


def parse_v1_memory_limit(text: str, *, location: str = "memory.limit_in_bytes") -> int | None:
    """cgroup v1 ``memory.limit_in_bytes``: bytes; -1 or the page-aligned LONG_MAX -> None."""
    try:
        n = int(text.strip())
    except ValueError:
        raise CgroupParseError(
            f"expected a byte count, got {text.strip()[:40]!r}", location=location
        ) from None
    if n < 0 or n >= V1_MEMORY_UNLIMITED:
        return None
    return n


def parse_v1_cfs(
    quota_text: str, period_text: str | None = None, *, location: str = "cpu.cfs_quota_us"
) -> float | None:
    """cgroup v1 CFS bandwidth -> CPUs (quota / period); a negative quota (-1) -> None.

    ``period_text`` None (no ``cpu.cfs_period_us`` to read) means the default 100000 us.
    """
    try:
        quota = int(quota_text.strip())
        period = DEFAULT_CFS_PERIOD_US if period_text is None else int(period_text.strip())
    except ValueError:
        shown = "" if period_text is None else f" period {period_text.strip()[:40]!r}"
        raise CgroupParseError(
            f"expected integers, got quota {quota_text.strip()[:40]!r}{shown}", location=location
        ) from None
    if period <= 0:
        raise CgroupParseError(f"CFS period must be positive, got {period}", location=location)
    if quota < 0:
        return None
    if quota == 0:
        raise CgroupParseError("CFS quota 0 (the kernel's minimum is 1000 us)", location=location)
    return quota / period


def parse_cpu_list(text: str, *, location: str = "cpu list") -> int:
    """Count CPUs in a kernel cpu list such as ``0-3,6,8-9`` (``cpuset.cpus``, ``cpu/online``)."""
    count = 0
    value = text.strip()
    if not value:
        raise CgroupParseError("empty cpu list", location=location)
    for chunk in value.split(","):
        lo, sep, hi = chunk.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise CgroupParseError(
                f"bad cpu list entry {chunk[:40]!r}", location=location
            ) from None
        if a < 0 or b < a:
            raise CgroupParseError(f"bad cpu range {chunk!r}", location=location)
        count += b - a + 1
    return count


@dataclass(frozen=True)
class CgroupMembership:
    """A process's cgroup paths: ``v2`` from the ``0::`` line, ``v1`` per controller."""

    v2: str | None
    v1: dict[str, str]


def parse_proc_cgroup(text: str) -> CgroupMembership:
    """``/proc/<pid>/cgroup``: ``hierarchy-ID:controller-list:path`` lines (cgroups(7)).

    Lines that do not have three fields are skipped (the file is the kernel's, never partial
    in a way that matters; a fixture with a stray line still yields the others).
    """
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if hier == "0" and controllers == "":
            v2 = path
        else:
            for c in controllers.split(","):
                if c:
                    v1[c] = path
    return CgroupMembership(v2=v2, v1=v1)


@dataclass(frozen=True)
class CgroupMount:
    """One cgroup (v1) or cgroup2 mount from ``/proc/<pid>/mountinfo``."""

    mountpoint: str
    root: str
    fstype: str
    options: frozenset[str]


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """cgroup mounts in ``mountinfo`` (proc(5): fields, ``-``, fstype, source, super options)."""
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
            root, mountpoint = fields[3], fields[4]
            fstype, superopts = fields[sep + 1], fields[sep + 3]
            mount_opts = fields[5]
        except (ValueError, IndexError):
            continue
        if fstype not in ("cgroup", "cgroup2"):
            continue
        opts = frozenset(superopts.split(",")) | frozenset(mount_opts.split(","))
        mounts.append(CgroupMount(_unescape(mountpoint), _unescape(root), fstype, opts))
    return mounts


def _unescape(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...), proc(5)
    return (
        path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


__all__ = [
    "DEFAULT_CFS_PERIOD_US",
    "V1_MEMORY_UNLIMITED",
    "CgroupMembership",
    "CgroupMount",
    "CgroupParseError",
    "parse_cpu_list",
    "parse_cpu_max",
    "parse_flat_keyed",
    "parse_memory_max",
    "parse_mountinfo",
    "parse_proc_cgroup",
    "parse_single_value",
    "parse_v1_cfs",
    "parse_v1_memory_limit",
]
