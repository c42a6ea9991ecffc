"""The golden measurement of an image: the digests a verifier compares against.

``measurement(archive)`` is pure (model in, JSON-ready dict out); ``load_measurement`` reads a
file written by ``sealfeed image measure --write`` back into a typed :class:`Measurement` for
``sealfeed verify``. The document is canonical JSON (sorted keys, two-space indent, trailing
newline) so re-measuring the same archive rewrites the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealfeed.errors import InputError
from sealfeed.image.archive import ImageArchive

SCHEMA = "sealfeed.image.measurement/v1"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def measurement(archive: ImageArchive) -> dict[str, Any]:
    """Everything ``sealfeed image measure`` reports, as one JSON-ready document.

    ``archive_sha256`` is the SHA-256 of the file exactly as stored: Super Protocol records
    that for an image resource, so it is the value attestation pins. The OCI manifest digest
    exists only for OCI layouts (a docker-archive carries no registry manifest); the config
    digest is the image ID in both formats.
    """
    layers = [
        {
            "index": layer.index,
            "member": layer.member,
            "media_type": layer.media_type,
            "digest": layer.digest,
            "diff_id": layer.diff_id,
            "size": layer.size,
            "uncompressed_size": layer.uncompressed_size,
            "compression": layer.compression,
            "file_count": layer.file_count,
            "regular_files": layer.regular_files,
        }
        for layer in archive.layers
    ]
    return {
        "schema": SCHEMA,
        "format": archive.format,
        "archive_sha256": archive.sha256,
        "archive_size": archive.size,
        "compression": archive.compression,
        "tar_sha256": archive.tar_sha256,
        "manifest_digest": archive.manifest_digest,
        "config_digest": archive.config_digest,
        "image_id": archive.config_digest,
        "ref_names": list(archive.ref_names),
        "created": archive.config.get("created"),
        "architecture": archive.config.get("architecture"),
        "os": archive.config.get("os"),
        "diff_ids": list(archive.diff_ids),
        "layer_count": len(layers),
        "total_size": sum(layer.uncompressed_size for layer in archive.layers),
        "stored_size": sum(layer.size for layer in archive.layers),
        "file_count": sum(layer.file_count for layer in archive.layers),
        "layers": layers,
    }


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render_human(doc: Mapping[str, Any]) -> str:
    lines = [
        f"format          {doc['format']} ({doc['compression']})",
        f"archive sha256  {doc['archive_sha256']}",
        f"archive size    {doc['archive_size']} bytes",
        f"manifest        {doc['manifest_digest'] or '- (docker-archive has no OCI manifest)'}",
        f"config          {doc['config_digest']}",
        f"created         {doc['created']}",
        f"refs            {', '.join(doc['ref_names']) or '-'}",
        f"layers          {doc['layer_count']}, {doc['total_size']} bytes uncompressed, "
        f"{doc['file_count']} entries",
    ]
    for layer in doc["layers"]:
        lines.append(
            f"  [{layer['index']}] {layer['diff_id']}  {layer['uncompressed_size']:>12} B  "
            f"{layer['file_count']:>6} entries"
            + (f"  (stored {layer['digest']}, gzip)" if layer["compression"] == "gzip" else "")
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Measurement:
    """A golden measurement read back from ``attest/measurements/<version>.json``."""

    archive_sha256: str
    config_digest: str
    manifest_digest: str | None
    diff_ids: tuple[str, ...]
    format: str
    raw: Mapping[str, Any]


def _digest(doc: Mapping[str, Any], key: str, location: str, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise InputError(f"{key} must be 'sha256:<64 hex>'", location=f"{location}: {key}")
    return value


def parse_measurement(doc: Any, location: str = "measurement") -> Measurement:
    if not isinstance(doc, dict):
        raise InputError("measurement must be a JSON object", location=location)
    if doc.get("schema") != SCHEMA:
        raise InputError(f"schema must be {SCHEMA!r}", location=f"{location}: schema")
    diff_ids = doc.get("diff_ids")
    if not isinstance(diff_ids, list):
        raise InputError("diff_ids must be a list", location=f"{location}: diff_ids")
    for i, d in enumerate(diff_ids):
        if not isinstance(d, str) or not _DIGEST.match(d):
            raise InputError("malformed digest", location=f"{location}: diff_ids[{i}]")
    fmt = doc.get("format")
    if fmt not in ("docker-archive", "oci-layout"):
        raise InputError(f"unknown format {fmt!r}", location=f"{location}: format")
    return Measurement(
        archive_sha256=_digest(doc, "archive_sha256", location),
        config_digest=_digest(doc, "config_digest", location),
        manifest_digest=_digest(doc, "manifest_digest", location, optional=True),
        diff_ids=tuple(diff_ids),
        format=fmt,
        raw=doc,
    )


def load_measurement(path: str | Path) -> Measurement:
    """Read a measurement file (``sealfeed image measure --write``), validating its shape."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read measurement: {exc}", location=str(p)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", location=str(p)) from None
    return parse_measurement(doc, str(p))


__all__ = [
    "SCHEMA",
    "Measurement",
    "load_measurement",
    "measurement",
    "parse_measurement",
    "render_human",
    "render_json",
]
