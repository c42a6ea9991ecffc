"""Malformed input never escapes as IndexError/KeyError/struct.error/ValueError: random
bytes and mutated collateral fields give SealfeedError subclasses only."""

from __future__ import annotations

import contextlib
import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sealfeed.attest import QuoteParseError, parse_quote, verify_quote
from sealfeed.errors import SealfeedError
from tests.attest.conftest import Sample


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_quote_parse_error(data: bytes) -> None:
    with contextlib.suppress(QuoteParseError):
        parse_quote(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4935), st.binary(min_size=1, max_size=8))
def test_overwritten_quote_bytes_are_handled(
    attest_samples: dict[str, Sample], off: int, patch: bytes
) -> None:
    s = attest_samples["tdx_quote"]
    raw = bytearray(s.quote[:4936])
    raw[off : off + len(patch)] = patch
    with contextlib.suppress(SealfeedError):
        verify_quote(bytes(raw), s.collateral, now=1751328000)


def test_mutated_collateral_fields_are_handled(attest_samples: dict[str, Sample]) -> None:
    rng = random.Random(4)
    coll = attest_samples["tdx_quote"].collateral
    quote = attest_samples["tdx_quote"].quote
    for f in dataclasses.fields(coll):
        value = getattr(coll, f.name)
        for _ in range(25):
            b = bytearray(value.encode() if isinstance(value, str) else value)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            if rng.random() < 0.3:
                del b[rng.randrange(len(b)) :]
            mutated = bytes(b).decode("latin-1") if isinstance(value, str) else bytes(b)
            with contextlib.suppress(SealfeedError):
                verify_quote(quote, dataclasses.replace(coll, **{f.name: mutated}), now=1751328000)
