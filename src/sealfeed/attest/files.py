"""Reading a quote file: the one place a quote comes off disk (raw binary or hex text).

Shared by ``sealfeed attest ...`` and ``sealfeed verify``; a fetched quote (``verify --url``)
goes through :func:`decode_quote_bytes` the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from sealfeed.errors import InputError

#: a real quote is < 16 KiB (the PCK chain dominates); hex text doubles it. Anything far
#: larger is not a quote file, and is refused before it is read into memory.
MAX_QUOTE_FILE_BYTES = 1 << 20

_HEX = frozenset(b"0123456789abcdefABCDEF")


def decode_quote_bytes(data: bytes) -> bytes:
    """Raw binary as is; hex text (as in near_quote_hex.txt: optional ``0x``, surrounding
    whitespace) decoded."""
    text = data.strip()
    if text[:2] in (b"0x", b"0X"):
        text = text[2:]
    if text and len(text) % 2 == 0 and all(c in _HEX for c in text):
        return bytes.fromhex(text.decode())
    return data


def read_quote_file(path: str | os.PathLike[str], what: str = "quote") -> bytes:
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(MAX_QUOTE_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{what} file not found", location=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", location=str(p)) from None
    if len(data) > MAX_QUOTE_FILE_BYTES:
        raise InputError(
            f"larger than {MAX_QUOTE_FILE_BYTES:,} bytes: not a quote file", location=str(p)
        )
    return decode_quote_bytes(data)


__all__ = ["MAX_QUOTE_FILE_BYTES", "decode_quote_bytes", "read_quote_file"]
