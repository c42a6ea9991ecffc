"""A byte-exact Python port of npm ``object-hash`` 3.0.0 for JSON values.

The reference (Super-Protocol/chainlink ``scripts/configuration/read-configuration.js``) signs
``helpers.calculateObjectHash(solution_without_signature).hash`` from ``@super-protocol/sdk-js``
(``utils/helpers/calculateObjectHash``), which is
``objectHash(obj, {encoding: 'hex', algorithm: 'sha256', unorderedArrays: true})``. We must
produce the same 64 hex characters for every configuration JSON.parse could have produced.

Rules, from object-hash ``index.js`` (``typeHasher``), for values that come out of JSON.parse:

* ``null`` -> ``Null``; booleans -> ``bool:true``/``bool:false``.
* strings -> ``string:<length>:<text>`` where length counts UTF-16 code units (JS
  ``String.length``) and the text is written as UTF-8.
* numbers -> ``number:`` + JS ``Number.prototype.toString()`` (``1.0`` -> ``1``, ``-0`` -> ``0``,
  ``1e21`` -> ``1e+21``, ``1e-7`` -> ``1e-7``). JSON.parse makes every number a double, so
  integers beyond 2**53 round exactly as ``float(int)`` does.
* objects -> ``object:<n>:`` then, for each key, ``<dispatch(key)>:<dispatch(value)>,``. The keys
  are ``Object.keys`` sorted by UTF-16 code units (``unorderedObjects`` defaults to true), with
  ``prototype``, ``__proto__``, ``constructor`` prepended (``respectType`` defaults to true), so
  ``n`` is the key count + 3. For a plain object those three resolve to ``undefined``
  (``Undefined``), ``Object.prototype`` and the ``Object`` function -- unless the object has an
  own property of that name, which JSON.parse creates and which then wins.
* ``Object.prototype`` and ``Object`` are hashed in full the first time they are met and as
  ``[CIRCULAR:<i>]`` afterwards, ``i`` being their index in the hasher's ``context`` list,
  to which every object and array is appended when first dispatched.
* arrays -> ``array:<n>:`` followed by the entries. With ``unorderedArrays`` each entry is first
  serialised by its own hasher over a *copy* of the context; the strings are sorted (JS default
  sort, UTF-16 code units) and written as strings (``string:<len>:<serialisation>``); whatever
  the entries appended to their context copies is appended to the outer context afterwards.
  Arrays of 0 or 1 entries are written directly.
"""

from __future__ import annotations

import decimal
import hashlib
import math
import re
from collections.abc import Callable
from typing import Any

from sealfeed.errors import InputError

# Sentinels standing for the two built-in JS objects every plain object drags in.
_OBJECT_PROTOTYPE = object()
_OBJECT_CTOR = object()
_UNDEFINED = object()
_RESPECT_TYPE_KEYS = ("prototype", "__proto__", "constructor")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def js_string_length(s: str) -> int:
    """``String.prototype.length``: UTF-16 code units."""
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def _utf16_key(s: str) -> bytes:
    # Big-endian UTF-16 bytes compare like JS's default sort compares code units.
    return s.encode("utf-16-be", "surrogatepass")


def js_number_to_string(value: float | int) -> str:
    """ECMAScript ``Number::toString(10)`` (ECMA-262 §6.1.6.1.20) of a double."""
    if isinstance(value, bool):
        raise TypeError("bool is not a number")
    if isinstance(value, int):
        try:
            value = float(value)  # JSON.parse -> double, correctly rounded like float()
        except OverflowError:
            value = math.inf if value > 0 else -math.inf
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0"  # covers -0
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits, as ECMAScript requires.
    dec = decimal.Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = dec.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    # value = 0.d1d2...dk * 10**n
    n = len(digits) + exponent
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + exp
    return sign + out


class _Hasher:
    """One ``typeHasher`` instance: writes into ``out`` and shares a ``context`` list."""

    def __init__(self, write: Callable[[str], None], context: list[object]) -> None:
        self.write = write
        self.context = context

    def dispatch(self, value: Any) -> None:
        if value is None:
            self.write("Null")
        elif value is _UNDEFINED:
            self.write("Undefined")
        elif isinstance(value, bool):
            self.write("bool:true" if value else "bool:false")
        elif isinstance(value, str):
            self.write(f"string:{js_string_length(value)}:")
            self.write(value)
        elif isinstance(value, (int, float)):
            self.write("number:" + js_number_to_string(value))
        elif value is _OBJECT_CTOR:
            self._object_function()
        elif isinstance(value, dict) or value is _OBJECT_PROTOTYPE:
            self._object(value)
        elif isinstance(value, (list, tuple)):
            if not self._seen(value):
                self._array(list(value), unordered=True)
        else:
            raise InputError(f"object-hash: unsupported JSON value type {type(value).__name__}")

    def _seen(self, marker: object) -> bool:
        for i, item in enumerate(self.context):
            if item is marker:
                self.dispatch(f"[CIRCULAR:{i}]")
                return True
        self.context.append(marker)
        return False

    def _object(self, obj: dict[str, Any] | object) -> None:
        if obj is _OBJECT_PROTOTYPE:
            if self._seen(_OBJECT_PROTOTYPE):
                return
            own: dict[str, Any] = {}
            # Object.prototype.prototype -> undefined, .__proto__ -> null, .constructor -> Object
            specials: dict[str, Any] = {
                "prototype": _UNDEFINED,
                "__proto__": None,
                "constructor": _OBJECT_CTOR,
            }
        else:
            assert isinstance(obj, dict)
            # JSON.parse makes every object distinct, but one object can be met twice: an own
            # "constructor"/"prototype"/"__proto__" key is dispatched as a respectType key and
            # again as a sorted key -- the second time it is [CIRCULAR:i], by identity.
            if self._seen(obj):
                return
            own = obj
            specials = {
                "prototype": _UNDEFINED,
                "__proto__": _OBJECT_PROTOTYPE,
                "constructor": _OBJECT_CTOR,
            }
        keys = sorted(own.keys(), key=_utf16_key)
        all_keys = [*_RESPECT_TYPE_KEYS, *keys]
        self.write(f"object:{len(all_keys)}:")
        for key in all_keys:
            self.dispatch(key)
            self.write(":")
            self.dispatch(own[key] if key in own else specials[key])
            self.write(",")

    def _object_function(self) -> None:
        # _function(Object): native, so 'fn:' + '[native]' + name, then _object(Object), whose
        # own enumerable keys are none and which, being native, gets no respectType keys.
        self.write("fn:")
        self.dispatch("[native]")
        self.dispatch("function-name:Object")
        if self._seen(_OBJECT_CTOR):
            return
        self.write("object:0:")

    def _array(self, arr: list[Any], *, unordered: bool) -> None:
        self.write(f"array:{len(arr)}:")
        if not unordered or len(arr) <= 1:
            for entry in arr:
                self.dispatch(entry)
            return
        additions: list[object] = []
        entries: list[str] = []
        for entry in arr:
            parts: list[str] = []
            local = list(self.context)
            _Hasher(parts.append, local).dispatch(entry)
            additions.extend(local[len(self.context) :])
            entries.append("".join(parts))
        # JS rebinds its closure variable (``context = context.concat(...)``): a parent hasher
        # holding the old list no longer sees what this hasher appends from now on.
        self.context = self.context + additions
        entries.sort(key=_utf16_key)
        self._array(list(entries), unordered=False)


def serialize(value: Any) -> str:
    """The exact text object-hash feeds to the digest (useful for debugging mismatches)."""
    parts: list[str] = []
    _Hasher(parts.append, []).dispatch(value)
    return "".join(parts)


def object_hash(value: Any) -> str:
    """``objectHash(value, {algorithm: 'sha256', encoding: 'hex', unorderedArrays: true})``."""
    digest = hashlib.sha256()
    _Hasher(lambda s: digest.update(_utf8_like_node(s)), []).dispatch(value)
    return digest.hexdigest()


def _utf8_like_node(s: str) -> bytes:
    # JS strings are UTF-16: two adjacent surrogates *are* one astral character, even when a
    # Python str holds them as two code points; join them first. node's
    # hash.update(str, 'utf8') then writes any remaining lone surrogate as U+FFFD.
    joined = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return _LONE_SURROGATE.sub("\ufffd", joined).encode("utf-8")


__all__ = ["js_number_to_string", "js_string_length", "object_hash", "serialize"]
