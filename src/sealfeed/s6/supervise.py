"""s6-supervise's binary ``supervise/status`` file (s6 2.11, ``s6_svstatus_pack``).

Layout, 35 bytes, from skarnet/s6 ``src/libs6/s6_svstatus_pack.c`` (v2.11.x):

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
        if sig is None:
            return None
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"SIG{sig}"

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


__all__ = [
    "STATUS_SIZE",
    "SuperviseStatus",
    "parse_supervise_status",
    "read_supervise_status",
    "tain_to_unix",
]
