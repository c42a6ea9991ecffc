"""Secret values and secret files (conventions.md "Configuration and secrets").

A :class:`Secret` never shows its value in ``repr``/``str``/f-strings/logs; code that needs the
value calls :meth:`Secret.reveal` at the point of use. Secret files are written 0600
atomically and read with a permission check.
"""

from __future__ import annotations

import contextlib
import errno
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


class NotLoadedSecret(Secret):
    """A secret of another component, deliberately not read by this process (each service
    resolves only its own component's secrets: ADR 0132). Using it is a bug."""

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        super().__init__(f"<not loaded: {where}>")
        self._where = where

    def reveal(self) -> str:
        raise RuntimeError(
            f"bug: the secret at {self._where} belongs to another component and was not "
            "loaded by this process"
        )


def known_secret_values() -> frozenset[str]:
    """The values the redaction filter removes from log output."""
    return frozenset(_KNOWN)


def _name(table: str, ident: int) -> str:
    import grp
    import pwd

    try:
        return pwd.getpwuid(ident).pw_name if table == "user" else grp.getgrgid(ident).gr_name
    except KeyError:
        return str(ident)


def account() -> str:
    """The account this process runs as (for error messages): ``name (uid N)``."""
    uid = os.geteuid()
    return f"{_name('user', uid)} (uid {uid})"


def access_problem(path: str | os.PathLike[str], *, what: str = "file") -> str:
    """One line saying why this process cannot read ``path``: the first directory on the way
    it cannot search, or the file's owner and mode -- and who this process is. Never the
    content (the file is not opened)."""
    p = Path(path)
    for parent in reversed(p.parents):
        try:
            st = parent.stat()
        except OSError:
            break
        if not os.access(parent, os.X_OK):
            return (
                f"permission denied: directory {parent} is {stat.filemode(st.st_mode)} "
                f"{_name('user', st.st_uid)}:{_name('group', st.st_gid)} and this process "
                f"runs as {account()}"
            )
    try:
        st = p.stat()
    except OSError:
        return f"permission denied reading the {what}; this process runs as {account()}"
    return (
        f"permission denied: the {what} is {stat.filemode(st.st_mode)} "
        f"{_name('user', st.st_uid)}:{_name('group', st.st_gid)} and this process runs as "
        f"{account()} (the secrets-import step gives each file to the account that consumes "
        "it: docs/deploy-super-protocol.md, step 6)"
    )


def read_secret_file(path: str | os.PathLike[str], *, what: str = "secret") -> Secret:
    """Read a secret file (trailing newline stripped); warn if group/other can read it.

    A file this account may not read is a precise one-line InputError naming the file, its
    owner and mode, and the account (never a traceback)."""
    p = Path(path)
    try:
        st = p.stat()
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file does not exist", location=str(p)) from None
    except PermissionError:
        raise InputError(access_problem(p, what="file"), location=str(p)) from None
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


def _write_0600(path: Path, text: str, owner: tuple[int, int] | None) -> Path:
    """Atomic 0600 write, chowned to ``owner`` (uid, gid) before it appears under its name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{_stdlib_secrets.token_hex(6)}.new")
        atomic_write(tmp, text, mode=0o600)
        try:
            if owner is not None:
                os.chown(tmp, *owner)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except PermissionError:
        raise InputError(access_problem(path), location=str(path)) from None
    except OSError as exc:
        raise InputError(
            f"cannot write secret file: {exc.strerror or exc.__class__.__name__}",
            location=str(path),
        ) from None
    return path


def write_secret_file(
    path: str | os.PathLike[str],
    value: Secret | str,
    *,
    overwrite: bool = False,
    owner: tuple[int, int] | None = None,
) -> Path:
    """Write a secret atomically with mode 0600 (owned by ``owner`` = (uid, gid) when given).
    Refuses to overwrite unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise InputError(
            "refusing to overwrite an existing secret file (use --force)", location=str(p)
        )
    text = value.reveal() if isinstance(value, Secret) else value
    return _write_0600(p, text + "\n", owner)


def ensure_secret_file(
    path: str | os.PathLike[str], *, nbytes: int = 32, owner: tuple[int, int] | None = None
) -> Secret:
    """Return the secret in ``path``, generating a random URL-safe one (0600, owned by
    ``owner`` when given) if absent.

    Safe when several services start at once: the new file is linked into place, so exactly
    one generator wins and every caller returns the winner's value. A directory this account
    may not search is a precise InputError (never "the file does not exist, so create it")."""
    p = Path(path)
    try:
        os.stat(p)
    except FileNotFoundError:
        pass
    except PermissionError:
        raise InputError(access_problem(p), location=str(p)) from None
    else:
        return read_secret_file(p)
    value = _stdlib_secrets.token_urlsafe(nbytes)
    tmp = p.with_name(f".{p.name}.{_stdlib_secrets.token_hex(6)}.new")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(tmp, value + "\n", mode=0o600)
        if owner is not None:
            os.chown(tmp, *owner)
        os.link(tmp, p)
    except FileExistsError:
        return read_secret_file(p)  # another process generated it first
    except PermissionError:
        raise InputError(access_problem(p), location=str(p)) from None
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return read_secret_file(p)
        raise InputError(
            f"cannot create secret file: {exc.strerror or exc.__class__.__name__}",
            location=str(p),
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return Secret(value)


__all__ = [
    "MASK",
    "NotLoadedSecret",
    "Secret",
    "access_problem",
    "account",
    "ensure_secret_file",
    "known_secret_values",
    "read_secret_file",
    "write_secret_file",
]
