"""``sealfeed pg bootstrap``: create or keep the cluster, then write the tuned config.

Idempotent and careful with data: an empty or missing data directory gets ``initdb``; an
existing cluster of the same major version is kept (its ``pg_control`` must pass
``pg_controldata``'s CRC check); anything else -- another major version, a directory that is
not a cluster, a corrupt ``PG_VERSION``/``pg_control`` -- is a clear error and the directory
is left exactly as it was.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sealfeed.config.model import NodeSpec, PostgresConfig
from sealfeed.errors import ExternalError, InputError
from sealfeed.fsutil import atomic_write
from sealfeed.postgres import control
from sealfeed.postgres.limits import Limits
from sealfeed.postgres.render import check_name, render_pg_hba, render_postgresql_conf
from sealfeed.postgres.scram import scram_verifier
from sealfeed.postgres.secrets import ensure_secret, superuser_password_path
from sealfeed.postgres.tune import TuneInputs, TuneResult, tune

_log = logging.getLogger("sealfeed.postgres")

_PG_VERSION_RE = re.compile(r"^(\d+)(?:\.\d+)?\n?$")


@dataclass(frozen=True)
class DataDirState:
    kind: Literal["absent", "empty", "cluster"]
    major: int | None = None


def inspect_data_dir(path: Path) -> DataDirState:
    """Classify ``path`` without changing it; foreign or corrupt content raises InputError."""
    if not path.exists():
        return DataDirState("absent")
    if not path.is_dir():
        raise InputError("data directory path exists and is not a directory", location=str(path))
    try:
        entries = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        raise InputError(
            f"cannot list the data directory: {exc.strerror}", location=str(path)
        ) from None
    if not entries:
        return DataDirState("empty")
    if "PG_VERSION" not in entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        hint = (
            " (a filesystem root: use a subdirectory of it as the data directory)"
            if entries == ["lost+found"]
            else ""
        )
        raise InputError(
            f"not empty and not a PostgreSQL cluster (no PG_VERSION; found {shown}); "
            f"refusing to initialise over it{hint}",
            location=str(path),
        )
    try:
        raw = (path / "PG_VERSION").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raw = ""
    m = _PG_VERSION_RE.match(raw)
    if m is None:
        raise InputError(
            f"PG_VERSION is corrupt ({raw[:20]!r}); refusing to touch this cluster",
            location=str(path / "PG_VERSION"),
        )
    if not (path / "global" / "pg_control").is_file():
        raise InputError(
            "cluster has no global/pg_control (corrupt or incomplete); refusing to touch it",
            location=str(path),
        )
    return DataDirState("cluster", int(m[1]))


@dataclass(frozen=True)
class BootstrapReport:
    data_dir: str
    action: Literal["initialized", "kept"]
    version: str
    checksums: bool
    conf_changed: bool
    hba_changed: bool
    superuser_password_file: str
    superuser_password_generated: bool
    superuser_password_reset: bool
    tune: TuneResult = field(repr=False)
    #: the server was running: a changed postgresql.conf/pg_hba.conf needs a reload/restart
    server_running: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": True,
            "data_dir": self.data_dir,
            "action": self.action,
            "version": self.version,
            "data_checksums": self.checksums,
            "postgresql_conf_changed": self.conf_changed,
            "pg_hba_conf_changed": self.hba_changed,
            "superuser_password_file": self.superuser_password_file,
            "superuser_password_generated": self.superuser_password_generated,
            "superuser_password_reset": self.superuser_password_reset,
            "server_running": self.server_running,
            "settings": {s.name: s.value for s in self.tune.settings},
            "skipped_settings": [s.name for s in self.tune.skipped],
        }


def tune_for(
    pg: PostgresConfig,
    nodes: Sequence[NodeSpec],
    limits: Limits,
    bins: control.PgBinaries | None,
    known: frozenset[str] | None,
) -> TuneResult:
    memory, msrc = limits.memory_bytes, limits.memory_source
    if pg.memory_limit_mb is not None:
        memory, msrc = pg.memory_limit_mb * 1024 * 1024, "postgres.memory_limit_mb"
    cpus, csrc = limits.cpus, limits.cpu_source
    if pg.cpu_limit is not None:
        cpus, csrc = pg.cpu_limit, "postgres.cpu_limit"
    return tune(
        TuneInputs(
            memory_bytes=memory,
            cpus=cpus,
            nodes=len(nodes),
            pool_per_node=pg.max_open_conns_per_node,
            listen_tcp=pg.listen_tcp,
            host=pg.host,
            port=pg.port,
            socket_dir=pg.socket_dir,
            memory_source=msrc,
            cpu_source=csrc,
            major=bins.major if bins else None,
            known_settings=known,
        )
    )


def _write_owned(path: Path, text: str, user: control.OsUser) -> bool:
    """Write ``text`` 0600 owned by the server user; False if the file already had it."""
    try:
        if path.read_text() == text:
            st = path.stat()
            if not user.switch or st.st_uid == user.uid:
                return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text, mode=0o600)
    user.chown(path)
    return True


def _ensure_socket_dir(pg: PostgresConfig, user: control.OsUser) -> None:
    sock = Path(pg.socket_dir)
    sock.mkdir(parents=True, exist_ok=True)
    # the server creates its socket + lock file here; clients only need to traverse it
    user.chown(sock)
    if sock.stat().st_uid == user.uid:
        sock.chmod(0o755)


def bootstrap(
    pg: PostgresConfig,
    nodes: Sequence[NodeSpec],
    *,
    secrets_dir: str | os.PathLike[str],
    limits: Limits,
    bins: control.PgBinaries | None = None,
    user: control.OsUser | None = None,
    reset_superuser_password: bool = False,
) -> BootstrapReport:
    """initdb if needed, keep an existing cluster, (re)write postgresql.conf + pg_hba.conf.

    ``reset_superuser_password`` sets the superuser's password of a kept (stopped) cluster
    from its secret file, e.g. after the secrets directory was restored from elsewhere.
    """
    bins = bins or control.find_binaries()
    user = user or control.server_user()
    su = check_name(pg.superuser, where="postgres.superuser")
    data = Path(pg.data_dir)
    if not data.is_absolute():
        raise InputError("data directory must be an absolute path", location="postgres.data_dir")

    state = inspect_data_dir(data)
    if state.kind == "cluster" and state.major != bins.major:
        raise InputError(
            f"cluster is PostgreSQL {state.major}, the installed server is {bins.major}; "
            "refusing to touch it (upgrade with pg_upgrade first)",
            location=str(data / "PG_VERSION"),
        )
    # render before changing anything: a bad config must not leave a half-made cluster
    known = control.known_settings(bins)
    result = tune_for(pg, nodes, limits, bins, known)
    conf_text = render_postgresql_conf(result)
    hba_text = render_pg_hba(pg, nodes)

    cdata = control.controldata(bins, data) if state.kind == "cluster" else {}
    # the secret file only after the cluster passed its checks: a refused directory leaves
    # the secrets directory untouched too
    pw_path = superuser_password_path(secrets_dir)
    generated = not pw_path.exists()
    password = ensure_secret(pw_path)
    reset = False

    if state.kind == "cluster":
        checksums = cdata.get("Data page checksum version", "0") not in ("0", "")
        if user.switch and data.stat().st_uid != user.uid:
            _log.warning(
                "cluster not owned by the server user; fixing ownership",
                extra={"event": "pg_chown", "data_dir": str(data), "user": user.name},
            )
            _chown_tree(data, user)
        if generated or reset_superuser_password:
            # a kept cluster whose superuser password file is new (or asked for): set it
            if control.postmaster_running(data) is not None:
                raise ExternalError(
                    "cannot set the superuser password of an existing cluster while the "
                    "server is running; stop it and re-run bootstrap",
                    location=str(pw_path),
                )
            control.set_password_single_user(
                bins, user, data, role=su, verifier=scram_verifier(password)
            )
            reset = True
        action: Literal["initialized", "kept"] = "kept"
    else:
        _initdb(bins, user, data, state, su, scram_verifier(password))
        checksums = True
        action = "initialized"

    # candidate config next to the real one, validated by the server before it replaces it
    conf = data / "postgresql.conf"
    conf_changed = False
    if not _same(conf, conf_text, user):
        candidate = data / ".postgresql.conf.sealfeed-new"
        atomic_write(candidate, conf_text, mode=0o600)
        user.chown(candidate)
        try:
            control.check_config(bins, user, data, candidate)
            os.replace(candidate, conf)
        finally:
            candidate.unlink(missing_ok=True)
        conf_changed = True
    hba_changed = _write_owned(data / "pg_hba.conf", hba_text, user)
    _ensure_socket_dir(pg, user)
    report = BootstrapReport(
        data_dir=str(data),
        action=action,
        version=bins.version,
        checksums=checksums,
        conf_changed=conf_changed,
        hba_changed=hba_changed,
        superuser_password_file=str(pw_path),
        superuser_password_generated=generated,
        superuser_password_reset=reset,
        tune=result,
        server_running=control.postmaster_running(data) is not None,
    )
    _log.info(
        "postgres bootstrap done",
        extra={
            "event": "pg_bootstrap",
            "action": action,
            "data_dir": str(data),
            "conf_changed": conf_changed,
            "hba_changed": hba_changed,
        },
    )
    return report


def _same(path: Path, text: str, user: control.OsUser) -> bool:
    try:
        if path.read_text() != text:
            return False
        return not user.switch or path.stat().st_uid == user.uid
    except (OSError, UnicodeDecodeError):
        return False


def _chown_tree(root: Path, user: control.OsUser) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        user.chown(dirpath)
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), user.uid, user.gid, follow_symlinks=False)


def _initdb(
    bins: control.PgBinaries,
    user: control.OsUser,
    data: Path,
    state: DataDirState,
    superuser: str,
    verifier: str,
) -> None:
    if state.kind == "empty":
        # initdb accepts an empty directory it owns (e.g. a mounted volume)
        user.chown(data)
        data.chmod(0o700)
        control.initdb(bins, user, data, superuser=superuser, verifier=verifier)
        return
    # absent: build next to it and rename, so an interrupted initdb never leaves a
    # half-made directory at the real path (which the next boot would refuse to touch)
    data.parent.mkdir(parents=True, exist_ok=True)
    staging = data.parent / f".{data.name}.initdb-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(mode=0o700)
        user.chown(staging)
        control.initdb(bins, user, staging, superuser=superuser, verifier=verifier)
        os.rename(staging, data)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["BootstrapReport", "DataDirState", "bootstrap", "inspect_data_dir", "tune_for"]
