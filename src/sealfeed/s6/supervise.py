"""s6-supervise's binary ``supervise/status`` and ``supervise/death_tally`` files.

``status``: 35 bytes, ``s6_svstatus_pack`` in skarnet/s6 ``src/libs6/s6_svstatus_pack.c``,
the same in 2.11 (Debian, local mode) and 2.15 (built for the image; ``s6_svstatus_t`` and
``S6_SVSTATUS_SIZE`` in ``src/include/s6/supervise.h``):

=======  =====  ==========================================================
offset   size   field
=======  =====  ==========================================================
0        12     ``stamp``: TAI64N of the last state change (up or down)
12       12     ``readystamp``: TAI64N of the last readiness notification
24       8      ``pid`` (big-endian; 0 when the service is down)
32       2      ``wstat``: wait status of the last exit (big-endian)
34       1      flags: bit0 paused, bit1 finishing, bit2 want up, bit3 ready
=======  =====  ==========================================================

A TAI64N label is 8 bytes of seconds (``2**62`` + TAI seconds) and 4 bytes of nanoseconds;
skalibs converts the system clock to TAI with 10 s plus the leap seconds of its table
(skalibs ``tai_from_sysclock`` + ``leapsecs_add``), so ``unix = secs - 2**62 - (10 + leaps)``:
37 s for every stamp since 2017-01-01 (seen on Debian's s6 2.11: a bare 10 s is 27 s off).

``death_tally``: one 14-byte record per death of the service, oldest first, at most
``max-death-tally`` of them (default 100), appended by s6-supervise when the process dies
(``uplastup_z`` in ``src/supervision/s6-supervise.c``; ``s6_dtally_t`` / ``s6_dtally_pack``):

=======  =====  ==========================================================
offset   size   field
=======  =====  ==========================================================
0        12     ``stamp``: TAI64N of the death
12       1      ``exitcode``: the exit code, or 128 + signal when killed
13       1      ``sig``: the signal that killed it, 0 when it exited
=======  =====  ==========================================================

``status`` keeps the *last* wait status even after the restart (``wstat`` is only written on a
death), but it cannot tell "never died" from "exited 0", nor when the death was; the tally can.
"""

from __future__ import annotations

import os
import signal
import struct
from dataclasses import dataclass
from pathlib import Path

from sealfeed.errors import InputError

STATUS_SIZE = 35
_TAI_MAGIC = 1 << 62
_TAI_UTC_BASE = 10
#: Unix times at which a leap second had been inserted (IERS Bulletin C; last one 2016-12-31).
_LEAP_UNIX = (
    78796800, 94694400, 126230400, 157766400, 189302400, 220924800, 252460800, 283996800,
    315532800, 362793600, 394329600, 425865600, 489024000, 567993600, 631152000, 662688000,
    709948800, 741484800, 773020800, 820454400, 867715200, 915148800, 1136073600, 1230768000,
    1341100800, 1435708800, 1483228800,
)  # fmt: skip
_LAYOUT = struct.Struct(">QIQIQHB")  # stamp(secs,nano) readystamp(secs,nano) pid wstat flags
DTALLY_SIZE = 14
DTALLY_FILE = "death_tally"
_DTALLY = struct.Struct(">QIBB")  # stamp(secs,nano) exitcode sig


def tain_to_unix(secs: int, nano: int) -> float:
    """TAI64N label -> Unix time (0.0 for the zero label s6 uses for "never")."""
    if secs == 0:
        return 0.0
    tai = secs - _TAI_MAGIC - _TAI_UTC_BASE
    leaps = sum(1 for k, t in enumerate(_LEAP_UNIX) if tai - (k + 1) >= t)
    return float(tai - leaps) + nano / 1e9


@dataclass(frozen=True)
class SuperviseStatus:
    stamp: float
    ready_stamp: float
    pid: int
    wstat: int
    paused: bool
    finishing: bool
    want_up: bool
    ready: bool

    @property
    def up(self) -> bool:
        return self.pid > 0 and not self.finishing

    @property
    def exit_code(self) -> int | None:
        """Exit code of the last run if it exited normally, else None."""
        if self.up:
            return None
        return os.waitstatus_to_exitcode(self.wstat) if os.WIFEXITED(self.wstat) else None

    @property
    def exit_signal(self) -> int | None:
        """Signal number that killed the last run, else None."""
        if self.up or not os.WIFSIGNALED(self.wstat):
            return None
        return os.WTERMSIG(self.wstat)

    @property
    def exit_signal_name(self) -> str | None:
        sig = self.exit_signal
        return None if sig is None else name_of_signal(sig)

    def seconds_in_state(self, now: float) -> float:
        return max(0.0, now - self.stamp) if self.stamp else 0.0


def parse_supervise_status(data: bytes, *, location: str = "supervise/status") -> SuperviseStatus:
    """Decode the 35-byte status record; anything else is an :class:`InputError`."""
    if len(data) != STATUS_SIZE:
        raise InputError(
            f"s6 status record must be {STATUS_SIZE} bytes (s6 2.11 format), got {len(data)}",
            location=location,
        )
    s_secs, s_nano, r_secs, r_nano, pid, wstat, flags = _LAYOUT.unpack(data)
    return SuperviseStatus(
        stamp=tain_to_unix(s_secs, s_nano),
        ready_stamp=tain_to_unix(r_secs, r_nano),
        pid=pid,
        wstat=wstat,
        paused=bool(flags & 0x01),
        finishing=bool(flags & 0x02),
        want_up=bool(flags & 0x04),
        ready=bool(flags & 0x08),
    )


def read_supervise_status(service_dir: str | os.PathLike[str]) -> SuperviseStatus | None:
    """Status of the service at ``service_dir`` or None if it is not (yet) supervised."""
    path = Path(service_dir) / "supervise" / "status"
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return parse_supervise_status(data, location=str(path))


@dataclass(frozen=True)
class Death:
    """One death of a supervised process, as s6-supervise recorded it."""

    time: float
    #: the exit code, or 128 + signal when a signal killed it (s6's own convention)
    exit_code: int
    #: the signal number that killed it, None when it exited
    signal: int | None

    @property
    def signal_name(self) -> str | None:
        return name_of_signal(self.signal) if self.signal else None

    def describe(self) -> str:
        """``exit 1`` / ``signal SIGKILL (137)``: how the process ended."""
        if self.signal:
            return f"signal {self.signal_name} ({self.exit_code})"
        return f"exit {self.exit_code}"


def name_of_signal(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"


def parse_death_tally(data: bytes, *, location: str = DTALLY_FILE) -> list[Death]:
    """Decode a death tally (oldest first); a size that is not whole records is an error."""
    if len(data) % DTALLY_SIZE:
        raise InputError(
            f"s6 death tally must be a multiple of {DTALLY_SIZE} bytes, got {len(data)}",
            location=location,
        )
    out: list[Death] = []
    for off in range(0, len(data), DTALLY_SIZE):
        secs, nano, code, sig = _DTALLY.unpack_from(data, off)
        out.append(Death(tain_to_unix(secs, nano), code, sig or None))
    return out


def read_last_death(service_dir: str | os.PathLike[str]) -> Death | None:
    """The service's most recent death, or None (never died, not supervised, unreadable).

    Tolerant like the readers of the restart ledger: a damaged tally never stops a status
    report, it only leaves the last exit unknown.
    """
    path = Path(service_dir) / "supervise" / DTALLY_FILE
    try:
        deaths = parse_death_tally(path.read_bytes(), location=str(path))
    except (OSError, InputError):
        return None
    return deaths[-1] if deaths else None


__all__ = [
    "DTALLY_SIZE",
    "STATUS_SIZE",
    "Death",
    "SuperviseStatus",
    "name_of_signal",
    "parse_death_tally",
    "parse_supervise_status",
    "read_last_death",
    "read_supervise_status",
    "tain_to_unix",
]
