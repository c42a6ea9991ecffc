"""Fixtures of the s6 tests that run `sealfeed up` itself."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A 0755 temp dir outside pytest's 0700 one: as root `sealfeed up` checks (and needs)
    that the `postgres` account can traverse to its state dir."""
    base = Path(tempfile.mkdtemp(prefix="sealfeed-s6-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)
