"""Solidity ABI encoding for the few types an OCR1 ``setConfig`` needs (pure).

Implements the contract ABI specification's head/tail encoding
(https://docs.soliditylang.org/en/latest/abi-spec.html, "Formal Specification of the
Encoding") for ``uintN``/``intN``, ``address``, ``bool``, ``bytesN``, ``bytes``, ``string``,
dynamic arrays ``T[]`` and tuples ``(T1,...,Tk)``. It exists because the runtime has no
Ethereum library (eth-abi is only a test dependency, and the tests check every encoding here
against it). Types are given as canonical strings, e.g. ``"(address[],uint8,bytes16[])"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sealfeed.chainlink.keystore import keccak256

WORD = 32


class AbiError(ValueError):
    """A value that does not fit its ABI type (a bug in the caller, not user input)."""


def _split_tuple(inner: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts


def parse_type(t: str) -> tuple[str, Any]:
    """``("array", elem) | ("tuple", [types]) | ("int"|"uint", bits) | ("bytesN", n) | (name,
    None)`` for ``address``, ``bool``, ``bytes``, ``string``."""
    if t.endswith("[]"):
        return "array", t[:-2]
    if t.startswith("(") and t.endswith(")"):
        return "tuple", _split_tuple(t[1:-1])
    for prefix in ("uint", "int"):
        if t.startswith(prefix) and t[len(prefix) :].isdigit():
            bits = int(t[len(prefix) :])
            if bits % 8 or not 8 <= bits <= 256:
                raise AbiError(f"bad integer type {t}")
            return prefix, bits
    if t.startswith("bytes") and t[5:].isdigit():
        n = int(t[5:])
        if not 1 <= n <= 32:
            raise AbiError(f"bad fixed bytes type {t}")
        return "bytesN", n
    if t in ("address", "bool", "bytes", "string"):
        return t, None
    raise AbiError(f"unsupported ABI type {t!r}")


def is_dynamic(t: str) -> bool:
    kind, arg = parse_type(t)
    if kind in ("bytes", "string", "array"):
        return True
    if kind == "tuple":
        return any(is_dynamic(c) for c in arg)
    return False


def _pad_right(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % WORD)


def _encode_static(t: str, value: Any) -> bytes:
    kind, arg = parse_type(t)
    if kind == "uint":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << arg:
            raise AbiError(f"{value!r} does not fit {t}")
        return value.to_bytes(WORD, "big")
    if kind == "int":
        lim = 1 << (arg - 1)
        if isinstance(value, bool) or not isinstance(value, int) or not -lim <= value < lim:
            raise AbiError(f"{value!r} does not fit {t}")
        return value.to_bytes(WORD, "big", signed=True)
    if kind == "bool":
        return (1 if value else 0).to_bytes(WORD, "big")
    if kind == "address":
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        if len(raw) != 20:
            raise AbiError(f"{value!r} is not a 20-byte address")
        return raw.rjust(WORD, b"\0")
    if kind == "bytesN":
        raw = bytes(value)
        if len(raw) != arg:
            raise AbiError(f"{t} needs exactly {arg} bytes, got {len(raw)}")
        return raw.ljust(WORD, b"\0")
    raise AbiError(f"{t} is not static")


def encode(t: str, value: Any) -> bytes:
    """``enc(value)`` of one value of type ``t``."""
    kind, arg = parse_type(t)
    if kind == "tuple":
        return encode_tuple(arg, value)
    if kind == "array":
        items = list(value)
        return len(items).to_bytes(WORD, "big") + encode_tuple([arg] * len(items), items)
    if kind in ("bytes", "string"):
        raw = value.encode("utf-8") if kind == "string" else bytes(value)
        return len(raw).to_bytes(WORD, "big") + _pad_right(raw)
    return _encode_static(t, value)


def encode_tuple(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """Heads (static values, or offsets of dynamic ones) followed by the tails."""
    if len(types) != len(values):
        raise AbiError(f"{len(types)} types but {len(values)} values")
    encoded = [encode(t, v) for t, v in zip(types, values, strict=True)]
    head_size = sum(WORD if is_dynamic(t) else len(e) for t, e in zip(types, encoded, strict=True))
    heads, tails = [], []
    offset = head_size
    for t, e in zip(types, encoded, strict=True):
        if is_dynamic(t):
            heads.append(offset.to_bytes(WORD, "big"))
            tails.append(e)
            offset += len(e)
        else:
            heads.append(e)
    return b"".join(heads) + b"".join(tails)


def selector(signature: str) -> bytes:
    """First 4 bytes of keccak256 of the canonical signature, e.g. ``f(uint8,bytes)``."""
    return keccak256(signature.encode("ascii"))[:4]


def calldata(name: str, types: Sequence[str], values: Sequence[Any]) -> bytes:
    """A function call: selector + the arguments encoded as one tuple."""
    return selector(f"{name}({','.join(types)})") + encode_tuple(types, values)


__all__ = ["AbiError", "calldata", "encode", "encode_tuple", "is_dynamic", "parse_type", "selector"]
