"""``sealfeed status``: the whole appliance, every service, why it stopped.

Read only, from what the tree itself writes -- nothing is asked of a running process:

- the service list from the rendered manifest (``sealfeed-services.json``, the description
  both modes run), so services that have not started yet are shown too, and the ones
  ``sealfeed up`` skipped (with why) from its record (``run/sealfeed-up.json``);
- each service's state from s6-supervise's ``supervise/status``, its last exit (code,
  signal, time) from ``supervise/death_tally`` (:mod:`sealfeed.s6.supervise`), its restarts
  from the ledger (design §2.5);
- who runs it (the ``up.lock`` owner) and what an orphaned tree left (:mod:`.statedir`);
- the stop cause (``cause.json``, with the failing service's own last words);
- the appliance's attestation state, from ``<run>/sealfeed/attestation.json`` that the
  start-up attestation step writes (ADR 0130): one summary line and its facts.

:func:`collect` does the reading, :class:`StatusReport` is plain data with ``as_dict()`` and
``human()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sealfeed.s6.budget import load_ledger
from sealfeed.s6.hooks import read_cause
from sealfeed.s6.statedir import (
    LEFTOVERS_FILE,
    Orphans,
    Owner,
    find_orphans,
    lock_owner,
    read_record,
    svscan_listening,
)
from sealfeed.s6.supervise import read_last_death, read_supervise_status

#: written by the appliance's start-up attestation step under ``<run>/sealfeed/`` (ADR 0130;
#: ``Runtime.attestation_path``)
ATTESTATION_FILE = "attestation.json"


@dataclass(frozen=True)
class ServiceState:
    name: str
    #: longrun | oneshot | logger
    type: str
    #: up | starting | down | stopped | done | failed | skipped | not started
    state: str
    supervised: bool
    up: bool
    ready: bool
    pid: int | None
    uptime_seconds: float | None
    restarts: int
    last_restart: int | None
    #: the last exit: code (128 + signal when killed, as s6 records it), signal, Unix time
    last_exit_code: int | None
    last_exit_signal: str | None
    last_exit_time: float | None
    want_up: bool
    #: why it is skipped, or failed (the cause's reason)
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def last_exit(self) -> str:
        if self.last_exit_code is None:
            return "-"
        how = (
            f"{self.last_exit_signal} ({self.last_exit_code})"
            if self.last_exit_signal
            else f"exit {self.last_exit_code}"
        )
        if self.last_exit_time:
            how += " at " + time.strftime("%H:%M:%SZ", time.gmtime(self.last_exit_time))
        return how


def _skipped(name: str, type_: str, reason: str) -> ServiceState:
    return ServiceState(name, type_, "skipped", False, False, False, None, None, 0, None,
                        None, None, None, False, reason)  # fmt: skip


def service_state(
    name: str,
    type_: str,
    path: Path,
    ledger_dir: Path,
    now: float,
    *,
    failed: str | None = None,
    active: frozenset[str] | None = None,
) -> ServiceState:
    """One service from its supervise files; ``failed``: the cause names it (its reason);
    ``active``: the services s6-rc reports up (image mode, where a oneshot has no
    supervise dir of its own)."""
    st = read_supervise_status(path)
    ledger = load_ledger(ledger_dir)
    # a local-mode oneshot's supervised process is only its idle stand-in (local.py): its
    # deaths are not the oneshot's exits
    death = read_last_death(path) if type_ != "oneshot" else None
    code = death.exit_code if death else None
    sig = death.signal_name if death else None
    when = death.time if death else None
    if death is None and type_ != "oneshot" and st is not None and not st.up and st.wstat:
        # no tally (an s6 without one): the wait status is still the last exit
        code = st.exit_code if st.exit_code is not None else 128 + (st.exit_signal or 0)
        sig = st.exit_signal_name
    if st is None:
        if failed is not None:
            state = "failed"
        elif active is not None and name in active:
            state = "done" if type_ == "oneshot" else "up"
        else:
            state = "not started"
        return ServiceState(name, type_, state, False, False, False, None, None, ledger.total,
                            ledger.last_restart or None, code, sig, when, False,
                            failed)  # fmt: skip
    # s6-supervise only sets the ready flag through notification-fd; without one a service
    # is ready as soon as it is up (servicedir.html, "notification-fd")
    ready = st.up and (st.ready or not (path / "notification-fd").exists())
    oneshot = type_ == "oneshot"
    if oneshot and st.up:  # local mode: a oneshot idles once done (ready) -- local.py
        state = "done" if ready else ("failed" if failed is not None else "running")
    elif st.up:
        state = "up" if ready else "starting"
    elif failed is not None:
        state = "failed"
    else:
        state = "down" if st.want_up else "stopped"
    return ServiceState(
        name=name,
        type=type_,
        state=state,
        supervised=True,
        up=st.up,
        ready=ready,
        # a oneshot's own process is gone once done; what idles there is local mode's stand-in
        pid=st.pid if st.up and not oneshot else None,
        uptime_seconds=round(st.seconds_in_state(now), 3) if st.up and not oneshot else None,
        restarts=ledger.total,
        last_restart=ledger.last_restart or None,
        last_exit_code=code,
        last_exit_signal=sig,
        last_exit_time=when,
        want_up=st.want_up,
        reason=failed,
    )


def service_dirs(scandir: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """(name, dir) of every service in the scandir, loggers as ``<name>/log``."""
    out: list[tuple[str, Path]] = []
    root = Path(scandir)
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not (entry / "run").exists():
            continue
        out.append((entry.name, entry))
        if (entry / "log" / "run").exists():
            out.append((f"{entry.name}/log", entry / "log"))
    return out


def _rows(manifest: dict[str, Any] | None, scandir: Path) -> list[tuple[str, str, Path]]:
    """(name, type, service dir) in start order: the manifest's services (each logger right
    after its service), then anything else the scandir supervises."""
    rows: list[tuple[str, str, Path]] = []
    seen: set[Path] = set()
    if manifest is not None:
        services = {s["name"]: s for s in manifest.get("services", []) if isinstance(s, dict)}
        order = [n for n in manifest.get("start_order", []) if n in services]
        order += [n for n in services if n not in order]
        loggers = {s.get("logger") for s in services.values() if s.get("logger")}
        for name in order:
            if name in loggers:
                continue
            svc = services[name]
            rows.append((name, str(svc.get("type", "longrun")), scandir / name))
            logger = svc.get("logger")
            if logger:
                local = scandir / name / "log"  # local mode: the log/ subservice
                if (local / "run").exists():
                    rows.append((f"{name}/log", "logger", local))
                else:
                    rows.append((str(logger), "logger", scandir / str(logger)))
    seen = {p for _, _, p in rows}
    for name, path in service_dirs(scandir):
        if path not in seen:
            rows.append((name, "logger" if name.endswith("/log") else "longrun", path))
    return rows


def read_states(
    scandir: str | os.PathLike[str],
    run_service_dir: str | os.PathLike[str] | None = None,
    *,
    manifest: dict[str, Any] | None = None,
    skipped: list[dict[str, str]] | None = None,
    cause: dict[str, Any] | None = None,
    active: frozenset[str] | None = None,
) -> list[ServiceState]:
    """Every service: the manifest's (rendered) ones, the skipped ones, anything supervised."""
    now = time.time()
    scan = Path(scandir)
    ledgers = Path(run_service_dir) if run_service_dir else scan
    failing = str(cause.get("service")) if cause else None
    why = str(cause.get("reason") or cause.get("what") or "") if cause else None
    out = [
        service_state(
            n, t, p, ledgers / n, now, failed=why if n == failing else None, active=active
        )
        for n, t, p in _rows(manifest, scan)
    ]
    names = {s.name for s in out}
    for sk in skipped or []:
        name = str(sk.get("service"))
        if name not in names:
            out.append(_skipped(name, str(sk.get("type", "longrun")), str(sk.get("reason", ""))))
    return out


@dataclass(frozen=True)
class StatusReport:
    """Everything ``sealfeed status`` says (plain data)."""

    #: ready | starting | stopped | orphaned | running (image mode) | not started
    state: str
    scandir: str
    state_dir: str | None
    owner: Owner | None
    services: list[ServiceState]
    cause: dict[str, Any] | None
    record: dict[str, Any] | None = None
    orphans: Orphans | None = None
    #: processes a orphaned tree's finish script found and stopped ("PID comm" lines)
    swept: list[str] = field(default_factory=list)
    attestation: dict[str, object] | None = None

    def summary(self) -> str:
        where = f" (state dir {self.state_dir})" if self.state_dir else ""
        owner = f" -- sealfeed up {self.owner.describe()}" if self.owner else ""
        line = f"appliance: {self.state}{owner}{where}"
        if self.state == "stopped" and self.record and self.record.get("stopped") is None:
            pid = self.record.get("pid")
            line += f"; its `sealfeed up` (pid {pid}) ended without shutting down (killed?)"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "state_dir": self.state_dir,
            "scandir": self.scandir,
            "owner": None
            if self.owner is None
            else {"pid": self.owner.pid, "started": self.owner.started},
            "endpoints": (self.record or {}).get("endpoints"),
            "services": [s.as_dict() for s in self.services],
            "cause": self.cause,
            "orphans": None if self.orphans is None else self.orphans.as_dict(),
            "swept_leftovers": self.swept,
            "last_run": None
            if self.record is None
            else {k: self.record.get(k) for k in ("pid", "started", "stopped", "exit_code")},
            "attestation": self.attestation,
        }

    def human(self) -> str:
        lines = [self.summary()]
        endpoints = (self.record or {}).get("endpoints")
        if endpoints and self.state in ("ready", "starting"):
            lines.append("endpoints: " + ", ".join(f"{k} {v}" for k, v in endpoints.items()))
        lines.append(format_table(self.services))
        by_reason: dict[str, list[str]] = {}
        for s in self.services:
            if s.state == "skipped":
                by_reason.setdefault(s.reason or "", []).append(s.name)
        for reason, names in by_reason.items():
            lines.append(f"skipped {', '.join(names)}: {reason}")
        if self.orphans is not None:
            lines.append("orphaned: " + self.orphans.describe())
        if self.swept:
            lines.append("an orphaned tree's leftovers were stopped: " + "; ".join(self.swept))
        if self.cause:
            lines.append(str(self.cause.get("line")))
        if self.attestation is not None:
            lines.append(f"attestation: {self.attestation.get('summary')}")
        return "\n".join(lines)


def format_table(states: list[ServiceState]) -> str:
    rows = [("SERVICE", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT")]
    for s in states:
        rows.append(
            (
                s.name,
                s.type,
                s.state,
                str(s.pid or "-"),
                f"{s.uptime_seconds:.0f}s" if s.uptime_seconds is not None else "-",
                str(s.restarts) if s.state != "skipped" else "-",
                s.last_exit(),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)  # fmt: skip


def _json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _overall(services: list[ServiceState]) -> str:
    live = [s for s in services if s.state != "skipped" and s.type != "logger"]
    if live and all(s.state in ("up", "done") for s in live):
        return "ready"
    return "starting"


# --- the appliance's attestation (ADR 0130) -----------------------------------------------


def attestation_status(path: str | os.PathLike[str]) -> dict[str, object]:
    """The attestation section of ``sealfeed status``: what the start-up step wrote (the
    document the exporter serves at GET /attestation), as one summary line plus its facts."""
    from sealfeed.attest.appliance import MAX_DOCUMENT_BYTES, load_attestation_bytes
    from sealfeed.errors import InputError

    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
        doc = load_attestation_bytes(data, location=str(p))
    except FileNotFoundError:
        return {"path": str(p), "attested": False,
                "summary": "not attested: the start-up attestation step has not run"}  # fmt: skip
    except (OSError, InputError) as exc:
        return {"path": str(p), "attested": False, "summary": f"not attested: {exc}"}
    return {"path": str(p), "attested": doc.attested, "summary": doc.summary(),
            "reason": doc.reason, "image_sha256": doc.image_sha256,
            "image_source": doc.image_source, "config_hash": doc.config_hash,
            "created_at": doc.created_at}  # fmt: skip


def collect(
    *,
    scandir: Path,
    results_dir: Path,
    run_dir: Path,
    manifest_path: Path | None,
    state_dir: Path | None = None,
    active: frozenset[str] | None = None,
    attestation_path: Path | None = None,
) -> StatusReport:
    """Read the appliance's state (local mode: ``state_dir`` given; image mode: not, and
    ``active`` is what ``s6-rc -a list`` says is up)."""
    manifest = _json(manifest_path) if manifest_path else None
    cause = read_cause(results_dir)
    record = read_record(state_dir) if state_dir else None
    skipped = list((record or {}).get("skipped") or [])
    services = read_states(
        scandir, scandir, manifest=manifest, skipped=skipped, cause=cause, active=active
    )
    attestation = attestation_status(attestation_path or run_dir / "sealfeed" / ATTESTATION_FILE)
    swept: list[str] = []
    with contextlib.suppress(OSError):
        swept = [ln for ln in (run_dir / LEFTOVERS_FILE).read_text().splitlines() if ln]
    owner = lock_owner(state_dir) if state_dir else None
    orphans = None
    if state_dir is None:  # image mode: PID 1 owns the tree
        state = "running" if svscan_listening(scandir) else "stopped"
    elif owner is not None:
        state = _overall(services)
    else:
        orphans = find_orphans(state_dir)
        if orphans is not None:
            state = "orphaned"
        elif record is None and not scandir.is_dir():
            state = "not started"
        else:
            state = "stopped"
    return StatusReport(
        state=state,
        scandir=str(scandir),
        state_dir=None if state_dir is None else str(state_dir),
        owner=owner,
        services=services,
        cause=cause,
        record=record,
        orphans=orphans,
        swept=swept,
        attestation=attestation,
    )


__all__ = [
    "ATTESTATION_FILE",
    "ServiceState",
    "StatusReport",
    "attestation_status",
    "collect",
    "format_table",
    "read_states",
    "service_dirs",
    "service_state",
]
