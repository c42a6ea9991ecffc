"""Shared pieces of the link tests: one fake TDX machine (synthetic Intel PKI), the
allow-list admitting its default TD, plan documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sealfeed.link.measurements import entry_json
from tests.fakes.tsm import FakeTdxHost, TdKnobs

CONFIG_HASH = "ab" * 32
OTHER_CONFIG_HASH = "cd" * 32


@pytest.fixture(scope="session")
def host() -> FakeTdxHost:
    return FakeTdxHost()


def allow_list(*tds: TdKnobs, ids: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """cvm-reverse-proxy measurements admitting exactly these TDs."""
    tds = tds or (TdKnobs(),)
    return [
        entry_json(ids[i] if i < len(ids) else f"sealfeed-{i}", dict(enumerate(td.registers())))
        for i, td in enumerate(tds)
    ]


def plan_doc(
    vm: str,
    *,
    host: FakeTdxHost,
    collateral: Path | dict[str, Any],
    listen: str | None = None,
    peers: list[dict[str, Any]] | None = None,
    targets: dict[str, str] | None = None,
    policy: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "vm": vm,
        "listen": listen,
        "peers": peers or [],
        "targets": targets or {},
        "policy": policy or {"measurements": allow_list()},
        "collateral": collateral
        if isinstance(collateral, dict)
        else {"file": str(collateral), "trust_roots": [host.root_fingerprint]},
    }
    doc.update(extra)
    return doc
