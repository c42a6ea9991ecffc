"""Restart budget: at most ``max_restarts`` restarts per sliding window (pure core + files).

The reference counts every exit forever (``restart-count`` never decays), so a service that
crashed three times last week is one crash from taking the container down today. Here each
unexpected exit is timestamped; only exits inside the last ``window_seconds`` count against
the budget. Exit number ``max_restarts + 1`` inside the window exhausts it (default: the
4th crash within 5 minutes stops the appliance; design §2.5 ``MAX_RESTARTS=3``).

Files in ``<run_service_dir>/<service>/`` (design §2.5 paths; read by the exporter), each
replaced atomically:

- ``restart-count``   total restarts since the state dir was created (integer, monotonic)
- ``last-restart``    Unix time of the last restart (integer seconds)
- ``restart-window``  Unix times of the exits still inside the window, one per line
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from sealfeed.config.model import RestartPolicy
from sealfeed.fsutil import atomic_write

COUNT_FILE = "restart-count"
LAST_FILE = "last-restart"
WINDOW_FILE = "restart-window"


@dataclass(frozen=True)
class Ledger:
    total: int = 0
    last_restart: int = 0
    window: tuple[float, ...] = ()


@dataclass(frozen=True)
class Decision:
    ledger: Ledger
    exhausted: bool
    in_window: int


def record_exit(ledger: Ledger, now: float, policy: RestartPolicy) -> Decision:
    """Account one unexpected exit at ``now``: restart it, or the budget is exhausted."""
    horizon = now - policy.window_seconds
    window = (*(t for t in ledger.window if t > horizon), now)
    exhausted = len(window) > policy.max_restarts
    if exhausted:
        return Decision(Ledger(ledger.total, ledger.last_restart, window), True, len(window))
    return Decision(Ledger(ledger.total + 1, int(now), window), False, len(window))


def _read_int(path: Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip() or 0)
    return 0


def load_ledger(state_dir: str | os.PathLike[str]) -> Ledger:
    """Tolerant read: a missing or damaged file counts as empty (never blocks a restart)."""
    d = Path(state_dir)
    window: list[float] = []
    with contextlib.suppress(OSError):
        for line in (d / WINDOW_FILE).read_text().splitlines():
            with contextlib.suppress(ValueError):
                window.append(float(line))
    return Ledger(_read_int(d / COUNT_FILE), _read_int(d / LAST_FILE), tuple(sorted(window)))


def save_ledger(state_dir: str | os.PathLike[str], ledger: Ledger) -> None:
    d = Path(state_dir)
    atomic_write(d / WINDOW_FILE, "".join(f"{t:.3f}\n" for t in ledger.window))
    atomic_write(d / LAST_FILE, f"{ledger.last_restart}\n")
    atomic_write(d / COUNT_FILE, f"{ledger.total}\n")


__all__ = ["Decision", "Ledger", "load_ledger", "record_exit", "save_ledger"]
