"""The declaration machinery: a model declares its JSON keys once; mistakes fail at import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from sealfeed.config.declare import build, derive_schema, ignored, key, mount
from sealfeed.config.spec import b, validate
from sealfeed.secret import Secret


@dataclass(frozen=True)
class Inner:
    size: int = field(default=3, metadata=key("size", "Size.", minimum=1))
    token: Secret | None = field(default=None, metadata=key("token", "Token.", group="ext"))


@dataclass(frozen=True)
class Outer:
    JSON_OBJECTS: ClassVar[dict[str, str]] = {"grp": "A group."}
    JSON_EXTRA = (ignored("grp.legacy", b("Old flag.", default=False)),)

    name: str = field(metadata=key("name", "Name.", min_length=1))
    inner: Inner = field(
        default_factory=lambda: Inner(size=7),
        metadata=mount("grp.inner", ext="grp", doc="Inner things."),
    )


def test_derived_schema_validates_and_builds() -> None:
    schema = derive_schema(Outer, doc="Root.")
    assert schema.fields["name"].required
    assert schema.fields["grp"].fields["inner"].fields["size"].default == 7  # the mount's default
    assert schema.fields["grp"].fields["legacy"].role == "ignored"
    value, problems = validate(schema, {"name": "x", "grp": {"token": "t", "legacy": True}})
    assert problems == []
    got = build(Outer, value, lambda ref, path: Secret("never"))
    assert got == Outer(name="x", inner=Inner(size=7, token=Secret("t")))
    _, problems = validate(schema, {"grp": {"inner": {"size": 0}, "legcy": 1}})
    assert sorted(str(p) for p in problems) == [
        "grp.inner.size: must be >= 1, got 0",
        "grp.legcy: unknown key (did you mean 'legacy'?)",
        "name: is required (name)",
    ]


def test_a_key_declared_twice_fails() -> None:
    @dataclass(frozen=True)
    class Twice:
        a: int = field(default=1, metadata=key("x", "A."))
        b: int = field(default=2, metadata=key("x", "B."))

    with pytest.raises(TypeError, match="JSON key x is declared twice"):
        derive_schema(Twice, doc="Root.")


def test_an_undocumented_object_fails() -> None:
    @dataclass(frozen=True)
    class NoDoc:
        a: int = field(default=1, metadata=key("group.a", "A."))

    with pytest.raises(TypeError, match="JSON object group has no doc"):
        derive_schema(NoDoc, doc="Root.")
