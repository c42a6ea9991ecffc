"""Shared fixtures. Component fixtures live in tests/fixtures/<name>.py and are loaded
automatically (one module per shared service: postgres, s6, pushgateway, ...)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if not p.stem.startswith("_")
)


def _find_shared() -> Path:
    for candidate in (ROOT.parent / "shared", ROOT / "shared"):
        if (candidate / "tdx-samples").is_dir():
            return candidate
    return ROOT.parent / "shared"


SHARED = _find_shared()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (TDX samples, bench harness, design)."""
    if not SHARED.is_dir():
        pytest.skip(f"SKIPPED LOUDLY: ../shared not found next to {ROOT}")
    return SHARED


@pytest.fixture(scope="session")
def tdx_samples(shared_dir: Path) -> Path:
    """``../shared/tdx-samples``: real quotes, collateral, CCEL log, Intel root CA."""
    return shared_dir / "tdx-samples"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def solution() -> dict[str, Any]:
    """A fresh, valid, reference-shaped solution object (the embedded example)."""
    from sealfeed.config.example import example_solution

    return example_solution()


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it to get a currently free TCP port on 127.0.0.1."""
    return _free_port
