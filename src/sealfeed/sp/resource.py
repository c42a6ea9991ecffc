"""``resource.json`` for an image, in the shape the reference publishes for verification.

Super-Protocol/chainlink ``verification/resource.json`` carries ``orderId`` and
``hash {algo, encoding, hash}`` (the SHA-256 of the uploaded image archive), plus the
``encryption`` and ``resource`` (storage) blocks that ``spctl files upload`` produces. We write
what the image determines; ``spctl`` adds the storage blocks at upload time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealfeed.errors import InputError


def measured_image_digest(measurement: Mapping[str, Any]) -> str | None:
    """The image archive's sha256 (hex) from a golden measurement, as
    ``sealfeed.image.load_measurement`` validated it (``archive_sha256: "sha256:<hex>"``).
    The one reading of that field: ``sp resource`` publishes it, ``verify`` compares the
    order's Image runtime hash and the quote binding with it."""
    value = measurement.get("archive_sha256")
    return value.removeprefix("sha256:") if isinstance(value, str) else None


def resource_document(
    measurement: Mapping[str, Any], *, order_id: int | None = None, filename: str | None = None
) -> dict[str, Any]:
    digest = measured_image_digest(measurement)
    if digest is None:
        raise InputError(
            "the image measurement names no archive sha256 (run `sealfeed image measure`)"
        )
    doc: dict[str, Any] = {}
    if order_id is not None:
        doc["orderId"] = order_id
    doc["hash"] = {"algo": "sha256", "encoding": "hex", "hash": digest}
    image: dict[str, Any] = {}
    if filename or measurement.get("archive"):
        image["filepath"] = filename or measurement.get("archive")
    for key in ("archive_size", "size", "manifest_digest", "config_digest"):
        if measurement.get(key) is not None:
            image[key] = measurement[key]
    if image:
        doc["image"] = image
    return doc


def merge_resource(
    existing: Mapping[str, Any], ours: Mapping[str, Any], *, force: bool
) -> dict[str, Any]:
    """Add our fields to the file ``spctl files upload`` wrote, keeping its ``encryption`` and
    ``resource`` blocks (losing them would lose the upload's key). A different image hash is
    refused unless ``force``."""
    old = existing.get("hash")
    if (
        isinstance(old, dict)
        and old.get("hash")
        and old.get("hash") != ours["hash"]["hash"]
        and not force
    ):
        raise InputError(
            f"resource.json records image {old.get('hash')}, not the measured "
            f"{ours['hash']['hash']} (use --force to replace it)"
        )
    merged = dict(existing)
    merged.update(ours)
    return merged


__all__ = ["measured_image_digest", "merge_resource", "resource_document"]
