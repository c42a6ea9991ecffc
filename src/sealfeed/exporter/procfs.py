"""Parsers for the few /proc files the exporter reads (pure: text in, data out).

Field positions are from proc(5) (``/proc/[pid]/stat``, ``/proc/[pid]/io``, ``/proc/uptime``,
``/proc/meminfo``). The cgroup files (``memory.max``, ``cpu.max``, ``cpu.stat``, ...) are parsed
by :mod:`sealfeed.cgroup`, the one cgroup parser. A malformed file raises
:class:`ProcParseError` (an :class:`~sealfeed.errors.InputError` naming the file), never
IndexError/ValueError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sealfeed.errors import InputError


class ProcParseError(InputError):
    """A /proc or cgroup file did not have the documented layout."""


@dataclass(frozen=True)
class PidStat:
    """The fields of ``/proc/<pid>/stat`` the exporter uses (proc(5) numbering, 1-based)."""

    pid: int  # (1)
    comm: str  # (2) without the parentheses, at most 15 bytes (TASK_COMM_LEN - 1)
    state: str  # (3)
    ppid: int  # (4)
    utime: int  # (14) clock ticks
    stime: int  # (15) clock ticks
    num_threads: int  # (20)
    starttime: int  # (22) clock ticks after boot
    rss_pages: int  # (24)

    @property
    def cpu_ticks(self) -> int:
        return self.utime + self.stime


def parse_pid_stat(text: str, *, location: str = "stat") -> PidStat:
    """Parse ``/proc/<pid>/stat``. ``comm`` may contain spaces and ')' -- split at the last ')'."""
    try:
        lpar = text.index("(")
        rpar = text.rindex(")")
        pid = int(text[:lpar])
        comm = text[lpar + 1 : rpar]
        rest = text[rpar + 2 :].split()
        # rest[0] is field (3); field (n) is rest[n - 3]
        return PidStat(
            pid=pid,
            comm=comm,
            state=rest[0],
            ppid=int(rest[1]),
            utime=int(rest[11]),
            stime=int(rest[12]),
            num_threads=int(rest[17]),
            starttime=int(rest[19]),
            rss_pages=int(rest[21]),
        )
    except (ValueError, IndexError):
        raise ProcParseError("not a /proc/<pid>/stat line (proc(5))", location=location) from None


def parse_keyed(text: str, *, location: str, sep: str | None = None) -> dict[str, int]:
    """``key: value`` / ``key value`` lines (``io``, ``meminfo``) -> ints.

    A trailing unit (``kB`` in meminfo) is ignored; lines that do not parse are an error.
    """
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.partition(":") if sep == ":" else line.partition(" ")
        try:
            out[key.strip()] = int(value.split()[0])
        except (ValueError, IndexError):
            raise ProcParseError(f"line {n}: expected 'key value'", location=location) from None
    return out


def parse_uptime(text: str, *, location: str = "uptime") -> float:
    """``/proc/uptime``: seconds since boot (first of two floats)."""
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        raise ProcParseError("expected '<uptime> <idle>'", location=location) from None


def parse_children(text: str, *, location: str = "children") -> list[int]:
    """``/proc/<pid>/task/<tid>/children``: space-separated child pids."""
    try:
        return [int(x) for x in text.split()]
    except ValueError:
        raise ProcParseError("expected space-separated pids", location=location) from None


def parse_int_file(text: str, *, location: str) -> int:
    """A file holding one integer (``memory.current``, ``restart-count``, ``last-restart``)."""
    try:
        return int(text.strip())
    except ValueError:
        raise ProcParseError("expected one integer", location=location) from None


# PostgreSQL backends retitle themselves (postgres.c set_ps_display / ps_status.c):
#   "postgres: [cluster_name: ]<user> <database> <host> <activity>"
# with <host> "[local]" for unix sockets or "addr(port)" for TCP. Auxiliary processes
# ("checkpointer", "walwriter", "logical replication launcher", ...) do not match.
_PG_BACKEND = re.compile(
    r"^postgres: (?:\S+: )?(?P<user>\S+) (?P<database>\S+) (?:\[local\]|\S+\(\d+\))(?: |$)"
)


def parse_pg_backend(cmdline: bytes) -> tuple[str, str] | None:
    """(database, user) of a PostgreSQL client backend from its ``cmdline``, else None."""
    title = cmdline.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    m = _PG_BACKEND.match(title)
    return (m.group("database"), m.group("user")) if m else None


__all__ = [
    "PidStat",
    "ProcParseError",
    "parse_children",
    "parse_int_file",
    "parse_keyed",
    "parse_pg_backend",
    "parse_pid_stat",
    "parse_uptime",
]
