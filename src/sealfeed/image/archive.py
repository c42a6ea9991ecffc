"""Read an image archive into a typed model: docker-archive or OCI image layout, tar or tar.gz.

Two on-disk shapes are understood, both as produced by real tools:

* **docker-archive** (``docker save``, nixpkgs ``dockerTools.streamLayeredImage``): a tar with
  ``manifest.json`` (a list of ``{"Config", "RepoTags", "Layers"}``), the config JSON named by
  ``Config`` and one tar per layer named by ``Layers`` (``<id>/layer.tar`` or
  ``blobs/sha256/<hex>``). Docker archives carry no registry manifest, only the config, whose
  SHA-256 is the image ID.
* **OCI image layout** (image-spec ``image-layout.md``): ``oci-layout``
  (``{"imageLayoutVersion": "1.0.0"}``), ``index.json`` and content-addressed
  ``blobs/<alg>/<hex>``; ``index.json`` points at a manifest (possibly through nested
  indexes), the manifest at the config and the layers.

The whole file is hashed as stored (that SHA-256 is what Super Protocol records for an image
resource), a gzip wrapper is peeled into a temporary file so members can be read in any order,
and every layer is streamed once: stored digest, gzip header, ``diff_id`` (SHA-256 of the
uncompressed tar, image-spec ``config.md`` "rootfs") and one :class:`TarEntry` per member
with its content hash. Nothing is extracted to disk.

Every malformed input ends in :class:`~sealfeed.errors.InputError` naming the file and the
member; no ``tarfile``/``zlib``/``json`` exception reaches the caller.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from sealfeed.errors import InputError
from sealfeed.image.gzipheader import GzipHeader, is_gzip, parse_gzip_header

_CHUNK = 1 << 20
_HEAD = 1 << 16
#: zstd frame magic (RFC 8878 §3.1.1), for a clear "unsupported" instead of a tar error
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Other compressors' magic numbers (xz file format §2.1.1.1, RFC 8878 §3.1.1, bzip2 "BZh"),
#: for a clear message instead of "not a tar archive".
_UNSUPPORTED_WRAPPERS = (
    (b"\xfd7zXZ\x00", "xz"),
    (_ZSTD_MAGIC, "zstd"),
    (b"BZh", "bzip2"),
)
#: JSON documents (manifests, configs, indexes) are small; refuse absurd ones early.
_MAX_JSON = 64 << 20
#: image-spec ``image-index.md``: indexes may nest; real images use one level.
_MAX_INDEX_DEPTH = 8

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)

EntryType = Literal["file", "hardlink", "symlink", "char", "block", "dir", "fifo", "other"]

_TYPE_NAMES: Mapping[bytes, EntryType] = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.LNKTYPE: "hardlink",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.DIRTYPE: "dir",
    tarfile.FIFOTYPE: "fifo",
}

# Exceptions the standard library raises on corrupt tar/gzip/JSON/UTF-8 input. They are turned
# into InputError at the edges of this module (conventions.md "Errors").
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    ValueError,  # includes json.JSONDecodeError and UnicodeDecodeError
    OSError,
    OverflowError,
)


def normalize_path(name: str) -> str:
    """``./usr/bin/x`` and ``/usr/bin/x`` are the same path inside a layer."""
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/").rstrip("/")
    return name or "."


@dataclass(frozen=True)
class TarEntry:
    """One member of a tar stream, with everything that can make two builds differ."""

    index: int
    name: str
    path: str
    type: EntryType
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: int | float
    size: int
    linkname: str
    #: SHA-256 of the content of regular files, None for everything else
    sha256: str | None
    #: PAX extended header records other than the ones tarfile already folded in
    pax: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "type": self.type,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "uname": self.uname,
            "gname": self.gname,
            "mtime": self.mtime,
            "size": self.size,
            "linkname": self.linkname,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Layer:
    """One layer blob: as stored (``digest``, ``size``) and uncompressed (``diff_id``)."""

    index: int
    member: str
    media_type: str | None
    digest: str
    size: int
    diff_id: str
    uncompressed_size: int
    compression: Literal["none", "gzip"]
    gzip: GzipHeader | None
    entries: tuple[TarEntry, ...]

    @property
    def file_count(self) -> int:
        return len(self.entries)

    @property
    def regular_files(self) -> int:
        return sum(1 for e in self.entries if e.type == "file")


@dataclass(frozen=True)
class OuterMember:
    """A member of the outer archive tar (``manifest.json``, a blob, a layer directory)."""

    index: int
    name: str
    type: EntryType
    mode: int
    uid: int
    gid: int
    mtime: int | float
    size: int


@dataclass(frozen=True)
class ImageArchive:
    source: str
    format: Literal["docker-archive", "oci-layout"]
    sha256: str
    size: int
    compression: Literal["none", "gzip"]
    gzip: GzipHeader | None
    #: SHA-256 of the tar inside the gzip wrapper (equal to ``sha256`` when uncompressed)
    tar_sha256: str
    members: tuple[OuterMember, ...]
    manifest_digest: str | None
    manifest: Mapping[str, Any] | None
    config_digest: str
    config_bytes: bytes
    config: Mapping[str, Any]
    layers: tuple[Layer, ...]
    ref_names: tuple[str, ...] = ()
    #: outer-tar member holding the config and (OCI) the manifest
    config_member: str = ""
    manifest_member: str | None = None
    #: docker-archive ``manifest.json`` bytes, or OCI ``index.json`` bytes
    top_bytes: bytes = field(default=b"", repr=False)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)


# --------------------------------------------------------------------------- stream helpers


class _ByteSource(Protocol):
    """What :class:`_HashingReader` reads from: a file, a GzipFile, another reader."""

    def read(self, size: int, /) -> bytes: ...


class _HashingReader(io.RawIOBase):
    """Read-through wrapper that hashes and counts every byte it hands out."""

    def __init__(self, raw: _ByteSource, prefix: bytes = b"") -> None:
        self._raw = raw
        self._prefix = prefix
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = [self.read(_CHUNK)]
            while chunks[-1]:
                chunks.append(self.read(_CHUNK))
            return b"".join(chunks)
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data = self._raw.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    def hexdigest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _entry_type(info: tarfile.TarInfo) -> EntryType:
    return _TYPE_NAMES.get(info.type, "other")


def _mtime(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


# Records tarfile folds into TarInfo attributes; anything else is reported verbatim.
_PAX_FOLDED = frozenset({"path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime"})


def _pax(info: tarfile.TarInfo) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in info.pax_headers.items() if k not in _PAX_FOLDED))


def read_tar_stream(stream: IO[bytes] | _HashingReader, location: str) -> tuple[TarEntry, ...]:
    """Every member of an uncompressed tar stream, content-hashed, in stream order."""
    entries: list[TarEntry] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            for i, info in enumerate(tf):
                digest: str | None = None
                if info.isreg():
                    h = hashlib.sha256()
                    f = tf.extractfile(info)
                    if f is None:  # pragma: no cover - isreg() members always have data
                        raise InputError("regular file without data", location=location)
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                    digest = "sha256:" + h.hexdigest()
                entries.append(
                    TarEntry(
                        index=i,
                        name=info.name,
                        path=normalize_path(info.name),
                        type=_entry_type(info),
                        mode=info.mode,
                        uid=info.uid,
                        gid=info.gid,
                        uname=info.uname,
                        gname=info.gname,
                        mtime=_mtime(info.mtime),
                        size=info.size,
                        linkname=info.linkname,
                        sha256=digest,
                        pax=_pax(info),
                    )
                )
    except InputError:
        raise
    except _DECODE_ERRORS as exc:
        where = f"{location}: entry {len(entries)}"
        raise InputError(
            f"corrupt tar stream: {exc.__class__.__name__}: {exc}", location=where
        ) from None
    return tuple(entries)


def read_layer(
    fp: IO[bytes], *, index: int, member: str, media_type: str | None, location: str
) -> Layer:
    """Stream one layer blob: stored digest, gzip header, diff_id and entries."""
    head = fp.read(_HEAD)
    stored = _HashingReader(fp, prefix=head)
    gz: GzipHeader | None = None
    compression: Literal["none", "gzip"] = "none"
    try:
        if head.startswith(_ZSTD_MAGIC):
            raise InputError("zstd-compressed layers are not supported", location=location)
        if is_gzip(head):
            gz = parse_gzip_header(head, location=location)
            compression = "gzip"
            payload: Any = gzip.GzipFile(fileobj=stored, mode="rb")
        else:
            payload = stored
        uncompressed = _HashingReader(payload)
        entries = read_tar_stream(uncompressed, location)
        uncompressed.drain()  # the end-of-archive blocks and any padding belong to diff_id
        stored.drain()
    except InputError:
        raise
    except _DECODE_ERRORS as exc:
        raise InputError(
            f"corrupt layer ({compression}): {exc.__class__.__name__}: {exc}", location=location
        ) from None
    return Layer(
        index=index,
        member=member,
        media_type=media_type,
        digest=stored.hexdigest(),
        size=stored.count,
        diff_id=uncompressed.hexdigest(),
        uncompressed_size=uncompressed.count,
        compression=compression,
        gzip=gz,
        entries=entries,
    )


# --------------------------------------------------------------------------- outer archive


class _Outer:
    """Random access to the members of the (decompressed) outer tar."""

    def __init__(self, tf: tarfile.TarFile, source: str) -> None:
        self.tf = tf
        self.source = source
        self.by_name: dict[str, tarfile.TarInfo] = {}
        members: list[OuterMember] = []
        for i, info in enumerate(tf.getmembers()):
            self.by_name[normalize_path(info.name)] = info  # later members win, as on extract
            members.append(
                OuterMember(
                    index=i,
                    name=info.name,
                    type=_entry_type(info),
                    mode=info.mode,
                    uid=info.uid,
                    gid=info.gid,
                    mtime=_mtime(info.mtime),
                    size=info.size,
                )
            )
        self.members = tuple(members)

    def where(self, name: str) -> str:
        return f"{self.source}:{name}"

    def has(self, name: str) -> bool:
        return normalize_path(name) in self.by_name

    def _resolve(self, name: str, depth: int = 0) -> tarfile.TarInfo:
        info = self.by_name.get(normalize_path(name))
        if info is None:
            raise InputError("member not found in archive", location=self.where(name))
        if (info.islnk() or info.issym()) and depth < 8:
            target = info.linkname
            if info.issym():  # symlinks are relative to the link's directory
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(normalize_path(info.name)), target)
                )
            return self._resolve(target, depth + 1)
        if not info.isreg():
            raise InputError("member is not a regular file", location=self.where(name))
        return info

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        info = self._resolve(name)
        f = self.tf.extractfile(info)
        if f is None:  # pragma: no cover - _resolve guarantees a regular file
            raise InputError("member has no data", location=self.where(name))
        with f:
            yield f

    def read_small(self, name: str) -> bytes:
        info = self._resolve(name)
        if info.size > _MAX_JSON:
            raise InputError(f"member too large ({info.size} bytes)", location=self.where(name))
        with self.open(name) as f:
            return f.read()


def _json(data: bytes, location: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"invalid JSON: {exc}", location=location) from None


def _obj(value: Any, location: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"expected a JSON object, got {type(value).__name__}", location=location)
    return value


def _str(doc: Mapping[str, Any], key: str, location: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"missing or non-string {key!r}", location=f"{location}.{key}")
    return value


def _sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_diff_ids(config: Mapping[str, Any], layers: tuple[Layer, ...], location: str) -> None:
    """image-spec config.md: ``rootfs.diff_ids`` lists the uncompressed layer digests in order."""
    rootfs = config.get("rootfs")
    declared = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(declared, list):
        raise InputError("config has no rootfs.diff_ids list", location=f"{location}.rootfs")
    if len(declared) != len(layers):
        raise InputError(
            f"config lists {len(declared)} diff_ids but the manifest has {len(layers)} layers",
            location=f"{location}.rootfs.diff_ids",
        )
    for layer, want in zip(layers, declared, strict=True):
        if layer.diff_id != want:
            raise InputError(
                f"layer {layer.index} ({layer.member}) has diff_id {layer.diff_id}, "
                f"config says {want}",
                location=f"{location}.rootfs.diff_ids[{layer.index}]",
            )


def _docker(outer: _Outer) -> dict[str, Any]:
    loc = outer.where("manifest.json")
    top = outer.read_small("manifest.json")
    manifest = _json(top, loc)
    if not isinstance(manifest, list) or not manifest:
        raise InputError("manifest.json must be a non-empty list", location=loc)
    entry = _obj(manifest[0], f"{loc}[0]")
    config_name = _str(entry, "Config", f"{loc}[0]")
    layer_names = entry.get("Layers")
    if not isinstance(layer_names, list) or not all(isinstance(n, str) for n in layer_names):
        raise InputError("Layers must be a list of member names", location=f"{loc}[0].Layers")
    tags = entry.get("RepoTags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InputError("RepoTags must be a list of strings", location=f"{loc}[0].RepoTags")
    config_bytes = outer.read_small(config_name)
    config = _obj(_json(config_bytes, outer.where(config_name)), outer.where(config_name))
    layers = []
    for i, name in enumerate(layer_names):
        with outer.open(name) as f:
            layers.append(
                read_layer(f, index=i, member=name, media_type=None, location=outer.where(name))
            )
    return {
        "format": "docker-archive",
        "manifest_digest": None,
        "manifest": None,
        "config_bytes": config_bytes,
        "config": config,
        "config_location": outer.where(config_name),
        "layers": tuple(layers),
        "ref_names": tuple(tags),
        "config_member": config_name,
        "manifest_member": None,
        "top_bytes": top,
    }


def _blob_name(digest: str, location: str) -> str:
    alg, sep, hexpart = digest.partition(":")
    if not sep or alg != "sha256" or len(hexpart) != 64:
        raise InputError(f"unsupported or malformed digest {digest!r}", location=location)
    try:
        int(hexpart, 16)
    except ValueError:
        raise InputError(f"malformed digest {digest!r}", location=location) from None
    return f"blobs/sha256/{hexpart}"


def _descriptor(value: Any, location: str) -> tuple[str, str | None, int | None]:
    desc = _obj(value, location)
    digest = _str(desc, "digest", location)
    media = desc.get("mediaType")
    size = desc.get("size")
    if media is not None and not isinstance(media, str):
        raise InputError("mediaType must be a string", location=f"{location}.mediaType")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise InputError("size must be a non-negative integer", location=f"{location}.size")
    return digest, media, size


def _read_blob(outer: _Outer, digest: str, size: int | None, location: str) -> bytes:
    name = _blob_name(digest, location)
    data = outer.read_small(name)
    if _sha256_hex(data) != digest:
        raise InputError(
            f"blob content does not match its digest {digest}", location=outer.where(name)
        )
    if size is not None and size != len(data):
        raise InputError(
            f"descriptor size {size} != blob size {len(data)}", location=f"{location}.size"
        )
    return data


def _pick(manifests: list[Any], location: str) -> Any:
    """Prefer linux/amd64 when an index lists several platforms (the appliance's platform)."""
    if not manifests:
        raise InputError("index lists no manifests", location=f"{location}.manifests")
    for m in manifests:
        plat = m.get("platform") if isinstance(m, dict) else None
        if isinstance(plat, dict) and (plat.get("os"), plat.get("architecture")) == (
            "linux",
            "amd64",
        ):
            return m
    return manifests[0]


def _oci(outer: _Outer) -> dict[str, Any]:
    layout_loc = outer.where("oci-layout")
    layout = _obj(_json(outer.read_small("oci-layout"), layout_loc), layout_loc)
    version = layout.get("imageLayoutVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise InputError(
            f"unsupported imageLayoutVersion {version!r}",
            location=f"{layout_loc}.imageLayoutVersion",
        )
    loc = outer.where("index.json")
    top = outer.read_small("index.json")
    index = _obj(_json(top, loc), loc)
    refs: list[str] = []
    doc: dict[str, Any] = index
    media: str | None = index.get("mediaType") or MEDIA_OCI_INDEX
    digest: str | None = None
    raw = top
    for _depth in range(_MAX_INDEX_DEPTH):
        if media not in _INDEX_TYPES and "manifests" not in doc:
            break
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise InputError("index has no manifests list", location=f"{loc}.manifests")
        chosen = _pick(manifests, loc)
        digest, media, size = _descriptor(chosen, f"{loc}.manifests[{manifests.index(chosen)}]")
        annotations = chosen.get("annotations") if isinstance(chosen, dict) else None
        if isinstance(annotations, dict):
            ref = annotations.get("org.opencontainers.image.ref.name")
            if isinstance(ref, str):
                refs.append(ref)
        raw = _read_blob(outer, digest, size, loc)
        loc = outer.where(_blob_name(digest, loc))
        doc = _obj(_json(raw, loc), loc)
        media = doc.get("mediaType", media)
    else:
        raise InputError("index nesting too deep", location=loc)
    if digest is None:
        raise InputError("index.json is not an image index", location=loc)
    config_digest, _cmedia, config_size = _descriptor(doc.get("config"), f"{loc}.config")
    config_bytes = _read_blob(outer, config_digest, config_size, f"{loc}.config")
    config_loc = outer.where(_blob_name(config_digest, loc))
    config = _obj(_json(config_bytes, config_loc), config_loc)
    layer_descs = doc.get("layers")
    if not isinstance(layer_descs, list):
        raise InputError("manifest has no layers list", location=f"{loc}.layers")
    layers = []
    for i, desc in enumerate(layer_descs):
        dloc = f"{loc}.layers[{i}]"
        ldigest, lmedia, lsize = _descriptor(desc, dloc)
        name = _blob_name(ldigest, dloc)
        with outer.open(name) as f:
            layer = read_layer(
                f, index=i, member=name, media_type=lmedia, location=outer.where(name)
            )
        if layer.digest != ldigest:
            raise InputError(
                f"layer blob content does not match its digest {ldigest}",
                location=outer.where(name),
            )
        if lsize is not None and lsize != layer.size:
            raise InputError(f"descriptor size {lsize} != blob size {layer.size}", location=dloc)
        layers.append(layer)
    return {
        "format": "oci-layout",
        "manifest_digest": digest,
        "manifest": doc,
        "config_bytes": config_bytes,
        "config": config,
        "config_location": config_loc,
        "layers": tuple(layers),
        "ref_names": tuple(refs),
        "config_member": _blob_name(config_digest, loc),
        "manifest_member": _blob_name(digest, loc),
        "top_bytes": top,
    }


def _check_docker_view(outer: _Outer, oci: Mapping[str, Any]) -> None:
    """Docker 25+ ``docker save`` writes an OCI layout *and* a ``manifest.json`` over the same
    blobs. ``docker load`` reads the latter, so both views must name the same members (compared
    by resolved member, so the layers are not read twice)."""
    loc = outer.where("manifest.json")
    manifest = _json(outer.read_small("manifest.json"), loc)
    if not isinstance(manifest, list) or not manifest:
        raise InputError("manifest.json must be a non-empty list", location=loc)
    entry = _obj(manifest[0], f"{loc}[0]")
    config_name = _str(entry, "Config", f"{loc}[0]")
    layer_names = entry.get("Layers")
    if not isinstance(layer_names, list) or not all(isinstance(n, str) for n in layer_names):
        raise InputError("Layers must be a list of member names", location=f"{loc}[0].Layers")

    def resolved(name: str) -> str:
        return normalize_path(outer._resolve(name).name)

    if resolved(config_name) != resolved(oci["config_member"]):
        raise InputError(
            "manifest.json names a different config than index.json", location=f"{loc}[0].Config"
        )
    if [resolved(n) for n in layer_names] != [resolved(la.member) for la in oci["layers"]]:
        raise InputError(
            "manifest.json lists different layers than index.json", location=f"{loc}[0].Layers"
        )


def parse_tar(tar_fp: IO[bytes], source: str) -> dict[str, Any]:
    """Parse an uncompressed, seekable outer tar; returns the fields of :class:`ImageArchive`."""
    try:
        tf = tarfile.open(fileobj=tar_fp, mode="r:")  # noqa: SIM115 - closed by the with below
    except _DECODE_ERRORS as exc:
        raise InputError(f"not a tar archive: {exc}", location=source) from None
    try:
        with tf:
            outer = _Outer(tf, source)
            if outer.has("oci-layout") and outer.has("index.json"):
                fields = _oci(outer)
                if outer.has("manifest.json"):
                    _check_docker_view(outer, fields)
            elif outer.has("manifest.json"):
                fields = _docker(outer)
            else:
                raise InputError(
                    "neither a docker-archive (manifest.json) nor an OCI layout "
                    "(oci-layout + index.json)",
                    location=source,
                )
            _check_diff_ids(fields["config"], fields["layers"], fields.pop("config_location"))
            fields["config_digest"] = _sha256_hex(fields["config_bytes"])
            fields["members"] = outer.members
            return fields
    except InputError:
        raise
    except _DECODE_ERRORS as exc:
        raise InputError(
            f"corrupt archive: {exc.__class__.__name__}: {exc}", location=source
        ) from None


def read_archive(path: str | Path) -> ImageArchive:
    """Read and fully verify an image archive file (the IO edge of this package)."""
    p = Path(path)
    source = str(p)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open image archive: {exc.strerror}", location=source) from None
    with f, tempfile.TemporaryFile(prefix="sealfeed-image-") as tmp:
        head = f.read(_HEAD)
        f.seek(0)
        for magic, name in _UNSUPPORTED_WRAPPERS:
            if head.startswith(magic):
                raise InputError(
                    f"{name}-compressed archive: only tar and tar.gz are read; decompress it first",
                    location=source,
                )
        outer_hash = _HashingReader(f)
        gz: GzipHeader | None = None
        if is_gzip(head):
            gz = parse_gzip_header(head, location=source)
            inner = _HashingReader(gzip.GzipFile(fileobj=outer_hash, mode="rb"))
            try:
                shutil.copyfileobj(inner, tmp, _CHUNK)
            except _DECODE_ERRORS as exc:
                raise InputError(
                    f"corrupt gzip stream: {exc.__class__.__name__}: {exc}", location=source
                ) from None
            outer_hash.drain()
            tar_sha = inner.hexdigest()
            tar_fp: IO[bytes] = tmp
            tar_fp.seek(0)
        else:
            outer_hash.drain()
            tar_sha = outer_hash.hexdigest()
            f.seek(0)
            tar_fp = f
        fields = parse_tar(tar_fp, source)
    return ImageArchive(
        source=source,
        sha256=outer_hash.hexdigest(),
        size=outer_hash.count,
        compression="gzip" if gz else "none",
        gzip=gz,
        tar_sha256=tar_sha,
        **fields,
    )


__all__ = [
    "ImageArchive",
    "Layer",
    "OuterMember",
    "TarEntry",
    "normalize_path",
    "read_archive",
    "read_layer",
    "read_tar_stream",
]
