"""Atomic file writes (temp file in the same directory, fsync, rename: never half-written) and
directories owned as asked, never through a symbolic link."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from sealfeed.errors import InputError


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` atomically with permission ``mode``.

    The temporary file is created with ``mode`` already applied (so a secret is never
    readable by others, not even for a moment), fsynced, then renamed over ``path``; the
    directory is fsynced too so the rename survives a crash. On error nothing is left behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return target


def owned_dir(
    path: str | os.PathLike[str], *, mode: int, owner: tuple[int, int] | None = None
) -> Path:
    """``path`` exists (created with its parents) as a real directory -- a symbolic link is
    refused -- with permission ``mode`` and, when given, ``owner`` (uid, gid). Only the
    directory itself is changed (lchown), never what it contains."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        st = p.lstat()
    except OSError as exc:
        raise InputError(f"cannot create the directory: {exc.strerror}", location=str(p)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError("must be a directory, not a link", location=str(p))
    if owner is not None and (st.st_uid, st.st_gid) != owner:
        os.lchown(p, *owner)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(p, mode)
    return p


__all__ = ["atomic_write", "owned_dir"]
