"""A small but real appliance image archive + its golden measurement, for verify tests."""

from __future__ import annotations

import json
from pathlib import Path

from sealfeed.image import measurement, read_archive
from sealfeed.image.measure import render_json
from tests.image.builders import Spec, docker_archive, replace_entry


def write_measured_image(root: Path, payload: bytes, name: str = "image") -> str:
    """Write ``<name>.tar`` (docker-save layout, ``payload`` in the app layer) and
    ``measurement.json`` exactly as ``sealfeed image measure --write`` does; return the
    archive sha256 (hex)."""
    spec = Spec()
    replace_entry(spec.layers, 1, "app/data.bin", data=payload)
    archive = root / f"{name}.tar"
    archive.write_bytes(docker_archive(spec))
    (root / "measurement.json").write_text(render_json(measurement(read_archive(archive))))
    digest: str = json.loads((root / "measurement.json").read_text())["archive_sha256"]
    return digest.removeprefix("sha256:")
