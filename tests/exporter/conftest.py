"""Local fixtures for the exporter tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from sealfeed.s6.supervise import read_supervise_status
from tests.fixtures.s6 import Scandir


def stop_service_trees(scandir: os.PathLike[str] | str) -> None:
    """Take every service down and kill its whole process group.

    s6-supervise starts each run script as a session/process-group leader; stopping
    s6-svscan signals only that pid, so background children of a shell run script would
    outlive the test. ``s6-svc -d`` first, so s6 does not restart what we kill."""
    for entry in sorted(os.scandir(scandir), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        st = read_supervise_status(entry.path)
        subprocess.run(["s6-svc", "-d", entry.path], capture_output=True, check=False)
        if st is not None and st.pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(st.pid, signal.SIGKILL)


@pytest.fixture
def exporter_s6(s6_scandir: Scandir) -> Iterator[Scandir]:
    """``s6_scandir`` whose services' whole process trees are killed at teardown."""
    try:
        yield s6_scandir
    finally:
        stop_service_trees(s6_scandir.path)
