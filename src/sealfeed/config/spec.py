"""A tiny declarative schema engine: validate JSON, collect *every* problem with its JSON path.

The tree of :class:`Node` that validates ``configuration.json`` and generates
``docs/config.md`` is derived from the model's field declarations
(:mod:`sealfeed.config.declare`).

Validation never stops at the first problem: each one is reported as
``<json.path>: <what is wrong>, got <value>``; unknown keys are errors with a "did you mean"
for near misses. Secret values are never echoed in messages.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sealfeed.secret import Secret

_MISSING: Any = object()


@dataclass(frozen=True)
class SecretRef:
    """A secret that lives in a file under the secrets directory (``{"secretFile": "x"}``);
    with ``"generate": true`` a missing file is created with a random value inside the TEE
    (internal passwords nobody outside needs to know)."""

    file: str
    generate: bool = False


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Node:
    """One schema node. ``kind`` is one of the ``_CHECKS`` keys, ``object``, ``list``, ``map``."""

    kind: str
    doc: str = ""
    default: Any = _MISSING
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    fields: Mapping[str, Node] = field(default_factory=dict)
    item: Node | None = None
    #: for ``map``: the allowed keys (None = any string)
    keys: tuple[str, ...] | None = None
    #: for ``object``/``map``: cross-field rule -> list of (relative key, message)
    rule: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None
    secret: bool = False
    #: "" (reaches the typed model), "ignored" (reference compatibility: accepted, never
    #: read) or "signature" (read by the signature check, not part of the typed model)
    role: str = ""
    #: docs text for a default that is not one JSON value ("per source", "1..totalNodes")
    default_doc: str = ""
    #: for ``map``: how docs name a key (``priceAggregatorConfig.sources.<source>.ttl``)
    placeholder: str = "name"

    def type_name(self) -> str:
        names = {
            "str": "string",
            "int": "integer",
            "num": "number",
            "bool": "boolean",
            "intstr": "integer or digit string",
            "nodelist": 'node numbers ("1 2 3" or [1, 2, 3])',
            "strlist": "string or list of strings",
            "boolorurl": "boolean or URL",
            "object": "object",
            "list": "list",
            "map": "object (map)",
        }
        base = names.get(self.kind, self.kind)
        if self.secret:
            base = 'secret string (or {"secretFile": "name", "generate"?: bool})'
        if self.kind == "list" and self.item is not None and self.item.kind != "object":
            base = f"list of {self.item.type_name()}"
        return base + (" or null" if self.nullable else "")


def obj(fields: Mapping[str, Node], doc: str = "", **kw: Any) -> Node:
    return Node("object", doc=doc, fields=fields, **kw)


def s(doc: str, **kw: Any) -> Node:
    return Node("str", doc=doc, **kw)


def secret(doc: str, **kw: Any) -> Node:
    return Node("str", doc=doc, secret=True, **kw)


def i(doc: str, **kw: Any) -> Node:
    return Node("int", doc=doc, **kw)


def n(doc: str, **kw: Any) -> Node:
    return Node("num", doc=doc, **kw)


def b(doc: str, **kw: Any) -> Node:
    return Node("bool", doc=doc, **kw)


def _show(value: Any, node: Node | None = None) -> str:
    if node is not None and node.secret:
        return "<secret>"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


class Validator:
    """Walks a value against a :class:`Node`, returning plain Python data and problems."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def err(self, path: str, message: str) -> None:
        self.problems.append(ConfigProblem(path or "$", message))

    def run(self, node: Node, value: Any, path: str) -> Any:
        if value is None and node.nullable:
            return None
        kind = node.kind
        if node.secret:
            return self._secret(node, value, path)
        handler = getattr(self, f"_v_{kind}")
        result: Any = handler(node, value, path)
        return result

    # -- scalars --------------------------------------------------------------------------
    def _expect(self, node: Node, value: Any, path: str, want: str) -> None:
        self.err(path, f"must be {want}, got {_json_type(value)} {_show(value, node)}")

    def _range(self, node: Node, value: float, path: str) -> None:
        if node.minimum is not None and value < node.minimum:
            self.err(path, f"must be >= {_num(node.minimum)}, got {_show(value)}")
        if node.maximum is not None and value > node.maximum:
            self.err(path, f"must be <= {_num(node.maximum)}, got {_show(value)}")

    def _v_str(self, node: Node, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self._expect(node, value, path, "a string")
            return None
        self._string_rules(node, value, path)
        return value

    def _string_rules(self, node: Node, value: str, path: str) -> None:
        shown = _show(value, node)
        if node.min_length is not None and len(value) < node.min_length:
            self.err(path, f"must be at least {node.min_length} characters, got {len(value)}")
        if node.pattern is not None and not re.fullmatch(node.pattern, value):
            self.err(path, f"must match {node.pattern}, got {shown}")
        if node.choices is not None and value not in node.choices:
            hint = _did_you_mean(value, node.choices)
            self.err(path, f"must be one of {', '.join(node.choices)}, got {shown}{hint}")

    def _secret(self, node: Node, value: Any, path: str) -> Secret | SecretRef | None:
        if isinstance(value, dict):
            extra = sorted(set(value) - {"secretFile", "generate"})
            ref = value.get("secretFile")
            generate = value.get("generate", False)
            if extra or not isinstance(ref, str) or not ref or not isinstance(generate, bool):
                self.err(
                    path,
                    'a secret reference must be {"secretFile": "<file name>"} with an optional '
                    '"generate": true|false',
                )
                return None
            if ref.startswith("/") or ".." in ref.split("/"):
                self.err(path + ".secretFile", "must be a relative path inside the secrets dir")
                return None
            return SecretRef(ref, generate)
        if not isinstance(value, str):
            self.err(path, f"must be a string or a secret reference, got {_json_type(value)}")
            return None
        self._string_rules(node, value, path)
        return Secret(value)

    def _v_int(self, node: Node, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._expect(node, value, path, "an integer")
            return None
        if isinstance(value, float) and not value.is_integer():
            self.err(path, f"must be an integer, got {_show(value)}")
            return None
        self._range(node, value, path)
        return int(value)

    def _v_num(self, node: Node, value: Any, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._expect(node, value, path, "a number")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.err(path, "must be a finite number")
            return None
        self._range(node, value, path)
        return value

    def _v_bool(self, node: Node, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self._expect(node, value, path, "true or false")
            return None
        return value

    def _v_intstr(self, node: Node, value: Any, path: str) -> int | None:
        # The reference keeps counts as digit strings ("totalNodes": "5"); accept both.
        if isinstance(value, str):
            if not re.fullmatch(r"[0-9]+", value):
                self.err(path, f"must be a whole number (digits), got {_show(value)}")
                return None
            return self._v_int(node, int(value), path)
        return self._v_int(node, value, path)

    def _v_nodelist(self, node: Node, value: Any, path: str) -> tuple[int, ...] | None:
        items: list[Any]
        if isinstance(value, str):
            items = value.split()
        elif isinstance(value, list):
            items = value
        else:
            self._expect(node, value, path, 'a space-separated string ("1 2 3") or a list')
            return None
        out: list[int] = []
        for k, item in enumerate(items):
            got = self._v_intstr(Node("intstr", minimum=1), item, f"{path}[{k}]")
            if got is not None:
                out.append(got)
        if len(set(out)) != len(out):
            self.err(path, f"lists a node twice: {_show(value)}")
        return tuple(out)

    def _v_strlist(self, node: Node, value: Any, path: str) -> tuple[str, ...] | None:
        if isinstance(value, str):
            return tuple(x for x in re.split(r"[\s,]+", value) if x)
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return tuple(value)
        self._expect(node, value, path, "a string or a list of strings")
        return None

    def _v_boolorurl(self, node: Node, value: Any, path: str) -> bool | Secret | None:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"https?://.+", value):
            return Secret(value)  # a proxy URL may carry credentials
        self.err(path, f"must be true, false or an http(s):// proxy URL, got {_json_type(value)}")
        return None

    # -- containers -----------------------------------------------------------------------
    def _v_list(self, node: Node, value: Any, path: str) -> tuple[Any, ...] | None:
        if not isinstance(value, list):
            self._expect(node, value, path, "a list")
            return None
        if node.minimum is not None and len(value) < node.minimum:
            self.err(path, f"must have at least {_num(node.minimum)} items, got {len(value)}")
        if node.maximum is not None and len(value) > node.maximum:
            self.err(path, f"must have at most {_num(node.maximum)} items, got {len(value)}")
        assert node.item is not None
        return tuple(self.run(node.item, v, f"{path}[{k}]") for k, v in enumerate(value))

    def _v_map(self, node: Node, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self._expect(node, value, path, "an object")
            return None
        out: dict[str, Any] = {}
        assert node.item is not None
        for key, v in value.items():
            sub = f"{path}.{key}"
            if node.keys is not None and key not in node.keys:
                self.err(sub, f"unknown key{_did_you_mean(key, node.keys)}")
                continue
            out[key] = self.run(node.item, v, sub)
        self._apply_rule(node, out, path)
        return out

    def _apply_rule(self, node: Node, out: Mapping[str, Any], path: str) -> None:
        # Cross-field rules run only on values that are otherwise valid.
        if node.rule is None or any(p.path.startswith(path or "$") for p in self.problems):
            return
        for rel, message in node.rule(out):
            self.err(f"{path}.{rel}" if path and rel else (rel or path), message)

    def _v_object(self, node: Node, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self._expect(node, value, path, "an object")
            return None
        out: dict[str, Any] = {}
        for key, v in value.items():
            sub = f"{path}.{key}" if path else key
            child = node.fields.get(key)
            if child is None:
                self.err(sub, f"unknown key{_did_you_mean(key, tuple(node.fields))}")
                continue
            out[key] = self.run(child, v, sub)
        for key, child in node.fields.items():
            if key in value:
                continue
            sub = f"{path}.{key}" if path else key
            if child.required:
                self.err(sub, f"is required ({child.doc.split('.')[0].lower()})")
            elif child.default is not _MISSING:
                out[key] = child.default
            elif child.kind == "object":
                out[key] = self.run(child, {}, sub)
            # optional without default: left absent, so "absent" and "null" stay distinct
        self._apply_rule(node, out, path)
        return out


Rule = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [o for o in options if o.lower().startswith(word.lower())][:1]
    if not close:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate(node: Node, value: Any) -> tuple[Any, list[ConfigProblem]]:
    v = Validator()
    result = v.run(node, value, "")
    return result, v.problems


def iter_fields(node: Node, path: str = "", role: str = "") -> list[tuple[str, Node]]:
    """Every documented path in the schema, depth first (for docs/config.md). Children of an
    ignored (or signature) object carry its role."""
    out: list[tuple[str, Node]] = []
    for key, child in node.fields.items():
        sub = f"{path}.{key}" if path else key
        if role and not child.role:
            child = dataclasses.replace(child, role=role)
        out.append((sub, child))
        if child.kind == "object":
            out.extend(iter_fields(child, sub, child.role))
        elif child.kind == "map" and child.item is not None and child.item.kind == "object":
            out.extend(iter_fields(child.item, f"{sub}.<{child.placeholder}>", child.role))
        elif child.kind == "list" and child.item is not None and child.item.kind == "object":
            out.extend(iter_fields(child.item, f"{sub}[]", child.role))
    return out


__all__ = [
    "ConfigProblem",
    "Node",
    "Rule",
    "SecretRef",
    "b",
    "i",
    "iter_fields",
    "n",
    "obj",
    "s",
    "secret",
    "validate",
]
