"""Symbols and pairs: the grammar every base/quote must match, and the pairs file.

Everything that reaches the registry, the cache, an upstream URL or a stream subscription
passes :func:`symbol` first, so a request for ``..``, a NUL, U+FFFD or a 10 kB string is a
400 and never a registration (issue #16).

The grammar: ASCII letters and digits, optionally joined by single ``.``, ``_`` or ``-``
(``BTC``, ``1INCH``, ``USDC.E``, ``BRK-B``, CoinGecko ids such as ``avalanche-2``), at most
:data:`MAX_SYMBOL_LEN` characters; case-insensitive (kept upper-case, as the reference
returns it).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from sealfeed.aggregator.errors import InvalidSymbol
from sealfeed.aggregator.sources import canonical_source
from sealfeed.errors import InputError

log = logging.getLogger("sealfeed.aggregator")

Pair = tuple[str, str]

#: the longest symbol in use is a CoinGecko id ("compound-governance-token", 25 characters)
MAX_SYMBOL_LEN = 32
_SYMBOL = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*", re.ASCII)


def is_symbol(text: str) -> bool:
    return len(text) <= MAX_SYMBOL_LEN and _SYMBOL.fullmatch(text) is not None


def symbol(text: str, what: str = "symbol") -> str:
    """The upper-case symbol, or :class:`InvalidSymbol` saying what is wrong with it."""
    if is_symbol(text):
        return text.upper()
    shown = text if len(text) <= 40 else text[:37] + "..."
    raise InvalidSymbol(
        f"invalid {what} {shown!r}: expected 1-{MAX_SYMBOL_LEN} ASCII letters/digits, "
        "optionally joined by single '.', '_' or '-'"
    )


def pair_of(base: str, quote: str) -> Pair:
    return symbol(base, "baseCurrency"), symbol(quote, "quoteCurrency")


def parse_pairs_doc(doc: Any, path: str) -> dict[str, list[Pair]]:
    """Validate a reference ``pairs.json`` document: ``{"<source>": ["BASE/QUOTE", ...]}``.

    Unknown source names are skipped with a log line; a malformed entry is an InputError
    naming the file and the entry.
    """
    if not isinstance(doc, dict):
        raise InputError('pairs file must be an object {source: ["BASE/QUOTE"]}', location=path)
    out: dict[str, list[Pair]] = {}
    for key, labels in doc.items():
        name = canonical_source(str(key))
        if name is None:
            log.info("pairs file: unknown source", extra={"event": "preload_skip", "source": key})
            continue
        if not isinstance(labels, list):
            raise InputError('expected a list of "BASE/QUOTE"', location=f"{path}: {key}")
        pairs = out.setdefault(name, [])
        for i, label in enumerate(labels):
            parts = label.split("/") if isinstance(label, str) else []
            if len(parts) != 2 or not all(is_symbol(p.strip()) for p in parts):
                raise InputError(
                    f'expected "BASE/QUOTE" of valid symbols, got {label!r}',
                    location=f"{path}: {key}[{i}]",
                )
            pairs.append((parts[0].strip().upper(), parts[1].strip().upper()))
    return out


def load_pairs_file(path: str) -> dict[str, list[Pair]]:
    """Read and validate a pairs file (the CLI checks it before serving)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read pairs file: {exc.strerror}", location=path) from None
    except ValueError as exc:
        raise InputError(f"pairs file is not JSON: {exc}", location=path) from None
    return parse_pairs_doc(doc, path)


__all__ = [
    "MAX_SYMBOL_LEN",
    "Pair",
    "is_symbol",
    "load_pairs_file",
    "pair_of",
    "parse_pairs_doc",
    "symbol",
]
