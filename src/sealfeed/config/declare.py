"""Every configuration key declared once, on the typed model; schema and builder derived.

Each field of a model dataclass (:mod:`sealfeed.config.model`) carries, in
``dataclasses.field(metadata=key(...))``, the JSON key it is read from (relative to its
class's mount), its doc and its bounds; its default is the dataclass default, and its type
comes from the annotation. From those declarations :func:`derive_schema` builds the
:class:`~sealfeed.config.spec.Node` tree that validates input and generates docs/config.md,
and :func:`build` turns validated JSON into the dataclasses. JSON keys the model does not
carry are declared as :class:`Extra` in the class's ``JSON_EXTRA``; docs of pure grouping
objects in ``JSON_OBJECTS``. Cross-field rules stay hand-written (:mod:`.schema`).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from sealfeed.config.spec import _MISSING, Node, Rule, SecretRef
from sealfeed.secret import Secret

META = "sealfeed.config"


@dataclass(frozen=True)
class Key:
    """A model field read from one JSON key (relative to its class's mount)."""

    path: str
    doc: str
    kind: str | None = None  # None: inferred from the field's annotation
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    item: Node | None = None
    keys: tuple[str, ...] | None = None
    placeholder: str = "name"
    #: ``""`` or ``"ext"``: which of the class's mounts the path is relative to
    group: str = ""
    #: JSON value -> model value (after validation)
    convert: Callable[[Any], Any] | None = None
    #: the JSON default where the model stores a converted value
    json_default: Any = _MISSING
    #: docs text where absence is resolved by a rule rather than one value
    default_doc: str = ""
    #: for fields of a map item: the default when the key is absent, from the item's map key
    item_default: Callable[[str], Any] | None = None
    #: for maps of objects: the JSON an item that is not configured is built from
    absent_item: Callable[[str], Mapping[str, Any]] | None = None
    #: for two fields sharing one JSON list (``"pair": [base, quote]``): the index
    part: int | None = None


@dataclass(frozen=True)
class Mount:
    """A nested model object without a JSON key of its own: its fields' paths are relative to
    ``path`` (group ``""``) and ``ext`` (group ``"ext"``), both relative to the parent's mount."""

    path: str = ""
    ext: str | None = None
    doc: str = ""
    ext_doc: str = ""


@dataclass(frozen=True)
class MapKey:
    """The field holds the key under which its object sits in a JSON map."""


@dataclass(frozen=True)
class Extra:
    """A JSON key the typed model does not carry: ``ignored`` (accepted for reference
    compatibility, never read) or ``signature`` (read by the signature check)."""

    path: str
    node: Node
    role: Literal["ignored", "signature"] = "ignored"
    group: str = ""


def key(path: str, doc: str, **kw: Any) -> dict[str, Any]:
    """``dataclasses.field(metadata=key("jsonKey", "Doc.", minimum=1))``: see :class:`Key`."""
    return {META: Key(path, doc, **kw)}


def mount(path: str = "", **kw: Any) -> dict[str, Any]:
    return {META: Mount(path, **kw)}


def map_key() -> dict[str, Any]:
    return {META: MapKey()}


def ignored(path: str, node: Node, *, group: str = "") -> Extra:
    return Extra(path, node, "ignored", group)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # resolving string annotations is slow; a loaded config builds the same classes many times
    return typing.get_type_hints(cls)


def _join(base: str, path: str) -> str:
    return f"{base}.{path}" if base and path else base or path


def _strip_optional(ann: Any) -> tuple[Any, bool]:
    if typing.get_origin(ann) in (Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) < len(typing.get_args(ann)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return ann, False


def _is_dataclass_type(ann: Any) -> bool:
    return isinstance(ann, type) and dataclasses.is_dataclass(ann)


def _element(ann: Any) -> Any:
    """The element type of ``tuple[X, ...]`` / value type of ``Mapping[str, X]``."""
    args = typing.get_args(ann)
    return args[-1] if typing.get_origin(ann) is not tuple else args[0]


_SCALARS: dict[Any, str] = {bool: "bool", int: "int", float: "num", str: "str"}


def _proto(f: dataclasses.Field[Any], proto: Any) -> Any:
    """The field's default: the parent's default object's value, else the dataclass default."""
    if proto is not None:
        return getattr(proto, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _MISSING


class _Obj:
    """A JSON object under construction while deriving the schema."""

    def __init__(self) -> None:
        self.doc = ""
        self.fields: dict[str, _Obj | Node] = {}

    def at(self, path: str) -> _Obj:
        obj = self
        for part in path.split(".") if path else ():
            child = obj.fields.setdefault(part, _Obj())
            if not isinstance(child, _Obj):
                raise TypeError(f"declaration: {path} is both a key and an object")
            obj = child
        return obj

    def put(self, path: str, node: Node) -> None:
        parent, _, name = path.rpartition(".")
        obj = self.at(parent)
        if name in obj.fields:
            raise TypeError(f"declaration: JSON key {path} is declared twice")
        obj.fields[name] = node

    def node(self, path: str, rules: Mapping[str, Any]) -> Node:
        if not self.doc:
            raise TypeError(f"declaration: JSON object {path or '$'} has no doc")
        fields: dict[str, Node] = {}
        # keys first, then nested objects, each in declaration order
        order = sorted(self.fields.items(), key=lambda kv: isinstance(kv[1], _Obj))
        for name, child in order:
            sub = _join(path, name)
            if isinstance(child, _Obj):
                fields[name] = child.node(sub, rules)
            elif sub in rules:
                fields[name] = dataclasses.replace(child, rule=rules[sub])
            else:
                fields[name] = child
        return Node("object", doc=self.doc, fields=fields, rule=rules.get(path))


def _leaf(k: Key, ann: Any, default: Any, required: bool) -> Node:
    """The schema node of one declared key from its annotation, bounds and default."""
    base, _ = _strip_optional(ann)
    kind = k.kind
    secret = base is Secret and kind is None
    choices = k.choices
    item = k.item
    fields: Mapping[str, Node] = {}
    if kind is None:
        if secret:
            kind = "str"
        elif typing.get_origin(base) is Literal:
            kind, choices = "str", tuple(typing.get_args(base))
        elif _is_dataclass_type(base):
            kind, fields = "object", _object_fields(base)
        elif typing.get_origin(base) is tuple and _is_dataclass_type(_element(base)):
            kind, item = "list", Node("object", doc=k.doc, fields=_object_fields(_element(base)))
        elif typing.get_origin(base) in (Mapping, dict):
            value = _element(base)
            kind = "map"
            if _is_dataclass_type(value):
                item = Node("object", doc=k.doc, fields=_object_fields(value))
            else:
                item = item or Node(_SCALARS[value])
        else:
            kind = _SCALARS[base]
    json_default: Any = _MISSING
    if k.json_default is not _MISSING:
        json_default = k.json_default
    elif k.default_doc or k.item_default is not None or default is _MISSING:
        json_default = _MISSING
    elif default is None:
        json_default = None if kind == "object" else _MISSING
    else:
        json_default = default
    return Node(
        kind,
        doc=k.doc,
        default=json_default,
        required=required,
        nullable=k.nullable,
        minimum=k.minimum,
        maximum=k.maximum,
        min_length=k.min_length,
        pattern=k.pattern,
        choices=choices,
        fields=fields,
        item=item,
        keys=k.keys,
        secret=secret,
        default_doc=k.default_doc,
        placeholder=k.placeholder,
    )


def _object_fields(cls: type) -> dict[str, Node]:
    """The fields of a JSON object that one model class owns entirely (``basicAuth``)."""
    tree = _Obj()
    tree.doc = "-"
    _walk(cls, {"": ""}, None, tree)
    return dict(tree.node("", {}).fields)


def _walk(cls: type, mounts: Mapping[str, str], proto: Any, tree: _Obj) -> None:
    for path, doc in getattr(cls, "JSON_OBJECTS", {}).items():
        tree.at(_join(mounts[""], path)).doc = doc
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(META)
        default = _proto(f, proto)
        if isinstance(meta, Mount):
            sub = {"": _join(mounts[""], meta.path)}
            sub["ext"] = _join(mounts[""], meta.ext) if meta.ext is not None else sub[""]
            if meta.doc:
                tree.at(sub[""]).doc = meta.doc
            if meta.ext_doc:
                tree.at(sub["ext"]).doc = meta.ext_doc
            nested, _ = _strip_optional(hints[f.name])
            _walk(nested, sub, default if dataclasses.is_dataclass(default) else None, tree)
        elif isinstance(meta, Key) and not meta.part:
            required = default is _MISSING and meta.item_default is None
            node = _leaf(meta, hints[f.name], default, required)
            tree.put(_join(mounts[meta.group], meta.path), node)
    for extra in getattr(cls, "JSON_EXTRA", ()):
        tree.put(_join(mounts[extra.group], extra.path), dataclasses.replace(extra.node,
                 role=extra.role))  # fmt: skip


def derive_schema(cls: type, *, doc: str, rules: Mapping[str, Rule] | None = None) -> Node:
    """The schema tree of ``configuration.json`` from the model's declarations; ``rules``
    attaches the hand-written cross-field rules to JSON object paths ("" = the root)."""
    tree = _Obj()
    tree.doc = doc
    _walk(cls, {"": "", "ext": ""}, None, tree)
    return tree.node("", rules or {})


def _lookup(root: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    value = root
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


Resolver = Callable[[SecretRef, str], Secret]


@dataclass(frozen=True)
class _Slot:
    """How :func:`build` fills one field (worked out once per class)."""

    field: dataclasses.Field[Any]
    meta: Key | Mount | MapKey
    #: "mount", "key", "object", "list", "map" (of dataclasses ``target``), "map-key"
    shape: str
    target: Any = None


@functools.cache
def _plan(cls: type) -> tuple[_Slot, ...]:
    slots = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(META)
        base, _ = _strip_optional(hints[f.name])
        if isinstance(meta, Mount):
            slots.append(_Slot(f, meta, "mount", base))
        elif isinstance(meta, MapKey):
            slots.append(_Slot(f, meta, "map-key"))
        elif isinstance(meta, Key):
            origin = typing.get_origin(base)
            if _is_dataclass_type(base) and meta.kind is None:
                slots.append(_Slot(f, meta, "object", base))
            elif origin is tuple and _is_dataclass_type(_element(base)):
                slots.append(_Slot(f, meta, "list", _element(base)))
            elif origin in (Mapping, dict) and _is_dataclass_type(_element(base)):
                slots.append(_Slot(f, meta, "map", _element(base)))
            else:
                slots.append(_Slot(f, meta, "key"))
    return tuple(slots)


@functools.cache
def _paths(cls: type, base: str, ext: str) -> tuple[Any, ...]:
    """Per field of ``cls`` mounted at (base, ext): the JSON path split into keys (for keys),
    or the nested mounts (for mounts)."""
    out: list[Any] = []
    for slot in _plan(cls):
        meta = slot.meta
        if isinstance(meta, Mount):
            sub = _join(base, meta.path)
            out.append((sub, _join(base, meta.ext) if meta.ext is not None else sub))
        elif isinstance(meta, Key):
            path = _join(ext if meta.group == "ext" else base, meta.path)
            out.append((path, tuple(path.split("."))))
        else:
            out.append(None)
    return tuple(out)


def build(
    cls: type,
    root: Mapping[str, Any],
    resolve: Resolver,
    *,
    mounts: tuple[str, str] = ("", ""),
    proto: Any = None,
    where: str = "",
    map_key: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """An instance of ``cls`` from *validated* JSON ``root`` (see :func:`validate`); secret
    file references are read through ``resolve``; ``where`` is ``root``'s JSON path;
    ``mounts`` the (base, ext) paths of ``cls``'s keys in ``root``."""
    kwargs: dict[str, Any] = dict(extra or {})
    for slot, paths in zip(_plan(cls), _paths(cls, *mounts), strict=True):
        f, meta, shape = slot.field, slot.meta, slot.shape
        if shape == "mount":
            default = _proto(f, proto)
            kwargs[f.name] = build(slot.target, root, resolve, mounts=paths, where=where,
                                   proto=default if dataclasses.is_dataclass(default) else None)  # fmt: skip
        elif shape == "map-key":
            kwargs[f.name] = map_key
        else:
            assert isinstance(meta, Key)
            present, value = _lookup(root, paths[1])
            if present:
                kwargs[f.name] = _value(slot, meta, value, resolve, where, paths[0])
            elif meta.item_default is not None and map_key is not None:
                kwargs[f.name] = meta.item_default(map_key)
            elif proto is not None:
                kwargs[f.name] = getattr(proto, f.name)
            # else: the dataclass default (a required key is never absent after validation)
    return cls(**kwargs)


def _value(slot: _Slot, k: Key, value: Any, resolve: Resolver, where: str, path: str) -> Any:
    shape = slot.shape
    if value is None:
        return None
    if shape == "key":
        if type(value) is SecretRef:
            return resolve(value, _join(where, path))
        if type(value) is dict:
            value = dict(value)
        elif k.part is not None:
            value = value[k.part]
        return k.convert(value) if k.convert is not None else value
    where = _join(where, path)
    if shape == "object":
        return build(slot.target, value, resolve, where=where)
    if shape == "list":
        return tuple(build(slot.target, item, resolve, where=f"{where}[{i}]")
                     for i, item in enumerate(value))  # fmt: skip
    out = {}  # a map of objects
    for name in k.keys or tuple(value):
        raw = value.get(name)
        if raw is None and k.absent_item is not None:
            raw = k.absent_item(name)
        if raw is not None:
            out[name] = build(slot.target, raw, resolve, where=_join(where, name),
                              map_key=name)  # fmt: skip
    return out


__all__ = [
    "META",
    "Extra",
    "Key",
    "MapKey",
    "Mount",
    "Resolver",
    "build",
    "derive_schema",
    "ignored",
    "key",
    "map_key",
    "mount",
]
