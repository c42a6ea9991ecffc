"""docs/config.md against the validator and the typed model (not against its own generator).

* the documented keys are exactly the keys the validator accepts, object by object;
* every documented default is what leaving the key out yields in the typed model;
* every documented key changes the typed model when its value changes -- except the keys
  documented as **Ignored** (or **Signature**), which provably never do;
* the documented per-source defaults are what the typed model gets.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from sealfeed.config import model as m
from sealfeed.config.docs import render_markdown
from sealfeed.config.schema import SOLUTION, ConfigInvalid, no_secret_files, parse_solution
from sealfeed.config.spec import Node, validate
from tests.config.docs_table import (
    _MISSING,
    DOC,
    Row,
    expand,
    get,
    key_rows,
    put,
    rich_solution,
    source_keys,
    source_rows,
    split,
    streaming_keys,
)

ROWS = key_rows()


def parse(solution: dict[str, Any]) -> m.ApplianceConfig:
    return parse_solution(solution, no_secret_files)


def with_value(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    put(doc, split(path), value)
    return doc


def test_docs_config_md_is_current() -> None:
    assert DOC.read_text() == render_markdown(), (
        "run: uv run sealfeed config schema > docs/config.md"
    )


def _accepted(node: Node, path: str = "") -> set[str]:
    """Every key path the validator's tree accepts (walked here, not by the docs generator)."""
    out: set[str] = set()
    for name, child in node.fields.items():
        sub = f"{path}.{name}" if path else name
        out.add(sub)
        item = child.item
        if child.kind == "object":
            out |= _accepted(child, sub)
        elif child.kind == "list" and item is not None and item.kind == "object":
            out |= _accepted(item, sub + "[]")
        elif child.kind == "map" and item is not None and item.kind == "object":
            for key in child.keys or ():
                out |= _accepted(item, f"{sub}.{key}")
    return out


def test_documented_paths_are_the_accepted_paths() -> None:
    documented = [p for r in ROWS for p in expand(r.path)]
    assert len(documented) == len(set(documented))
    # `stream` is documented for the sources with a stream URL; for the others the tree
    # knows the key but a rule refuses it
    others = [k for k in source_keys() if k not in streaming_keys()]
    refused = {
        p
        for p in _accepted(SOLUTION)
        if any(p.startswith(f"priceAggregatorConfig.sources.{k}.stream") for k in others)
    }
    assert set(documented) == _accepted(SOLUTION) - refused
    for k in others:
        doc = with_value(rich_solution(), f"priceAggregatorConfig.sources.{k}.stream", {})
        with pytest.raises(ConfigInvalid, match=rf"sources\.{k}\.stream: {k} has no streaming"):
            parse(doc)


def _unknown_key_problems(doc: dict[str, Any]) -> list[str]:
    _, problems = validate(SOLUTION, doc)
    return [str(p) for p in problems if "unknown key" in p.message]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.path)
def test_documented_key_is_accepted(row: Row) -> None:
    for path in expand(row.path):
        doc = with_value(rich_solution(), path, None)  # any value: only "unknown" matters
        assert _unknown_key_problems(doc) == [], path


def _has_children(row: Row) -> bool:
    return any(r.path.startswith(row.path + ".") for r in ROWS)


# objects with documented keys (free-form maps such as groupingLabels take any key)
_OBJECTS = [r for r in ROWS if r.is_object and _has_children(r)]


@pytest.mark.parametrize("row", [Row("", "object", "", ""), *_OBJECTS], ids=lambda r: r.path)
def test_undocumented_key_is_rejected(row: Row) -> None:
    """Under every documented object, a key the docs do not list is an error: the accepted
    keys are exactly the documented ones."""
    for obj_path in expand(row.path):
        base = rich_solution()
        if obj_path and (row.type.endswith("or null") or get(base, split(obj_path)) is _MISSING):
            put(base, split(obj_path), {})
        target = f"{obj_path}.zzUndocumented" if obj_path else "zzUndocumented"
        doc = with_value(base, target, 1)
        want = target.replace("[]", "[0]") + ": unknown key"
        assert any(p.startswith(want) for p in _unknown_key_problems(doc)), target


@pytest.mark.parametrize("row", [r for r in ROWS if r.literal_default() is not _MISSING],
                         ids=lambda r: r.path)  # fmt: skip
def test_documented_default_is_what_absence_yields(row: Row) -> None:
    default = row.literal_default()
    for path in expand(row.path):
        absent = with_value(rich_solution(), path, _MISSING)
        explicit = with_value(rich_solution(), path, default)
        assert parse(absent) == parse(explicit), f"{path}: documented default {default!r}"


def test_documented_required_keys_are_required() -> None:
    for row in ROWS:
        if row.default == "**required**" and "." not in row.path:
            doc = with_value(rich_solution(), row.path, _MISSING)
            with pytest.raises(ConfigInvalid) as exc:
                parse(doc)
            assert str(exc.value.problems[0]).startswith(f"{row.path}: is required")


# --- every documented key reaches the model ------------------------------------------------

_SAMPLES = [
    "0x" + "22" * 20,
    "https://changed.example.com",
    "wss://changed.example.com",
    "other_db",
    "otheruser",
    "changed-value",
    "changed.example.com:7400",
    "cd" * 48,
]


def _node(path: str) -> Node:
    node = SOLUTION
    for part in path.split("."):
        item = part[:-2] if part.endswith("[]") else part
        if part.startswith("<"):
            assert node.item is not None
            node = node.item
            continue
        node = node.fields[item]
        if part.endswith("[]"):
            assert node.item is not None
            node = node.item
    return node


def _numbers(node: Node, current: Any) -> list[Any]:
    lo = node.minimum if node.minimum is not None else 0
    hi = node.maximum if node.maximum is not None else lo + 10_000
    out: list[Any] = [lo, lo + 1, hi, (lo + hi) / 2]
    if isinstance(current, (int, float, str)) and str(current).isdigit():
        out += [int(current) + 1, int(current) - 1]
    if node.kind != "num":
        out = [int(x) for x in out]
    return [x for x in out if lo <= x <= hi]


def candidates(node: Node, current: Any) -> list[Any]:
    kind = node.kind
    out: list[Any]
    if node.secret:
        out = [x for x in ("changed-secret-" + "s" * 64, "https://u:pw@proxy.example.com:3128")
               if not node.pattern or re.fullmatch(node.pattern, x)]  # fmt: skip
    elif kind == "bool":
        out = [True, False]
    elif kind in ("int", "intstr", "num"):
        out = _numbers(node, current)
    elif kind == "str":
        out = list(node.choices or [s for s in _SAMPLES if not node.pattern
                                    or re.fullmatch(node.pattern, s)])  # fmt: skip
    elif kind == "nodelist":
        out = ["1 2", "2 3"]
        if isinstance(current, (list, str)) and len(current) > 1:  # same nodes, other order
            nodes = current.split() if isinstance(current, str) else current
            out.append(nodes[::-1])
    elif kind == "strlist":
        out = [["okx"], ["binance", "coinbase"]]
    elif kind == "boolorurl":
        out = [True, False, "http://proxy.example.com:3128"]
    elif kind == "map":
        out = [{}, {"k": "v"}]
    elif kind == "list":
        out = [[], ["ETH", "EUR"]]
    else:  # an object that may be null
        out = [None, {}]
    if node.nullable:
        out.append(None)
    return [c for c in out if c != current]


def _reachable(row: Row) -> bool:
    return not (row.is_object and not row.type.endswith("or null"))


@pytest.mark.parametrize("row", [r for r in ROWS if _reachable(r)], ids=lambda r: r.path)
def test_documented_key_reaches_the_typed_model(row: Row) -> None:
    """Changing a documented key's value changes the typed configuration services get; a key
    documented as ignored (reference compatibility) or as signature never does."""
    node = _node(row.path)
    for path in expand(row.path):
        base = rich_solution()
        before = parse(base)
        current = get(base, split(path))
        changed, valid = [], []
        for value in candidates(node, None if current is _MISSING else current):
            try:
                after = parse(with_value(base, path, value))
            except ConfigInvalid:
                continue
            valid.append(value)
            if after != before:
                changed.append(value)
        if row.ignored or row.signature:
            assert changed == [], f"{path} is documented as ignored but changes the model"
            assert valid or row.signature, f"{path}: no valid value to try"
        else:
            assert changed, f"{path}: no valid value changes the typed model (tried {valid})"


# --- the per-source defaults ---------------------------------------------------------------

SOURCES = source_rows()


@pytest.mark.parametrize("src", SOURCES, ids=lambda s: s["source key"])
def test_documented_source_defaults_reach_the_model(src: dict[str, str]) -> None:
    key = src["source key"].strip("`")
    base = rich_solution()
    entry = base["priceAggregatorConfig"]["sources"][key]
    cfg = parse(base).aggregator.sources[key]
    assert cfg.rps == float(src["rps"])  # rps absent: the documented default
    explicit = with_value(base, f"priceAggregatorConfig.sources.{key}.rps", float(src["rps"]))
    assert parse(explicit).aggregator.sources[key] == cfg
    batch = src["maxBatchSize"]
    assert cfg.max_batch_size == (int(batch) if batch else None)
    # not configured at all: on with these defaults unless it needs an API key
    del base["priceAggregatorConfig"]["sources"][key]
    absent = parse(base).aggregator.sources[key]
    assert absent.enabled is not src["API key"].startswith("required")
    assert entry["enabled"] is True
    # rps: null is unlimited (None), distinct from absent (the default above)
    null = with_value(base, f"priceAggregatorConfig.sources.{key}", {"rps": None, "apiKey": "k"})
    assert parse(null).aggregator.sources[key].rps is None
