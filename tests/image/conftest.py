"""Fixtures for the image tests: write builder archives to a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.image.builders import Spec, docker_archive, oci_layout


@pytest.fixture
def image_file(tmp_path: Path) -> Callable[..., Path]:
    """``image_file(spec, layout="docker"|"oci", name=...)`` -> path of the written archive."""
    counter = iter(range(10_000))

    def make(spec: Spec | None = None, layout: str = "docker", name: str | None = None) -> Path:
        spec = spec or Spec()
        data = docker_archive(spec) if layout == "docker" else oci_layout(spec)
        suffix = ".tar.gz" if spec.outer_gzip else ".tar"
        path = tmp_path / (name or f"img{next(counter)}-{layout}{suffix}")
        path.write_bytes(data)
        return path

    return make
