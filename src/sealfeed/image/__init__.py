"""Measure a built image archive and explain why two builds differ.

Pure Python over the archive as stored (docker-archive or OCI layout, tar or tar.gz); it
inspects the artifact Nix built and never generates Nix (style-anchors.md, item 14).
"""

from sealfeed.image.archive import ImageArchive, Layer, TarEntry, read_archive
from sealfeed.image.diff import Difference, DiffReport, diff_archives
from sealfeed.image.measure import (
    SCHEMA,
    Measurement,
    load_measurement,
    measurement,
    parse_measurement,
)

__all__ = [
    "SCHEMA",
    "DiffReport",
    "Difference",
    "ImageArchive",
    "Layer",
    "Measurement",
    "TarEntry",
    "diff_archives",
    "load_measurement",
    "measurement",
    "parse_measurement",
    "read_archive",
]
