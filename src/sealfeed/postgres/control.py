"""Edge module: the PostgreSQL binaries (initdb, postgres, pg_ctl, pg_controldata).

PostgreSQL refuses to run as root (``postgres`` "root execution of the PostgreSQL server is
not permitted"), so when sealfeed runs as root every server-side binary runs as the
``postgres`` OS user (``subprocess`` ``user``/``group``/``extra_groups``); otherwise as the
current user. Children get a minimal environment (PATH and a C locale), never ours, so no
secret in our environment reaches them.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sealfeed.errors import ExternalError, InputError

_log = logging.getLogger("sealfeed.postgres")

ENV_BIN = "SEALFEED_PG_BIN"
ENV_OS_USER = "SEALFEED_PG_OS_USER"
#: Debian/Ubuntu layout: /usr/lib/postgresql/<major>/bin
_DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    version: str
    major: int

    def path(self, name: str) -> str:
        return str(self.bin_dir / name)


@dataclass(frozen=True)
class OsUser:
    """Who runs the server-side binaries (``None`` uid = the current user, no switch)."""

    name: str
    uid: int
    gid: int
    switch: bool

    def chown(self, path: str | os.PathLike[str]) -> None:
        if self.switch:
            os.chown(path, self.uid, self.gid)


def server_user(name: str | None = None) -> OsUser:
    """``postgres`` (or ``$SEALFEED_PG_OS_USER``) when root; the current user otherwise."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return OsUser(me.pw_name, me.pw_uid, me.pw_gid, switch=False)
    wanted = name or os.environ.get(ENV_OS_USER) or "postgres"
    try:
        ent = pwd.getpwnam(wanted)
    except KeyError:
        raise ExternalError(
            f"running as root but OS user {wanted!r} does not exist; PostgreSQL refuses to run "
            "as root (create the user or set SEALFEED_PG_OS_USER)",
            location="os user",
        ) from None
    if ent.pw_uid == 0:
        raise InputError(f"OS user {wanted!r} is root; PostgreSQL refuses to run as root")
    return OsUser(ent.pw_name, ent.pw_uid, ent.pw_gid, switch=True)


def _child_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
    }


def _version_of(postgres: str) -> tuple[str, int]:
    try:
        out = subprocess.run(
            [postgres, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env=_child_env(),
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExternalError(f"cannot run {postgres} --version: {exc}", location=postgres) from None
    m = _VERSION_RE.search(out)
    if m is None:
        raise ExternalError(f"unrecognised version string {out.strip()!r}", location=postgres)
    return f"{m[1]}.{m[2] or 0}", int(m[1])


def find_binaries(bin_dir: str | os.PathLike[str] | None = None) -> PgBinaries:
    """``--pg-bin``, ``$SEALFEED_PG_BIN``, ``postgres`` on PATH, then Debian's newest."""
    candidates: list[Path] = []
    explicit = bin_dir or os.environ.get(ENV_BIN)
    if explicit:
        candidates.append(Path(explicit))
    else:
        on_path = shutil.which("postgres")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
        debian = sorted(
            glob.glob(_DEBIAN_GLOB),
            key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
            reverse=True,
        )
        candidates += [Path(p) for p in debian]
    for cand in candidates:
        if (cand / "postgres").is_file() and (cand / "initdb").is_file():
            version, major = _version_of(str(cand / "postgres"))
            return PgBinaries(cand, version, major)
    where = str(explicit) if explicit else f"PATH and {_DEBIAN_GLOB}"
    raise ExternalError(
        "PostgreSQL binaries (postgres, initdb) not found; install PostgreSQL or pass --pg-bin",
        location=where,
    )


def run_as(
    user: OsUser,
    cmd: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 120,
    check: bool = True,
    cwd: str | None = None,
    what: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as ``user``; a failure is an :class:`ExternalError`."""
    try:
        proc: subprocess.CompletedProcess[str] = subprocess.run(
            list(cmd),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_child_env(),
            cwd=cwd or "/",
            user=user.uid if user.switch else None,
            group=user.gid if user.switch else None,
            extra_groups=[] if user.switch else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExternalError(f"cannot run {cmd[0]}: {exc}", location=what or cmd[0]) from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = " | ".join(detail[-5:]) if detail else "no output"
        raise ExternalError(
            f"{Path(cmd[0]).name} exited {proc.returncode}: {tail}", location=what or cmd[0]
        )
    return proc


def known_settings(bins: PgBinaries) -> frozenset[str]:
    """Every GUC the server knows (``postgres --describe-config``; allowed as root)."""
    try:
        out = subprocess.run(
            [bins.path("postgres"), "--describe-config"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=_child_env(),
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExternalError(
            f"postgres --describe-config failed: {exc}", location=bins.path("postgres")
        ) from None
    # GUC names are case-insensitive ("TimeZone"); compare in lower case
    return frozenset(line.split("\t", 1)[0].lower() for line in out.splitlines() if line.strip())


def initdb(
    bins: PgBinaries, user: OsUser, data_dir: Path, *, superuser: str, verifier: str
) -> None:
    """``initdb`` with checksums, UTF8, C locale and SCRAM; the superuser gets ``verifier``.

    ``--pwfile`` receives the SCRAM verifier, not the password: initdb sets it with
    ``ALTER ROLE ... PASSWORD``, which stores a pre-hashed verifier as is. The file lives in
    a 0700 directory owned by the server user and is removed straight after.
    """
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=".sealfeed-initdb-", dir=data_dir.parent))
    try:
        user.chown(tmp)
        pwfile = tmp / "pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(verifier + "\n")
        user.chown(pwfile)
        run_as(
            user,
            [
                bins.path("initdb"),
                "--pgdata",
                str(data_dir),
                "--data-checksums",
                "--encoding=UTF8",
                # C: no dependency on the image's glibc/ICU collation version
                "--locale=C",
                "--auth=scram-sha-256",
                f"--username={superuser}",
                f"--pwfile={pwfile}",
            ],
            what=str(data_dir),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def controldata(bins: PgBinaries, data_dir: Path) -> Mapping[str, str]:
    """``pg_controldata`` as a dict; a CRC mismatch (corrupt pg_control) is an error.

    Runs as the calling user (it only reads, and root may run it), so a cluster whose owner
    is wrong can still be checked before anything is changed.
    """
    me = pwd.getpwuid(os.geteuid())
    proc = run_as(
        OsUser(me.pw_name, me.pw_uid, me.pw_gid, switch=False),
        [bins.path("pg_controldata"), str(data_dir)],
        check=False,
        what=str(data_dir),
    )
    text = proc.stdout + proc.stderr
    if proc.returncode != 0 or "crc checksum does not match" in text.lower():
        lines = [ln for ln in text.strip().splitlines() if ln][:3]
        raise InputError(
            "pg_control is unreadable or corrupt (" + " | ".join(lines) + "); refusing to "
            "touch this data directory",
            location=str(data_dir / "global" / "pg_control"),
        )
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def check_config(bins: PgBinaries, user: OsUser, data_dir: Path, conf: Path) -> None:
    """Let the server parse ``conf`` (``postgres -C``): an invalid file fails here, not at boot."""
    run_as(
        user,
        [
            bins.path("postgres"),
            "-D",
            str(data_dir),
            "-c",
            f"config_file={conf}",
            "-C",
            "max_connections",
        ],
        what=str(conf),
        timeout=60,
    )


def set_password_single_user(
    bins: PgBinaries, user: OsUser, data_dir: Path, *, role: str, verifier: str
) -> None:
    """Set ``role``'s password with the server stopped (single-user mode, SQL on stdin)."""
    from psycopg import sql

    stmt = (
        sql.SQL("ALTER ROLE {} PASSWORD {};\n")
        .format(sql.Identifier(role), sql.Literal(verifier))
        .as_string(None)
    )
    run_as(
        user,
        [bins.path("postgres"), "--single", "-D", str(data_dir), "-j", "postgres"],
        input=stmt,
        what=str(data_dir),
    )


def pg_ctl_start(
    bins: PgBinaries, user: OsUser, data_dir: Path, *, log_file: Path, timeout: int = 60
) -> None:
    """Start the server in the background and wait until it accepts connections."""
    run_as(
        user,
        [
            bins.path("pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log_file),
            "-w",
            "-t",
            str(timeout),
            "start",
        ],
        timeout=timeout + 10,
        what=str(data_dir),
    )


def pg_ctl_stop(bins: PgBinaries, user: OsUser, data_dir: Path, *, mode: str = "fast") -> None:
    run_as(
        user,
        [bins.path("pg_ctl"), "-D", str(data_dir), "-m", mode, "-w", "-t", "60", "stop"],
        timeout=70,
        what=str(data_dir),
    )


def postmaster_running(data_dir: Path) -> int | None:
    """PID from ``postmaster.pid`` if that process exists (first line of the file)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


#: postmaster.pid line 8 holds the postmaster status; "ready" once it accepts connections
#: (PostgreSQL ``src/include/utils/pidfile.h``: LOCK_FILE_LINE_PM_STATUS, PM_STATUS_READY).
_PM_STATUS_LINE = 8


def postmaster_status(data_dir: Path) -> str | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) < _PM_STATUS_LINE:
        return None
    return lines[_PM_STATUS_LINE - 1].strip()


def _readiness_watcher(data_dir: Path, server_pid: int, notify_fd: int) -> None:
    """In a detached grandchild: write a newline to ``notify_fd`` once the server is ready."""
    try:
        while True:
            try:
                os.kill(server_pid, 0)
            except ProcessLookupError:
                return  # the server died before it was ready: s6 sees no readiness
            except PermissionError:
                pass
            if postmaster_status(data_dir) == "ready":
                os.write(notify_fd, b"\n")
                return
            time.sleep(0.05)
    finally:
        os._exit(0)


def exec_server(
    bins: PgBinaries, user: OsUser, data_dir: Path, *, notify_fd: int | None = None
) -> None:
    """Replace this process with ``postgres -D data_dir`` as the server user (s6 run).

    With ``notify_fd`` (s6 ``notification-fd``), a double-forked watcher -- reparented to
    the supervisor, never a child of the postmaster, which treats unknown children as
    crashed backends -- writes a newline there once postmaster.pid says "ready".
    """
    if notify_fd is not None:
        os.fstat(notify_fd)  # fail here, not silently in the watcher, if it is not open
        server_pid = os.getpid()
        child = os.fork()
        if child == 0:
            if os.fork() == 0:
                _readiness_watcher(data_dir, server_pid, notify_fd)
            os._exit(0)
        os.waitpid(child, 0)
        os.close(notify_fd)
    if user.switch:
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)
    env = _child_env()
    with contextlib.suppress(OSError):
        os.chdir(data_dir)
    os.execve(bins.path("postgres"), [bins.path("postgres"), "-D", str(data_dir)], env)  # noqa: S606


__all__ = [
    "OsUser",
    "PgBinaries",
    "check_config",
    "controldata",
    "exec_server",
    "find_binaries",
    "initdb",
    "known_settings",
    "pg_ctl_start",
    "pg_ctl_stop",
    "postmaster_running",
    "postmaster_status",
    "run_as",
    "server_user",
    "set_password_single_user",
]
