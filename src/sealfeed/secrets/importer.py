"""``sealfeed secrets import``: operator secrets into the secrets directory, each file owned
by the account that consumes it (the root oneshot ``secrets-import``, s6/graph.py).

Runs after ``config-verify`` and before every service that reads a secret:

1. the configuration is verified again (fail closed) and its ``{"secretFile"}`` references
   listed with their consumers (:data:`sealfeed.config.loader.SECRET_SCOPES`);
2. the appliance's import key exists (generated in the TEE on first start, ADR 0131);
3. every sealed bundle found in the inputs (``*.sealed.json`` in an inputs directory or one
   level below: Super Protocol mounts order inputs as ``/sp/inputs/input-0001/...``) is opened
   -- all of them before anything is written; a bundle that does not open stops the boot;
4. :func:`plan_import` (pure) checks the names against the configuration: a bundle may only
   fill references the configuration makes and the appliance does not generate itself;
5. files are written atomically (0600, chowned before they appear), generated references are
   created for their owner, existing ones are chowned/chmodded to their consumer, and every
   directory on the way is made searchable for that account;
6. a consumer that reads secrets of another's scope (``SECRET_READERS``: the link, which pushes
   with the exporter's credentials but runs as its own account, ADR 0146) gets its own 0600
   copy of exactly those files in its ``--reader-dir`` -- never the owner's file, never the
   rest of the owner's scope.

Idempotent: a second run with the same bundle changes nothing. Values are never printed,
logged or put in an error message; the report names files only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sealfeed.config.loader import SecretFileRef
from sealfeed.errors import InputError
from sealfeed.fsutil import owned_dir
from sealfeed.secret import Secret, ensure_secret_file, read_secret_file
from sealfeed.secrets.keys import IMPORT_KEY, IMPORT_PUB, ensure_import_key, public_bytes
from sealfeed.secrets.sealed import MAX_BUNDLE_BYTES, key_id, open_bundle, parse_bundle

BUNDLE_SUFFIX = ".sealed.json"


@dataclass(frozen=True)
class ServiceAccount:
    """The account a consumer runs as."""

    account: str
    uid: int
    gid: int
    groups: frozenset[int] = frozenset()


@dataclass(frozen=True)
class FilePlan:
    name: str
    consumers: tuple[str, ...]
    owner: ServiceAccount | None
    generate: bool
    imported: bool


@dataclass
class ImportReport:
    key_id: str
    key_created: bool
    bundles: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    owners_fixed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    #: reader consumer -> the files copied for it (ADR 0146)
    copies: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": True,
            "import_key": self.key_id,
            "import_key_created": self.key_created,
            "bundles": self.bundles,
            "imported": self.imported,
            "unchanged": self.unchanged,
            "generated": self.generated,
            "owners_fixed": self.owners_fixed,
            "missing": self.missing,
            "owners": self.owners,
            "copies": self.copies,
        }

    def human(self) -> str:
        lines = [f"import key {self.key_id}" + (" (generated now)" if self.key_created else "")]
        if self.bundles:
            lines.append(f"opened {len(self.bundles)} sealed bundle(s): {', '.join(self.bundles)}")
        for label, names in (("imported", self.imported), ("unchanged", self.unchanged),
                             ("generated", self.generated), ("owner/mode fixed", self.owners_fixed)):  # fmt: skip
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        for reader, names in self.copies.items():
            lines.append(f"copied for {reader}: {', '.join(names) or '(nothing it reads)'}")
        if self.missing:
            lines.append(
                "MISSING (their services will refuse to start): " + ", ".join(self.missing)
            )
        return "\n".join(lines)


def plan_import(
    refs: Sequence[SecretFileRef],
    imported: Iterable[str],
    owners: Mapping[str, ServiceAccount | None],
) -> list[FilePlan]:
    """Which file gets which owner, and whether the bundle may fill it (pure).

    Refused, all at once: a bundle entry the configuration does not reference, one that
    names a file the appliance generates itself, and a file two consumers read under
    different accounts (give each its own file)."""
    by_file: dict[str, list[SecretFileRef]] = {}
    for ref in refs:
        by_file.setdefault(ref.file, []).append(ref)
    incoming = set(imported)
    problems: list[str] = []
    for name in sorted(incoming - set(by_file)):
        problems.append(f"{name}: the configuration references no such secret file")
    plans: list[FilePlan] = []
    for name, group in by_file.items():
        consumers = tuple(sorted({r.consumer or "supervision" for r in group}))
        accounts = {owners.get(c) for c in consumers}
        if len(accounts) > 1:
            names = ", ".join(f"{c} as {(owners.get(c) or ServiceAccount('root', 0, 0)).account}"
                              for c in consumers)  # fmt: skip
            problems.append(f"{name}: read by {names}; give each account its own file")
            continue
        generate = any(r.generate for r in group)
        if generate and name in incoming:
            problems.append(
                f'{name}: generated inside the appliance ("generate": true); never imported'
            )
            continue
        plans.append(FilePlan(name, consumers, accounts.pop(), generate, name in incoming))
    if problems:
        raise InputError("the sealed secrets do not fit the configuration:\n  "
                         + "\n  ".join(problems))  # fmt: skip
    return plans


def find_bundles(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for d in inputs:
        base = Path(d)
        if base.is_dir():
            out += sorted(base.glob(f"*{BUNDLE_SUFFIX}"))
            out += sorted(base.glob(f"*/*{BUNDLE_SUFFIX}"))
    return out


def _searchable(st: os.stat_result, owner: ServiceAccount) -> bool:
    if owner.uid == 0 or st.st_uid == owner.uid:
        return bool(st.st_mode & stat.S_IXUSR) or owner.uid == 0
    if st.st_gid == owner.gid or st.st_gid in owner.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _reach(root: Path, path: Path, owner: ServiceAccount) -> None:
    """Make every directory from the secrets root to ``path`` searchable for ``owner``: the
    root must already be (the image provisions it 0750 root:sealfeed); directories below it
    get the search bit for others (their listing stays closed; files are 0600)."""
    st = root.stat()
    if not _searchable(st, owner):
        raise InputError(
            f"{owner.account} cannot enter the secrets directory ({stat.filemode(st.st_mode)}); "
            "provision it so the service accounts may search it",
            location=str(root),
        )
    for parent in reversed(path.relative_to(root).parents):
        d = root / parent
        if d == root:
            continue
        st = d.lstat()
        if not stat.S_ISDIR(st.st_mode):  # a link would send the chmod elsewhere
            raise InputError("must be a directory, not a link", location=str(d))
        if not _searchable(st, owner):
            os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _no_links(root: Path, target: Path) -> None:
    """Nothing below the secrets root on the way to ``target`` may be a symbolic link: a
    chown, chmod or write must never land outside the secrets directory."""
    d = root
    for part in target.relative_to(root).parts:
        d = d / part
        try:
            st = d.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise InputError("a secret path must not be a symbolic link", location=str(d))


def _mkdirs(root: Path, directory: Path) -> None:
    """Directories below the secrets root are created 0700 (listing closed to everyone but
    root); :func:`_reach` then opens only the search bit for a reader that needs it."""
    missing = []
    d = directory
    while d != root and not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"cannot create: {exc.strerror}", location=str(d)) from None
        os.chmod(d, 0o700)


def _give(path: Path, owner: ServiceAccount | None) -> bool:
    """chown/chmod an existing secret file to its consumer, 0600; True when changed."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise InputError("a secret file must be a regular file (not a link)", location=str(path))
    changed = False
    if owner is not None and (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
        os.chown(path, owner.uid, owner.gid)
        changed = True
    if stat.S_IMODE(st.st_mode) != 0o600:
        os.chmod(path, 0o600)
        changed = True
    return changed


def reader_files(refs: Sequence[SecretFileRef], reader: str) -> list[str]:
    """The secret files ``reader`` reads from another consumer's scope (pure;
    :data:`sealfeed.config.loader.SECRET_READERS`), each once, in reference order."""
    from sealfeed.config.loader import reads

    out: list[str] = []
    for ref in refs:
        if ref.consumer != reader and reads(reader, ref.path) and ref.file not in out:
            out.append(ref.file)
    return out


def copy_for_readers(
    refs: Sequence[SecretFileRef],
    root: Path,
    reader_dirs: Mapping[str, str | os.PathLike[str]],
    owners: Mapping[str, ServiceAccount | None],
    report: ImportReport,
) -> None:
    """Step 6: each reader's own 0600 copy of the files it reads from another scope, at the
    same relative names below its directory (missing originals are already reported)."""
    from sealfeed.config.loader import SECRET_READERS
    from sealfeed.secret import write_secret_file

    for reader, where in reader_dirs.items():
        if reader not in SECRET_READERS:
            raise InputError(f"{reader} reads no other component's secrets (readers: "
                             f"{', '.join(SECRET_READERS)})", location="--reader-dir")  # fmt: skip
        owner = owners.get(reader)
        ids = (owner.uid, owner.gid) if owner else None
        base = owned_dir(where, mode=0o700, owner=ids)
        copied = report.copies.setdefault(reader, [])
        for name in reader_files(refs, reader):
            src = root / name
            if not src.is_file():
                continue
            dst = base / name
            _no_links(base, dst)
            for sub in reversed([p for p in dst.parents if base in p.parents and not p.exists()]):
                owned_dir(sub, mode=0o700, owner=ids)
            write_secret_file(dst, read_secret_file(src), overwrite=True, owner=ids)
            copied.append(name)


def run_import(
    refs: Sequence[SecretFileRef],
    secrets_dir: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str]],
    owners: Mapping[str, ServiceAccount | None],
    reader_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> ImportReport:
    from sealfeed.secret import write_secret_file

    root = Path(secrets_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the secrets directory: {exc.strerror}",
                         location=str(root)) from None  # fmt: skip
    key, created = ensure_import_key(root)
    report = ImportReport(key_id=key_id(public_bytes(key)), key_created=created)
    incoming: dict[str, Secret] = {}
    for path in find_bundles(inputs):
        try:  # bounded: the inputs are the host's (a link to /dev/zero must not hang us)
            with path.open("rb") as fh:
                data = fh.read(MAX_BUNDLE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", location=str(path)) from None
        for name, value in open_bundle(parse_bundle(data, location=str(path)), key,
                                       location=str(path)).items():  # fmt: skip
            if name in incoming and incoming[name] != value:
                raise InputError(f"{name}: two sealed bundles give different values",
                                 location=str(path))  # fmt: skip
            incoming[name] = value
        report.bundles.append(str(path))
    internal = {IMPORT_KEY, IMPORT_PUB}
    clash = sorted(set(incoming) & internal)
    if clash:
        raise InputError(f"{', '.join(clash)}: reserved for the appliance's own import key")
    plans = plan_import(refs, incoming, owners)  # everything checked before any write
    for plan in plans:
        target = root / plan.name
        owner = plan.owner
        _no_links(root, target)
        if owner is not None:
            report.owners[plan.name] = owner.account
        if plan.imported:
            value = incoming[plan.name]
            if target.is_file() and read_secret_file(target) == value:
                report.unchanged.append(plan.name)
            else:
                _mkdirs(root, target.parent)
                write_secret_file(target, value, overwrite=True,
                                  owner=(owner.uid, owner.gid) if owner else None)  # fmt: skip
                report.imported.append(plan.name)
        elif not target.exists():
            if plan.generate:
                _mkdirs(root, target.parent)
                ensure_secret_file(target, owner=(owner.uid, owner.gid) if owner else None)
                report.generated.append(plan.name)
            else:
                report.missing.append(plan.name)
                continue
        if _give(target, owner) and plan.name not in report.imported:
            report.owners_fixed.append(plan.name)
        if owner is not None and owner.uid != 0:
            _reach(root, target, owner)
    copy_for_readers(refs, root, reader_dirs or {}, owners, report)
    return report


def owner_of(account: str) -> ServiceAccount:
    """An account by name (InputError when it does not exist here)."""
    import grp
    import pwd

    try:
        pw = pwd.getpwnam(account)
    except KeyError:
        raise InputError(f"no such account {account!r}", location="--owner") from None
    groups = frozenset(g.gr_gid for g in grp.getgrall() if account in g.gr_mem)
    return ServiceAccount(account, pw.pw_uid, pw.pw_gid, groups | {pw.pw_gid})


__all__ = [
    "BUNDLE_SUFFIX",
    "FilePlan",
    "ImportReport",
    "ServiceAccount",
    "copy_for_readers",
    "find_bundles",
    "owner_of",
    "plan_import",
    "reader_files",
    "run_import",
]
