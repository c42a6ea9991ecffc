"""The ``sealfeed up`` state directory: its default place, who owns it, what of it still runs.

One state dir holds one appliance. What ``up`` and ``status`` need to know about it, read
without writing anything (a refused second ``up`` must not touch a live one, issue #19):

- **owner**: the ``sealfeed up`` that holds ``<state>/up.lock`` (``flock``, released by the
  kernel however that process ends, ``kill -9`` included); the file says its pid and start;
- **tree**: every process that carries the ``SEALFEED_UP_STATE=<state>`` environment marker,
  which ``up`` gives s6-svscan and therefore every service, logger and helper below it;
- **record**: ``<state>/run/sealfeed-up.json``, written by ``up`` before anything starts:
  the services it rendered, those it skipped and why, and how the run ended.

A tree whose owner is gone is *orphaned*; ``up`` and ``status`` name its processes and say
how to stop it. Normally there is none: s6-svscan gets ``SIGTERM`` when its owner dies
(``PR_SET_PDEATHSIG``), and its ``.s6-svscan/SIGTERM`` script stops the services in order.

PostgreSQL runs as ``postgres`` when ``up`` runs as root (:func:`sealfeed.s6.local.local_users`):
:func:`unreachable_dir` finds the directory that account cannot traverse before anything is
created, so the operator gets the path to change instead of a bare "Permission denied".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import json
import os
import pwd
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealfeed.errors import ExternalError, InputError

#: environment marker inherited by every process of the tree: how the tree is found even if
#: one of its processes started its own session or lost its parent
MARKER_ENV = "SEALFEED_UP_STATE"
LOCK_FILE = "up.lock"
#: relative to the state dir, next to the scandir and the results dir (``run/``)
RECORD_FILE = "run/sealfeed-up.json"
#: under the run dir: "PID comm" of each process an orphaned tree's finish script stopped
LEFTOVERS_FILE = "leftovers"
#: root's default: /root is 0700, which the ``postgres`` account cannot traverse
ROOT_DEFAULT = "/var/lib/sealfeed/up"


def default_state_dir(env: Mapping[str, str], euid: int, home: str) -> Path:
    """``$XDG_STATE_HOME/sealfeed/up`` (XDG Base Directory: default ``~/.local/state``).

    Per user, so two users on one machine never share an appliance. For root without an
    explicit ``XDG_STATE_HOME``: ``/var/lib/sealfeed/up`` (ADR 0125), because PostgreSQL runs
    as ``postgres`` then and cannot reach anything below root's 0700 home.
    """
    xdg = env.get("XDG_STATE_HOME", "")
    if os.path.isabs(xdg):  # the spec: a relative value is invalid and ignored
        return Path(xdg) / "sealfeed" / "up"
    if euid == 0:
        return Path(ROOT_DEFAULT)
    return Path(home) / ".local" / "state" / "sealfeed" / "up"


def make_dirs(path: Path, mode: int = 0o755) -> None:
    """Create ``path`` and missing parents with exactly ``mode`` (not umask-reduced): a
    component this creates must not be what stops ``postgres`` from traversing."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, mode)
            os.chmod(d, mode)


# -- the owner ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """The ``sealfeed up`` holding a state dir (pid None: it is just starting)."""

    pid: int | None
    started: float | None

    def describe(self) -> str:
        if self.pid is None:
            return "pid unknown, starting"
        since = _iso(self.started) if self.started else "unknown"
        return f"pid {self.pid}, since {since}"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _parse_owner(text: str) -> Owner:
    try:
        doc = json.loads(text)
        pid = int(doc["pid"])
        started = float(doc["started"])
    except (ValueError, KeyError, TypeError):
        return Owner(None, None)
    return Owner(pid, started)


class UpLock:
    """``<state>/up.lock``, held (``flock LOCK_EX``) by one ``sealfeed up`` for its whole run.

    The descriptor is close-on-exec, so no service inherits it: the lock is free exactly
    when that ``up`` is gone, whatever happened to the tree it started.
    """

    def __init__(self, state: Path, fd: int) -> None:
        self.state = state
        self.fd = fd

    @classmethod
    def acquire(cls, state: Path, *, attempts: int = 10) -> UpLock:
        """Take the lock or raise "already running" (exit 2) without writing anything.

        The state dir (and missing parents, 0755) is created; the lock file is opened
        without truncation and only written once it is ours.
        """
        make_dirs(state)
        path = state / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise InputError(
                f"cannot open the lock file ({exc.strerror}): this state dir is not writable "
                "for you (another user's?); choose another --state-dir",
                location=str(path),
            ) from None
        for attempt in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise ExternalError(f"cannot lock: {exc.strerror}", location=str(path))  # noqa: B904
                if attempt + 1 == attempts:  # a reader (status) holds LOCK_SH only briefly
                    owner = _parse_owner(os.pread(fd, 4096, 0).decode(errors="replace"))
                    os.close(fd)
                    raise InputError(
                        f"sealfeed up is already running on this state dir ({owner.describe()});"
                        f" nothing was changed. See it with: sealfeed status --state-dir {state}",
                        location=str(state),
                    ) from None
                time.sleep(0.05)
        doc = json.dumps({"pid": os.getpid(), "started": time.time()}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, doc.encode(), 0)
        return cls(state, fd)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing the only descriptor releases the flock
        self.fd = -1


def lock_owner(state: Path) -> Owner | None:
    """The live owner of ``state`` or None; reads only (a shared probe, never LOCK_EX)."""
    path = state / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _parse_owner(os.pread(fd, 4096, 0).decode(errors="replace"))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# -- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeProcess:
    pid: int
    ppid: int
    comm: str

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "ppid": self.ppid, "comm": self.comm}


def tree_processes(
    state: Path, *, proc: Path = Path("/proc"), exclude: int = 0
) -> list[TreeProcess]:
    """Every live (non-zombie) process carrying ``MARKER_ENV=<state>``, by pid."""
    marker = f"{MARKER_ENV}={state}".encode()
    out: list[TreeProcess] = []
    me = os.getpid()
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) in (me, exclude):
            continue
        try:
            if marker not in (proc / entry / "environ").read_bytes().split(b"\0"):
                continue
            text = (proc / entry / "stat").read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            if fields[0] == "Z":
                continue
            out.append(TreeProcess(int(entry), int(fields[1]), comm))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out, key=lambda p: p.pid)


def svscan_listening(scandir: Path) -> bool:
    """True if an s6-svscan reads ``scandir``'s control FIFO (a writer-side open succeeds;
    without a reader it fails with ENXIO)."""
    try:
        fd = os.open(scandir / ".s6-svscan" / "control", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


@dataclass(frozen=True)
class Orphans:
    """What is left of a tree whose ``sealfeed up`` is gone, and how to stop it."""

    processes: tuple[TreeProcess, ...]
    svscan_pid: int | None

    def stop_hint(self) -> str:
        if self.svscan_pid is not None:
            return (
                f"stop it in order with: kill -TERM {self.svscan_pid} (s6-svscan; its "
                ".s6-svscan/SIGTERM stops the services in reverse dependency order)"
            )
        pids = " ".join(str(p.pid) for p in self.processes)
        return f"nothing supervises them any more; stop them with: kill {pids}"

    def describe(self) -> str:
        listed = ", ".join(f"{p.pid} ({p.comm})" for p in self.processes[:12])
        more = len(self.processes) - 12
        if more > 0:
            listed += f" and {more} more"
        return (
            f"{len(self.processes)} processes of an earlier `sealfeed up` are still running "
            f"without it: {listed}; {self.stop_hint()}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "processes": [p.as_dict() for p in self.processes],
            "svscan_pid": self.svscan_pid,
            "stop": self.stop_hint(),
        }


def find_orphans(state: Path, *, exclude: int = 0) -> Orphans | None:
    procs = tree_processes(state, exclude=exclude)
    if not procs:
        return None
    svscan = next((p.pid for p in procs if p.comm == "s6-svscan"), None)
    return Orphans(tuple(procs), svscan)


# -- the record ---------------------------------------------------------------------------


def read_record(state: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((state / RECORD_FILE).read_text())
        if isinstance(doc, dict):
            return doc
    return None


# -- can PostgreSQL's account reach it? --------------------------------------------------


@dataclass(frozen=True)
class Unreachable:
    directory: str
    mode: int
    owner: str
    group: str

    def message(self, user: str, target: str) -> str:
        return (
            f"the `{user}` account cannot reach {target}: {self.directory} is mode "
            f"{stat.filemode(self.mode)} ({self.mode & 0o7777:04o}, owner {self.owner}, group "
            f"{self.group}) and gives it no search (x) permission. PostgreSQL runs as `{user}` "
            f"when `sealfeed up` runs as root: allow it (chmod o+x {self.directory}) or choose a "
            f"--state-dir that `{user}` can reach (the default for root is {ROOT_DEFAULT})"
        )


def _name(table: str, ident: int) -> str:
    try:
        return pwd.getpwuid(ident).pw_name if table == "user" else grp.getgrgid(ident).gr_name
    except KeyError:
        return str(ident)


def unreachable_dir(target: Path, user: str) -> Unreachable | None:
    """The first existing directory on the way to ``target`` that ``user`` cannot search.

    Classic permission bits, as the kernel checks them for a non-root account (owner, then
    group membership, then other); POSIX ACLs are not evaluated. Missing components are
    created 0755 by :func:`make_dirs`, so only existing ones can block.
    """
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    if pw.pw_uid == 0:
        return None
    gids = set(os.getgrouplist(user, pw.pw_gid))
    path = Path(os.path.abspath(target))
    chain = [*reversed(path.parents), path]
    for d in chain:
        try:
            st = os.stat(d)
        except FileNotFoundError:
            return None
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            return None
        if st.st_uid == pw.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in gids:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return Unreachable(str(d), st.st_mode, _name("user", st.st_uid),
                               _name("group", st.st_gid))  # fmt: skip
    return None


__all__ = [
    "LEFTOVERS_FILE",
    "LOCK_FILE",
    "MARKER_ENV",
    "RECORD_FILE",
    "ROOT_DEFAULT",
    "Orphans",
    "Owner",
    "TreeProcess",
    "Unreachable",
    "UpLock",
    "default_state_dir",
    "find_orphans",
    "lock_owner",
    "make_dirs",
    "read_record",
    "svscan_listening",
    "tree_processes",
    "unreachable_dir",
]
