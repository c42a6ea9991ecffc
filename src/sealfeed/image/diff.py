"""Explain why two image archives are not bit-identical (pure: two models in, a report out).

The comparison walks from the outside in and stops descending where the bytes agree:

1. the archive file (SHA-256; equal means identical, nothing else is looked at);
2. the gzip wrapper (header fields RFC 1952 §2.3: MTIME, OS, XFL, FLG, FNAME; or, with equal
   headers and equal payload, the deflate stream itself: compressor or level);
3. the outer tar (member set, order, mode/uid/gid/mtime of ``manifest.json`` and blobs);
4. the OCI manifest / docker ``manifest.json``, then the config (``created``, ``history``,
   ``config.Env`` order, ..., or only its serialization);
5. each layer: stored blob vs ``diff_id``; for a compressed-only difference the layer's gzip
   header; otherwise per path: content hash, size, type, mode, uid/gid, user/group names,
   mtime, symlink/hardlink target, PAX records, and the order of members within the tar.
   Entries that all agree while the ``diff_id`` does not mean the tar *encoding* differs
   (header format, padding, end-of-archive blocks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sealfeed.image.archive import ImageArchive, Layer, OuterMember, TarEntry, normalize_path
from sealfeed.image.gzipheader import GzipHeader

#: RFC 1952 §2.3.1 "OS" values that show up in practice
_GZIP_OS = {0: "FAT", 3: "Unix", 7: "Macintosh", 11: "NTFS", 255: "unknown"}
_GZIP_FIELDS = ("mtime", "os", "xfl", "flags", "fname", "comment", "extra")
_ENTRY_FIELDS = (
    ("type", "type"),
    ("sha256", "content"),
    ("size", "size"),
    ("mode", "mode"),
    ("uid", "uid"),
    ("gid", "gid"),
    ("uname", "uname"),
    ("gname", "gname"),
    ("mtime", "mtime"),
    ("linkname", "link target"),
    ("pax", "pax records"),
)
_MEMBER_FIELDS = ("type", "mode", "uid", "gid", "mtime", "size")


@dataclass(frozen=True)
class Difference:
    """One precise reason two images differ.

    ``scope`` says where (``archive``, ``archive-gzip``, ``archive-tar``, ``manifest``,
    ``config``, ``layer``, ``layer-gzip``), ``field`` what (``mtime``, ``order``,
    ``config.Env``...), ``a``/``b`` the two values.
    """

    scope: str
    field: str
    a: Any
    b: Any
    layer: int | None = None
    path: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"scope": self.scope, "field": self.field, "a": self.a, "b": self.b}
        if self.layer is not None:
            doc["layer"] = self.layer
        if self.path is not None:
            doc["path"] = self.path
        if self.detail:
            doc["detail"] = self.detail
        return doc

    def human(self) -> str:
        where = self.scope
        if self.layer is not None:
            where += f" {self.layer}"
        if self.path is not None:
            # tar names are bytes; undecodable ones arrive as surrogates (surrogateescape)
            where += " " + self.path.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        line = f"{where}: {self.field}: {_fmt(self.a)} != {_fmt(self.b)}"
        return f"{line}  ({self.detail})" if self.detail else line


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, default=str)


@dataclass(frozen=True)
class DiffReport:
    a: str
    b: str
    a_sha256: str
    b_sha256: str
    differences: tuple[Difference, ...] = ()
    #: differences found beyond the per-layer limit (counted, not listed)
    omitted: int = 0

    @property
    def identical(self) -> bool:
        return self.a_sha256 == self.b_sha256

    def as_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "a": {"path": self.a, "sha256": self.a_sha256},
            "b": {"path": self.b, "sha256": self.b_sha256},
            "differences": [d.as_dict() for d in self.differences],
            "omitted": self.omitted,
        }

    def human(self) -> str:
        if self.identical:
            return f"identical: {self.a_sha256}"
        lines = [f"DIFFERENT: {self.a_sha256} (a) != {self.b_sha256} (b)"]
        lines += [f"  {d.human()}" for d in self.differences]
        if self.omitted:
            lines.append(f"  ... {self.omitted} more differences not listed (raise --limit)")
        if not self.differences:
            lines.append("  (no structural difference found: the files differ only in bytes)")
        return "\n".join(lines)


# --------------------------------------------------------------------------- JSON documents


def _same_multiset(a: Sequence[Any], b: Sequence[Any]) -> bool:
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def json_diff(a: Any, b: Any, path: str) -> Iterator[tuple[str, str, Any, Any, str]]:
    """Yield ``(path, kind, a, b, detail)`` for every difference between two JSON values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                yield sub, "removed", a[key], None, "present only in a"
            elif key not in a:
                yield sub, "added", None, b[key], "present only in b"
            else:
                yield from json_diff(a[key], b[key], sub)
        if a == b and list(a) != list(b):
            yield path, "key-order", list(a), list(b), "same keys, different serialization order"
        return
    if isinstance(a, list) and isinstance(b, list):
        if a != b and len(a) == len(b) and _same_multiset(a, b):
            yield path, "order", a, b, "same entries, different order"
            return
        for i in range(min(len(a), len(b))):
            yield from json_diff(a[i], b[i], f"{path}[{i}]")
        if len(a) != len(b):
            yield path, "length", len(a), len(b), "different number of entries"
        return
    if a != b or type(a) is not type(b):
        yield path, "value", a, b, ""


def _json_differences(scope: str, a: Any, b: Any) -> list[Difference]:
    out = []
    for path, kind, va, vb, detail in json_diff(a, b, ""):
        field_name = path or "(document)"
        if kind != "value":
            detail = f"{kind}: {detail}" if detail else kind
        out.append(Difference(scope, field_name, va, vb, detail=detail))
    return out


# --------------------------------------------------------------------------- gzip / tar


def _gzip_differences(
    scope: str, a: GzipHeader | None, b: GzipHeader | None, layer: int | None
) -> list[Difference]:
    if a is None or b is None:
        return []
    ad, bd = a.as_dict(), b.as_dict()
    out = []
    for name in _GZIP_FIELDS:
        if ad[name] != bd[name]:
            detail = ""
            if name == "os":
                detail = f"{_GZIP_OS.get(a.os, '?')} vs {_GZIP_OS.get(b.os, '?')}"
            elif name == "mtime":
                detail = "compressor wrote a timestamp; deterministic gzip writes 0"
            out.append(Difference(scope, name, ad[name], bd[name], layer=layer, detail=detail))
    return out


def _keyed(entries: Sequence[Any], key: Callable[[Any], str]) -> dict[tuple[str, int], Any]:
    """Key members by (path, occurrence) so duplicate names in one tar stay distinct."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], Any] = {}
    for e in entries:
        name = key(e)
        n = seen.get(name, 0)
        seen[name] = n + 1
        out[(name, n)] = e
    return out


def _label(k: tuple[str, int]) -> str:
    return k[0] if k[1] == 0 else f"{k[0]} (occurrence {k[1] + 1})"


def _value(entry: Any, attr: str) -> Any:
    value = getattr(entry, attr)
    if attr == "mode":
        return f"{value:04o}"
    if attr == "pax":
        return dict(value)
    return value


def _member_differences(
    scope: str,
    a: Sequence[TarEntry] | Sequence[OuterMember],
    b: Sequence[TarEntry] | Sequence[OuterMember],
    key_a: Callable[[Any], str],
    key_b: Callable[[Any], str],
    fields: Sequence[tuple[str, str]],
    layer: int | None,
) -> list[Difference]:
    ka, kb = _keyed(a, key_a), _keyed(b, key_b)
    out: list[Difference] = []
    for k in ka:
        if k not in kb:
            out.append(
                Difference(scope, "presence", "present", "absent", layer=layer, path=_label(k))
            )
    for k in kb:
        if k not in ka:
            out.append(
                Difference(scope, "presence", "absent", "present", layer=layer, path=_label(k))
            )
    for k, ea in ka.items():
        eb = kb.get(k)
        if eb is None:
            continue
        for attr, name in fields:
            va, vb = _value(ea, attr), _value(eb, attr)
            if va != vb:
                detail = ""
                if attr == "linkname":
                    detail = f"{getattr(ea, 'type', '')} target"
                out.append(
                    Difference(scope, name, va, vb, layer=layer, path=_label(k), detail=detail)
                )
    # Order of the members both sides have, relative to each other.
    common_a = [k for k in ka if k in kb]
    common_b = [k for k in kb if k in ka]
    if common_a != common_b:
        pos_b = {k: i for i, k in enumerate(common_b)}
        for i, k in enumerate(common_a):
            if pos_b[k] != i:
                out.append(
                    Difference(
                        scope,
                        "order",
                        i,
                        pos_b[k],
                        layer=layer,
                        path=_label(k),
                        detail="position among the members both tars contain",
                    )
                )
    return out


def _role_key(archive: ImageArchive) -> Callable[[Any], str]:
    """Name outer members by role, so content-addressed names (``blobs/sha256/<hex>``,
    ``<hex>/layer.tar``) pair up across builds instead of showing as added + removed."""
    roles: dict[str, str] = {}
    for layer in archive.layers:
        member = normalize_path(layer.member)
        roles[member] = f"<layer {layer.index}>"
        parent = member.rpartition("/")[0]
        if parent and parent != "blobs/sha256":
            roles[parent] = f"<layer {layer.index} directory>"
    roles[normalize_path(archive.config_member)] = "<config>"
    if archive.manifest_member:
        roles[normalize_path(archive.manifest_member)] = "<manifest>"

    def key(member: Any) -> str:
        name = normalize_path(member.name)
        return roles.get(name, name)

    return key


def _layer_differences(la: Layer, lb: Layer) -> list[Difference]:
    i = la.index
    out: list[Difference] = []
    if la.media_type != lb.media_type:
        out.append(Difference("layer", "media_type", la.media_type, lb.media_type, layer=i))
    if la.diff_id == lb.diff_id:
        # Same tar, different stored bytes: compression.
        if la.compression != lb.compression:
            out.append(Difference("layer", "compression", la.compression, lb.compression, layer=i))
            return out
        gz = _gzip_differences("layer-gzip", la.gzip, lb.gzip, i)
        if gz:
            return out + gz
        out.append(
            Difference(
                "layer-gzip",
                "deflate-stream",
                la.digest,
                lb.digest,
                layer=i,
                detail="same tar and gzip header, different compressed bytes: "
                "compressor implementation or level differs",
            )
        )
        return out
    by_path = attrgetter("path")
    entries = _member_differences(
        "layer", la.entries, lb.entries, by_path, by_path, _ENTRY_FIELDS, layer=i
    )
    if not entries:
        entries.append(
            Difference(
                "layer",
                "tar-encoding",
                {"diff_id": la.diff_id, "bytes": la.uncompressed_size},
                {"diff_id": lb.diff_id, "bytes": lb.uncompressed_size},
                layer=i,
                detail="every member agrees but the tar bytes differ: header format "
                "(ustar/gnu/pax), padding or end-of-archive blocks",
            )
        )
    return out + entries


def diff_archives(a: ImageArchive, b: ImageArchive, limit: int = 200) -> DiffReport:
    """Every reason ``a`` and ``b`` differ; at most ``limit`` listed per section."""
    if a.sha256 == b.sha256:
        return DiffReport(a.source, b.source, a.sha256, b.sha256)
    sections: list[list[Difference]] = []
    top: list[Difference] = []
    if a.format != b.format:
        top.append(Difference("archive", "format", a.format, b.format))
    if a.compression != b.compression:
        top.append(Difference("archive", "compression", a.compression, b.compression))
    if a.size != b.size:
        top.append(Difference("archive", "size", a.size, b.size))
    sections.append(top)
    gz = _gzip_differences("archive-gzip", a.gzip, b.gzip, None)
    if a.compression == b.compression == "gzip" and a.tar_sha256 == b.tar_sha256 and not gz:
        gz.append(
            Difference(
                "archive-gzip",
                "deflate-stream",
                a.sha256,
                b.sha256,
                detail="same tar and gzip header, different compressed bytes: "
                "compressor implementation or level differs",
            )
        )
    sections.append(gz)
    if a.tar_sha256 != b.tar_sha256:
        sections.append(
            _member_differences(
                "archive-tar",
                a.members,
                b.members,
                _role_key(a),
                _role_key(b),
                [(f, f) for f in _MEMBER_FIELDS],
                layer=None,
            )
        )
        if a.manifest_digest != b.manifest_digest:
            sections.append(
                [
                    Difference("manifest", "digest", a.manifest_digest, b.manifest_digest),
                    *_json_differences("manifest", a.manifest, b.manifest),
                ]
            )
        elif a.top_bytes != b.top_bytes and a.format == b.format == "docker-archive":
            try:
                ma, mb = json.loads(a.top_bytes), json.loads(b.top_bytes)
            except ValueError:  # pragma: no cover - read_archive already parsed both
                ma, mb = None, None
            sections.append(_json_differences("manifest", ma, mb))
        if a.config_digest != b.config_digest:
            cfg = [Difference("config", "digest", a.config_digest, b.config_digest)]
            fields = _json_differences("config", a.config, b.config)
            if not fields:
                fields.append(
                    Difference(
                        "config",
                        "serialization",
                        len(a.config_bytes),
                        len(b.config_bytes),
                        detail="same JSON value, different bytes (whitespace or escaping)",
                    )
                )
            sections.append(cfg + fields)
        for la, lb in zip(a.layers, b.layers, strict=False):
            if la.digest != lb.digest:
                sections.append(_layer_differences(la, lb))
        if len(a.layers) != len(b.layers):
            sections.append(
                [Difference("archive", "layer_count", len(a.layers), len(b.layers))]
                + [
                    Difference("layer", "presence", "present", "absent", layer=la.index)
                    for la in a.layers[len(b.layers) :]
                ]
                + [
                    Difference("layer", "presence", "absent", "present", layer=lb.index)
                    for lb in b.layers[len(a.layers) :]
                ]
            )
    listed: list[Difference] = []
    omitted = 0
    for section in sections:
        listed.extend(section[:limit])
        omitted += max(0, len(section) - limit)
    return DiffReport(a.source, b.source, a.sha256, b.sha256, tuple(listed), omitted)


def differences_by_scope(report: DiffReport) -> Mapping[str, list[Difference]]:
    out: dict[str, list[Difference]] = {}
    for d in report.differences:
        out.setdefault(d.scope, []).append(d)
    return out


__all__ = ["DiffReport", "Difference", "diff_archives", "differences_by_scope", "json_diff"]
