"""Every service's state from s6's own supervise status plus the restart ledgers."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sealfeed.s6.budget import load_ledger
from sealfeed.s6.supervise import read_supervise_status


@dataclass(frozen=True)
class ServiceState:
    name: str
    supervised: bool
    up: bool
    ready: bool
    pid: int | None
    uptime_seconds: float | None
    restarts: int
    last_restart: int | None
    last_exit_code: int | None
    last_exit_signal: str | None
    want_up: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


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


def service_state(name: str, path: Path, run_service_dir: Path, now: float) -> ServiceState:
    st = read_supervise_status(path)
    ledger = load_ledger(run_service_dir / name)
    if st is None:
        return ServiceState(name, False, False, False, None, None, ledger.total,
                            ledger.last_restart or None, None, None, False)  # fmt: skip
    return ServiceState(
        name=name,
        supervised=True,
        up=st.up,
        # s6-supervise only sets the ready flag through notification-fd; without one a
        # service is ready as soon as it is up (servicedir.html, "notification-fd")
        ready=st.up and (st.ready or not (path / "notification-fd").exists()),
        pid=st.pid if st.up else None,
        uptime_seconds=round(st.seconds_in_state(now), 3) if st.up else None,
        restarts=ledger.total,
        last_restart=ledger.last_restart or None,
        last_exit_code=st.exit_code,
        last_exit_signal=st.exit_signal_name,
        want_up=st.want_up,
    )


def read_states(
    scandir: str | os.PathLike[str], run_service_dir: str | os.PathLike[str] | None = None
) -> list[ServiceState]:
    now = time.time()
    ledgers = Path(run_service_dir) if run_service_dir else Path(scandir)
    return [service_state(n, p, ledgers, now) for n, p in service_dirs(scandir)]


def format_table(states: list[ServiceState]) -> str:
    rows = [("SERVICE", "STATE", "PID", "UPTIME", "RESTARTS", "READY", "LAST EXIT")]
    for s in states:
        state = "up" if s.up else ("down" if s.supervised else "unsupervised")
        last = s.last_exit_signal or ("" if s.last_exit_code is None else str(s.last_exit_code))
        rows.append(
            (
                s.name,
                state,
                str(s.pid or "-"),
                f"{s.uptime_seconds:.0f}s" if s.uptime_seconds is not None else "-",
                str(s.restarts),
                "yes" if s.ready else "no",
                last or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)  # fmt: skip


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


__all__ = [
    "ServiceState",
    "attestation_status",
    "format_table",
    "read_states",
    "service_dirs",
    "service_state",
]
