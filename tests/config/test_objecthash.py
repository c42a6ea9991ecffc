"""object-hash port: exact against the real npm package (node), plus JS number formatting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealfeed.config.objecthash import js_number_to_string, js_string_length, object_hash, serialize
from tests.fixtures.node_objecthash import NodeOracle


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0.1"),
        (1.0, "1"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (123.456, "123.456"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2**53 + 1, "9007199254740992"),
        (10**400, "Infinity"),
        (-42.5, "-42.5"),
    ],
)
def test_js_number_to_string(value: float, expected: str) -> None:
    assert js_number_to_string(value) == expected


def test_js_string_length_counts_utf16_units() -> None:
    assert js_string_length("a😀é") == 4


# A pinned vector computed with npm object-hash 3.0.0 (passthrough text shape is asserted
# against node in test_serialization_matches_node below).
def test_known_vector_shape() -> None:
    text = serialize({"a": 1})
    assert text.startswith("object:4:string:9:prototype:Undefined,string:9:__proto__:object:3:")
    assert text.endswith("string:1:a:number:1,")


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None), max_size=12)
    | st.text(st.characters(categories=["Cs", "Lu", "So"]), max_size=4)
)
keys = st.text(max_size=8) | st.sampled_from(["constructor", "prototype", "__proto__", "a", "B"])
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def _jsonable(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_hash_matches_npm_object_hash(node_objecthash: NodeOracle, value: Any) -> None:
    text = _jsonable(value)
    # hash what JSON.parse would give: round-trip through JSON on our side too
    assert object_hash(json.loads(text)) == node_objecthash.object_hash(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, json_values, max_size=6))
def test_config_like_objects_match(node_objecthash: NodeOracle, value: dict[str, Any]) -> None:
    text = _jsonable({"solution_like": value, "list": [value, value, 1]})
    assert object_hash(json.loads(text)) == node_objecthash.object_hash(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '[1, {"a": [2, 3]}, [[1, 2], [3]]]',
        '{"constructor": {"x": [{}, []]}, "prototype": null, "__proto__": 1}',
        '{"s": "é😀\\u0000\\ud83d", "n": [1.0, 1e21, -0.0, 1e-7, 0.1, 123456789012345678901234]}',
        '{"𝄞": 1, "z": 2, "ﬀ": 3, "Z": [true, false, null]}',
    ],
)
def test_serialization_matches_node(node_objecthash: NodeOracle, text: str) -> None:
    value = json.loads(text)
    assert serialize(value) == node_objecthash.call(op="passthrough", json=text)["text"]
    assert object_hash(value) == node_objecthash.object_hash(text)


def test_example_solution_matches_node(
    node_objecthash: NodeOracle, solution: dict[str, Any]
) -> None:
    text = json.dumps(solution)
    assert object_hash(solution) == node_objecthash.object_hash(text)
