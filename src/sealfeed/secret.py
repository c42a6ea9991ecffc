"""Secret values and secret files (conventions.md "Configuration and secrets").

A :class:`Secret` never shows its value in ``repr``/``str``/f-strings/logs; code that needs the
value calls :meth:`Secret.reveal` at the point of use. Secret files are written 0600
atomically and read with a permission check.
"""

from __future__ import annotations

import logging
import os
import secrets as _stdlib_secrets
import stat
from pathlib import Path
from typing import Final

from sealfeed.errors import InputError
from sealfeed.fsutil import atomic_write

_log = logging.getLogger("sealfeed.secret")

MASK: Final = "***"

#: Every Secret value ever created in this process, so the log redaction filter can strip
#: them even from messages that were formatted by mistake.
_KNOWN: set[str] = set()


class Secret:
    """A string that must not leak. ``repr``/``str`` are ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value
        if len(value) >= 4:
            _KNOWN.add(value)

    def reveal(self) -> str:
        """Return the value. Call only where it is used (a DB URL, an auth header)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return _stdlib_secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:  # never pickle a secret by accident
        raise TypeError("Secret values cannot be pickled")


def known_secret_values() -> frozenset[str]:
    """The values the redaction filter removes from log output."""
    return frozenset(_KNOWN)


def read_secret_file(path: str | os.PathLike[str], *, what: str = "secret") -> Secret:
    """Read a secret file (trailing newline stripped); warn if group/other can read it."""
    p = Path(path)
    try:
        st = p.stat()
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file does not exist", location=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read {what} file: {exc.__class__.__name__}", location=str(p)
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "secret file is readable by group/other; chmod 600 it",
            extra={
                "event": "secret_file_permissions",
                "path": str(p),
                "mode": oct(st.st_mode & 0o777),
            },
        )
    value = raw.rstrip("\r\n")
    if not value:
        raise InputError(f"{what} file is empty", location=str(p))
    return Secret(value)


def write_secret_file(
    path: str | os.PathLike[str], value: Secret | str, *, overwrite: bool = False
) -> Path:
    """Write a secret atomically with mode 0600. Refuses to overwrite unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise InputError(
            "refusing to overwrite an existing secret file (use --force)", location=str(p)
        )
    text = value.reveal() if isinstance(value, Secret) else value
    return atomic_write(p, text + "\n", mode=0o600)


def ensure_secret_file(path: str | os.PathLike[str], *, nbytes: int = 32) -> Secret:
    """Return the secret in ``path``, generating a random URL-safe one (0600) if absent.

    Safe when several services start at once: the new file is linked into place, so exactly
    one generator wins and every caller returns the winner's value."""
    p = Path(path)
    if p.exists():
        return read_secret_file(p)
    value = _stdlib_secrets.token_urlsafe(nbytes)
    tmp = p.with_name(f".{p.name}.{_stdlib_secrets.token_hex(6)}.new")
    atomic_write(tmp, value + "\n", mode=0o600)
    try:
        os.link(tmp, p)
    except FileExistsError:
        return read_secret_file(p)  # another process generated it first
    finally:
        tmp.unlink(missing_ok=True)
    return Secret(value)


__all__ = [
    "MASK",
    "Secret",
    "ensure_secret_file",
    "known_secret_values",
    "read_secret_file",
    "write_secret_file",
]
