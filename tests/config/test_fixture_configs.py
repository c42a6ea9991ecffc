"""Every configuration fixture keeps loading to the same typed configuration.

tests/config/golden/typed-configs.json holds the typed configuration (secrets revealed) of
each fixture below as it was when each configuration key came to be declared once (ADR 0096),
with the intended fixes listed there. A value that changes fails here; a field added to the
model later is not in the file and is not compared. After an intended change:
``SEALFEED_UPDATE_GOLDEN=1 uv run pytest tests/config/test_fixture_configs.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config.example import example_solution
from sealfeed.config.schema import parse_solution
from sealfeed.config.spec import SecretRef
from sealfeed.s6.embedded import embedded_solution
from sealfeed.secret import Secret
from tests.config.test_schema import reference_solution

GOLDEN = Path(__file__).parent / "golden" / "typed-configs.json"


def _minimal() -> dict[str, Any]:
    return {
        "chainlinkEmail": "a@b.c",
        "chainlinkPassword": "x" * 16,
        "chainlinkKeystorePassword": "y" * 16,
        "chainlinkChainId": 1,
        "chainlinkRpcWsUrl": "wss://r",
        "chainlinkRpcHttpUrl": "https://r",
        "totalNodes": 2,
    }


def _reference_secret_files() -> dict[str, Any]:
    sol = reference_solution()
    sol["chainlinkPassword"] = {"secretFile": "cl.password"}
    sol["chainlinkKeystorePassword"] = {"secretFile": "chainlink/keystore", "generate": True}
    return sol


FIXTURES: dict[str, Callable[[], dict[str, Any]]] = {
    "example2": lambda: example_solution(2),
    "example3": lambda: example_solution(3),
    "example5": example_solution,
    "reference": reference_solution,
    "reference_secret_files": _reference_secret_files,
    "embedded": lambda: embedded_solution(Path("/tmp/state"), 4),  # paths only, nothing written
    "minimal": _minimal,
}


def deep(value: Any) -> Any:
    """JSON-able view of a typed config, secrets revealed (test placeholders only)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: deep(getattr(value, f.name)) for f in dataclasses.fields(value)
               if f.compare}  # fmt: skip
        return {"__class__": type(value).__name__, **out}
    if isinstance(value, Secret):
        return ["SECRET", value.reveal()]
    if isinstance(value, Mapping):
        return {str(k): deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [deep(v) for v in value]
    return value


def _resolve(ref: SecretRef, path: str) -> Secret:
    return Secret(f"file:{ref.file}:{ref.generate}")


def typed(name: str) -> Any:
    return json.loads(json.dumps(deep(parse_solution(FIXTURES[name](), _resolve))))


def _compare(want: Any, got: Any, path: str, out: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for k, v in want.items():
            if k not in got:
                out.append(f"{path}.{k}: gone")
            else:
                _compare(v, got[k], f"{path}.{k}", out)
    elif want != got:
        out.append(f"{path}: {want!r} -> {got!r}")


@pytest.mark.parametrize("name", list(FIXTURES))
def test_fixture_loads_to_the_recorded_typed_config(name: str) -> None:
    if os.environ.get("SEALFEED_UPDATE_GOLDEN"):
        doc = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        doc[name] = typed(name)
        GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    diffs: list[str] = []
    _compare(json.loads(GOLDEN.read_text())[name], typed(name), name, diffs)
    assert diffs == []
