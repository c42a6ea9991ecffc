"""Read docs/config.md as a user would: the key table and the source table, nothing else.

The tests that use this never look at the declarations to decide *what* is documented; they
parse the generated file and check it against the validator and the typed model.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.config.test_schema import reference_solution

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "config.md"
_MISSING: Any = object()


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    default: str
    meaning: str

    @property
    def ignored(self) -> bool:
        return self.meaning.startswith("**Ignored**")

    @property
    def signature(self) -> bool:
        return self.meaning.startswith("**Signature**")

    @property
    def is_object(self) -> bool:
        return self.type.startswith("object")

    def literal_default(self) -> Any:
        """The documented default when it is one JSON value (`...`), else _MISSING."""
        m = re.fullmatch(r"`(.*)`", self.default)
        return json.loads(m.group(1)) if m else _MISSING


def _cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def _section(text: str, title: str) -> list[str]:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None].splitlines()


def key_rows(text: str | None = None) -> list[Row]:
    text = DOC.read_text() if text is None else text
    rows = []
    for line in _section(text, "Keys"):
        if line.startswith("| `"):
            key, typ, default, _constraints, meaning = _cells(line)
            rows.append(Row(key.strip("`"), typ, default, meaning))
    return rows


def source_rows(text: str | None = None) -> list[dict[str, str]]:
    """The first table of the Sources section, one dict per source (header -> cell)."""
    text = DOC.read_text() if text is None else text
    lines = [ln for ln in _section(text, "Sources") if ln.startswith("|")]
    header = _cells(lines[0])
    out = []
    for line in lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            break  # the venue table follows
        out.append(dict(zip(header, cells, strict=True)))
    return out


def source_keys() -> list[str]:
    return [r["source key"].strip("`") for r in source_rows()]


def streaming_keys() -> list[str]:
    return [r["source key"].strip("`") for r in source_rows() if r["stream URL"] != "none"]


def expand(path: str) -> list[str]:
    """A documented path with ``<source>`` replaced by each source the docs list (only the
    streaming ones below ``.stream``), and ``<index>`` (a measurements register) by 0..23."""
    if "<index>" in path:
        return [p for i in range(24) for p in expand(path.replace("<index>", str(i)))]
    if "<source>" not in path:
        return [path]
    keys = streaming_keys() if "<source>.stream" in path else source_keys()
    return [path.replace("<source>", k) for k in keys]


def split(path: str) -> list[str | int]:
    """``a.b[].c`` -> ["a", "b", 0, "c"] (list items: the first)."""
    out: list[str | int] = []
    for part in path.split("."):
        if part.endswith("[]"):
            out += [part[:-2], 0]
        else:
            out.append(part)
    return out


def get(doc: Any, path: list[str | int]) -> Any:
    for p in path:
        if isinstance(p, int):
            if not isinstance(doc, list) or len(doc) <= p:
                return _MISSING
            doc = doc[p]
        elif not isinstance(doc, dict) or p not in doc:
            return _MISSING
        else:
            doc = doc[p]
    return doc


def put(doc: dict[str, Any], path: list[str | int], value: Any) -> None:
    """Set ``path`` to ``value``, creating parent objects; ``_MISSING`` removes the key."""
    cur: Any = doc
    for p in path[:-1]:
        if isinstance(p, int):
            cur = cur[p]
        else:
            if not isinstance(cur.get(p), (dict, list)):
                cur[p] = {}
            cur = cur[p]
    last = path[-1]
    if value is _MISSING:
        if isinstance(cur, dict):
            cur.pop(last, None)
    else:
        cur[last] = value


KEY = "k" * 16


def rich_solution() -> dict[str, Any]:
    """Every optional object present, so that every documented key has a context in which it
    can matter: all sources configured (keys where needed, streams where possible), push
    with URLs and basic auth for both pushers, one feed, pair TTLs."""
    sol = copy.deepcopy(reference_solution())
    pa = sol["priceAggregatorConfig"]
    pa["sources"] = {k: {"enabled": True, "apiKey": KEY} for k in source_keys()}
    for k in streaming_keys():
        pa["sources"][k]["stream"] = {"heartbeatInterval": 30000}
    pa["metricsPush"]["url"] = "https://vm.example.com/api/v1/import/prometheus"
    sol["sealfeed"] = {
        "aggregator": {"metricsPush": {"bearerToken": "t" * 16, "deleteOnShutdown": False}},
        "exporter": {
            "metricsPush": {
                "enabled": True,
                "url": "http://127.0.0.1:9091",
                "basicAuth": {"username": "u", "password": "p" * 8},
                "groupingLabels": {"service": "exporter"},
            }
        },
        "feeds": [
            {
                "name": "BTC/USD",
                "base": "BTC",
                "quote": "USD",
                "sources": ["binance", "kraken"],
                "contractAddress": "0x" + "11" * 20,
            }
        ],
        # one VM (a single entry needs no allow-list, so each key can change alone)
        "placement": [{"name": "vm-a", "nodes": [1, 2, 3, 4, 5], "address": "10.0.0.2:7400"}],
        "link": {
            "measurements": [
                # every register index present, so that each can change alone
                {
                    "measurement_id": "m",
                    "measurements": {str(i): {"expected": "ab" * 48} for i in range(24)},
                }
            ]
        },
    }
    return sol
