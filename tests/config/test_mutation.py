"""1,000+ random single-field edits of a signed configuration: every one is rejected."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from sealfeed.config.loader import Trust, load_verified_config
from sealfeed.config.signing import Scheme
from sealfeed.errors import SealfeedError, VerificationError

EDITS = 500  # per variant -> 1,500 in all


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            out += _paths(v, (*prefix, k))
    return out


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        root = root[p]
    return root


def _other_value(old: Any, rng: random.Random) -> Any:
    choices: list[Any] = [None, True, False, 0, 1, -5, 1.5, "", "x", "1", [], {}, [1], {"a": 1}]
    if isinstance(old, bool):
        choices.append(not old)
    elif isinstance(old, (int, float)):
        choices += [old + 1, -old if old else 7, str(old)]
    elif isinstance(old, str):
        choices += [old + "x", old[:-1], old.upper() if old.upper() != old else old.lower() + "q"]
    new = rng.choice(choices)
    while json.dumps(new) == json.dumps(old) or (type(new) is type(old) and new == old):
        new = rng.choice(choices)
    return new


def mutate(solution: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], str]:
    """One edit: change a value, add a key, or remove a key (never the signature itself)."""
    doc = copy.deepcopy(solution)
    paths = [p for p in _paths(doc) if p[0] != "signature"]
    path = rng.choice(paths)
    parent = _get(doc, path[:-1])
    op = rng.choice(["change", "change", "add", "remove"])
    if op == "add" and isinstance(parent, dict):
        key = rng.choice(["extra", "enabled", "x" + str(rng.randrange(100)), str(path[-1]) + "_"])
        if key in parent:
            key += "_new"
        parent[key] = rng.choice([1, "v", None, False])
        return doc, f"add {path[:-1]}.{key}"
    if op == "remove":
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
        return doc, f"remove {path}"
    parent[path[-1]] = _other_value(parent[path[-1]], rng)
    return doc, f"change {path}"


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["secp256k1-objecthash", "ed25519-jcs", "ed25519-jcs-embedded"])
def test_every_single_field_edit_is_rejected(
    variant: str, solution: dict[str, Any], tmp_path: Path
) -> None:
    scheme = Scheme.REFERENCE if variant.startswith("secp") else Scheme.MODERN
    key = signing.generate_key(scheme)
    trust = Trust(key.public(), "test")
    path = tmp_path / "configuration.json"
    if scheme is Scheme.REFERENCE:
        solution["signature"] = signing.sign_reference(solution, key)
    elif variant.endswith("embedded"):
        # edits inside the embedded signature document must be rejected too
        solution[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(solution, key)
    else:
        (tmp_path / "configuration.json.sig").write_text(
            json.dumps(signing.sign_modern(solution, key))
        )
    path.write_text(json.dumps({"solution": solution}))
    load_verified_config(path, trust)  # the unedited file is accepted
    rng = random.Random(20261125 + len(variant))
    accepted = []
    for _ in range(EDITS):
        edited, what = mutate(solution, rng)
        path.write_text(json.dumps({"solution": edited}))
        try:
            load_verified_config(path, trust)
        except VerificationError:
            continue
        except SealfeedError as exc:  # anything but a signature failure is a test failure
            accepted.append(f"{what}: wrong error {exc!r}")
            continue
        accepted.append(what)
    assert accepted == []
