"""Filesystem edge of the renderer: write a rendered tree atomically, read a source tree."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sealfeed.errors import InputError
from sealfeed.s6.render import SOURCE_DIR, RenderedTree


def write_tree(tree: RenderedTree, dest: str | os.PathLike[str]) -> Path:
    """Replace ``dest`` with ``tree``: built in a sibling temp dir, then renamed into place.

    A reader sees either the old tree or the new one, never a half-written mix (the only
    window is between the two renames, when ``dest`` is briefly absent).
    """
    target = Path(dest).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, data in sorted(tree.files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, tree.mode(rel))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(path, tree.mode(rel))  # umask must not weaken or widen the mode
        tmp.chmod(0o755)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


@dataclass
class SourceService:
    """One service directory of an s6-rc source tree, as read from disk."""

    name: str
    path: Path
    type: str
    dependencies: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    producer_for: str | None = None
    consumer_for: str | None = None

    def file(self, rel: str) -> Path:
        return self.path / rel

    def text(self, rel: str) -> str | None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return (self.path / rel).read_text(encoding="utf-8").strip()
        return None


def read_source_tree(root: str | os.PathLike[str]) -> dict[str, SourceService]:
    """Every service directory under ``<root>/s6-rc.d`` (name -> parsed metadata)."""
    src = Path(root) / SOURCE_DIR
    if not src.is_dir():
        raise InputError(f"not an s6-rc source tree: {SOURCE_DIR}/ missing", location=str(root))
    out: dict[str, SourceService] = {}
    for entry in sorted(src.iterdir()):
        if not entry.is_dir():
            continue
        svc = SourceService(name=entry.name, path=entry, type="")
        svc.type = svc.text("type") or ""
        for sub, lst in (("dependencies.d", svc.dependencies), ("contents.d", svc.contents)):
            d = entry / sub
            if d.is_dir():
                lst.extend(sorted(p.name for p in d.iterdir()))
        svc.producer_for = svc.text("producer-for")
        svc.consumer_for = svc.text("consumer-for")
        out[entry.name] = svc
    return out


__all__ = ["SourceService", "read_source_tree", "write_tree"]
