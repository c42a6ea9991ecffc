"""The supervise/status decoder against files written by a real s6-supervise."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time

import pytest

from sealfeed.errors import InputError
from sealfeed.s6.supervise import (
    DTALLY_SIZE,
    STATUS_SIZE,
    parse_death_tally,
    parse_supervise_status,
    read_last_death,
    tain_to_unix,
)
from tests.fixtures.s6 import Scandir


def test_running_service_status_matches_s6_svstat(s6_scandir: Scandir) -> None:
    before = time.time()
    svc = s6_scandir.add_service("sleeper", "#!/bin/sh\nexec sleep 1000\n")
    st = s6_scandir.wait_up("sleeper")
    after = time.time()
    out = subprocess.run(["s6-svstat", "-o", "up,pid", str(svc)], capture_output=True, text=True)
    up, pid = out.stdout.split()
    assert up == "true"
    assert st.pid == int(pid)
    assert st.want_up
    # the TAI64N stamp decodes to the moment the service came up (leap seconds included)
    assert before <= st.stamp <= after
    os.kill(st.pid, 0)  # the pid is real


def test_killed_and_down_service_reports_signal(s6_scandir: Scandir) -> None:
    svc = s6_scandir.add_service("victim", "#!/bin/sh\nexec sleep 1000\n")
    s6_scandir.wait_up("victim")
    subprocess.run(["s6-svc", "-d", str(svc)], check=True)
    st = s6_scandir.wait("victim", lambda s: not s.up)
    assert not st.want_up
    assert st.exit_signal == signal.SIGTERM
    assert st.exit_signal_name == "SIGTERM"
    assert st.exit_code is None


def test_exit_code_of_failing_service(s6_scandir: Scandir) -> None:
    # "down" file: supervised but not started; then run it exactly once (s6-svc -o)
    svc = s6_scandir.add_service("failer", "#!/bin/sh\nexit 7\n", extra_files={"down": ""})
    s6_scandir.wait("failer", lambda s: not s.up)
    subprocess.run(["s6-svc", "-o", str(svc)], check=True)
    st = s6_scandir.wait("failer", lambda s: not s.up and s.wstat != 0)
    assert st.exit_code == 7
    assert st.exit_signal is None


@pytest.mark.parametrize("size", [0, 34, 36, 43])
def test_wrong_size_is_input_error(size: int) -> None:
    with pytest.raises(InputError) as exc:
        parse_supervise_status(b"\0" * size)
    assert str(STATUS_SIZE) in exc.value.message


def test_tain_conversion() -> None:
    assert tain_to_unix(0, 0) == 0.0
    secs = (1 << 62) + 37 + 1_700_000_000
    assert tain_to_unix(secs, 500_000_000) == 1_700_000_000.5
    raw = struct.pack(">QIQIQHB", secs, 0, 0, 0, 1234, 0, 0x0C)
    st = parse_supervise_status(raw)
    assert st.pid == 1234 and st.want_up and st.ready and not st.paused


def test_death_tally_records_each_death_with_code_signal_and_time(s6_scandir: Scandir) -> None:
    """The last exit survives the restart (status alone shows the new run): s6-supervise's
    death_tally, decoded, says SIGKILL / 137 and when."""
    s6_scandir.add_service("victim", "#!/bin/sh\nexec sleep 1000\n")
    first = s6_scandir.wait_up("victim")
    assert read_last_death(s6_scandir.path / "victim") is None  # never died yet
    before = time.time()
    os.kill(first.pid, signal.SIGKILL)
    s6_scandir.wait("victim", lambda s: s.up and s.pid != first.pid)
    death = read_last_death(s6_scandir.path / "victim")
    assert death is not None
    assert death.signal == signal.SIGKILL and death.exit_code == 137
    assert death.signal_name == "SIGKILL" and death.describe() == "signal SIGKILL (137)"
    assert before - 2 <= death.time <= time.time() + 1  # same TAI->Unix rule as status


def test_death_tally_exit_code(s6_scandir: Scandir) -> None:
    svc = s6_scandir.add_service("failer", "#!/bin/sh\nexit 7\n", extra_files={"down": ""})
    subprocess.run(["s6-svc", "-o", str(svc)], check=True)
    s6_scandir.wait("failer", lambda s: not s.up and s.wstat != 0)
    deadline = time.monotonic() + 5
    while read_last_death(svc) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    death = read_last_death(svc)
    assert death is not None and death.exit_code == 7 and death.signal is None
    assert death.describe() == "exit 7"


def test_death_tally_layout_and_damage() -> None:
    secs = (1 << 62) + 37 + 1_700_000_000
    raw = struct.pack(">QIBB", secs, 0, 1, 0) + struct.pack(">QIBB", secs + 5, 0, 137, 9)
    deaths = parse_death_tally(raw)
    assert [(d.time, d.exit_code, d.signal) for d in deaths] == [
        (1_700_000_000.0, 1, None),
        (1_700_000_005.0, 137, 9),
    ]
    assert parse_death_tally(b"") == []
    with pytest.raises(InputError) as exc:
        parse_death_tally(raw[:-1])
    assert str(DTALLY_SIZE) in exc.value.message
