"""`image measure` on real archives: docker-archive and OCI layout, tar and tar.gz."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from sealfeed.image import load_measurement, measurement, read_archive
from sealfeed.image.measure import render_json
from tests.image.builders import Spec, docker_archive, layer_tar, oci_layout, sha


def _sha_file(p: Path) -> str:
    return "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()


def test_builders_are_deterministic() -> None:
    assert docker_archive(Spec()) == docker_archive(Spec())
    assert oci_layout(Spec(gzip_layers=True, outer_gzip=True)) == oci_layout(
        Spec(gzip_layers=True, outer_gzip=True)
    )


def test_docker_archive_measurement(image_file) -> None:
    spec = Spec()
    path = image_file(spec, "docker")
    doc = measurement(read_archive(path))
    raws = [layer_tar(e) for e in spec.layers]
    assert doc["format"] == "docker-archive"
    assert doc["archive_sha256"] == _sha_file(path)
    assert doc["tar_sha256"] == doc["archive_sha256"]
    assert doc["compression"] == "none"
    assert doc["manifest_digest"] is None  # docker-archive has no registry manifest
    assert doc["diff_ids"] == ["sha256:" + sha(r) for r in raws]
    assert doc["total_size"] == sum(len(r) for r in raws)
    assert [layer["file_count"] for layer in doc["layers"]] == [7, 5]
    assert [layer["regular_files"] for layer in doc["layers"]] == [2, 3]
    assert doc["ref_names"] == ["sealfeed:0.1.0"]
    assert doc["created"] == "1970-01-01T00:00:01Z"
    config = spec.config(doc["diff_ids"])
    assert doc["config_digest"] == "sha256:" + sha(config) == doc["image_id"]


def test_oci_layout_gzip_measurement(image_file) -> None:
    spec = Spec(gzip_layers=True, outer_gzip=True)
    path = image_file(spec, "oci")
    archive = read_archive(path)
    doc = measurement(archive)
    assert doc["format"] == "oci-layout"
    assert doc["compression"] == "gzip"
    assert doc["archive_sha256"] == _sha_file(path)
    assert doc["tar_sha256"] == "sha256:" + sha(gzip.decompress(path.read_bytes()))
    raws = [layer_tar(e) for e in spec.layers]
    assert doc["diff_ids"] == ["sha256:" + sha(r) for r in raws]
    # the stored (compressed) digest differs from the diff_id and matches the manifest
    manifest = archive.manifest
    assert manifest is not None
    assert [layer["digest"] for layer in doc["layers"]] == [d["digest"] for d in manifest["layers"]]
    assert all(layer["digest"] != layer["diff_id"] for layer in doc["layers"])
    assert doc["manifest_digest"] == manifest_digest_from_index(archive)
    assert doc["ref_names"] == ["sealfeed:0.1.0"]
    assert [layer["compression"] for layer in doc["layers"]] == ["gzip", "gzip"]


def manifest_digest_from_index(archive) -> str:
    index = json.loads(archive.top_bytes)
    return index["manifests"][0]["digest"]


def test_same_image_both_layouts_same_config_and_diff_ids(image_file) -> None:
    a = measurement(read_archive(image_file(Spec(), "docker")))
    b = measurement(read_archive(image_file(Spec(gzip_layers=True), "oci")))
    assert a["diff_ids"] == b["diff_ids"]
    assert a["config_digest"] == b["config_digest"]
    assert a["archive_sha256"] != b["archive_sha256"]


def test_entries_are_read_with_metadata(image_file) -> None:
    archive = read_archive(image_file(Spec(), "docker"))
    by_path = {e.path: e for e in archive.layers[0].entries}
    assert by_path["bin/sh"].type == "symlink"
    assert by_path["bin/sh"].linkname == "/nix/store/abc-busybox/bin/sh"
    assert by_path["sp/secrets"].mode == 0o700
    assert (by_path["sp/secrets"].uid, by_path["sp/secrets"].gid) == (70, 70)
    files = {e.path: e for e in archive.layers[1].entries}
    assert files["app/run-link"].type == "hardlink"
    assert files["app/run.sh"].sha256 == "sha256:" + sha(b"#!/bin/sh\nexec sealfeed serve\n")


def test_write_and_load_measurement_round_trip(image_file, tmp_path: Path) -> None:
    doc = measurement(read_archive(image_file(Spec(), "oci")))
    out = tmp_path / "m.json"
    out.write_text(render_json(doc))
    m = load_measurement(out)
    assert m.archive_sha256 == doc["archive_sha256"]
    assert m.manifest_digest == doc["manifest_digest"]
    assert m.diff_ids == tuple(doc["diff_ids"])


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("archive_sha256"), "archive_sha256"),
        (lambda d: d.update(schema="other"), "schema"),
        (lambda d: d.update(diff_ids=["sha256:xyz"]), "diff_ids[0]"),
        (lambda d: d.update(format="zip"), "format"),
    ],
)
def test_load_measurement_rejects_bad_documents(image_file, tmp_path: Path, mutate, where) -> None:
    from sealfeed.errors import InputError

    doc = measurement(read_archive(image_file(Spec(), "docker")))
    mutate(doc)
    out = tmp_path / "m.json"
    out.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_measurement(out)
    assert where in str(err.value)


def test_fixture_measurement_is_current(tmp_path: Path) -> None:
    """attest/measurements/fixture-docker-archive.json is `image measure` of the test image."""
    root = Path(__file__).resolve().parents[2]
    golden = root / "attest" / "measurements" / "fixture-docker-archive.json"
    path = tmp_path / "fixture-docker-archive.tar"
    path.write_bytes(docker_archive(Spec()))
    assert golden.read_text() == render_json(measurement(read_archive(path)))


def test_docker_25_save_layout_both_views(tmp_path: Path) -> None:
    """`docker save` since Docker 25: OCI layout plus manifest.json over the same blobs."""
    from sealfeed.errors import InputError

    spec = Spec(gzip_layers=True)
    path = tmp_path / "docker25.tar"
    path.write_bytes(oci_layout(spec, docker_manifest=True))
    doc = measurement(read_archive(path))
    assert doc["format"] == "oci-layout"
    assert doc["manifest_digest"] is not None
    assert doc["diff_ids"] == ["sha256:" + sha(layer_tar(e)) for e in spec.layers]
    bad = tmp_path / "docker25-bad.tar"
    bad.write_bytes(oci_layout(spec, docker_manifest=True, wrong_config=True))
    with pytest.raises(InputError) as err:
        read_archive(bad)
    assert "manifest.json" in str(err.value)


def test_nixpkgs_layered_image_shape(tmp_path: Path) -> None:
    """Absolute member names (`/nix/store/...`) are normalized; a rebuild is bit-identical."""
    from tests.image.builders import nix_layered_image

    store = {
        "/nix/store/aaaa-sealfeed-0.1.0": {"bin/sealfeed": b"#!python\n"},
        "/nix/store/bbbb-postgresql-17": {"bin/postgres": b"\x7fELF..."},
    }
    a, b = tmp_path / "a.tar", tmp_path / "b.tar"
    a.write_bytes(nix_layered_image(store))
    b.write_bytes(nix_layered_image(store))
    archive = read_archive(a)
    paths = [e.path for e in archive.layers[0].entries]
    assert paths == [
        "nix",
        "nix/store",
        "nix/store/aaaa-sealfeed-0.1.0",
        "nix/store/aaaa-sealfeed-0.1.0/bin/sealfeed",
    ]
    assert archive.layers[0].entries[0].name == "/nix"
    from sealfeed.image import diff_archives

    assert diff_archives(archive, read_archive(b)).identical
    c = tmp_path / "c.tar"
    c.write_bytes(nix_layered_image(store, mtime=2))
    report = diff_archives(archive, read_archive(c))
    layer_fields = {(d.layer, d.field) for d in report.differences if d.scope == "layer"}
    assert layer_fields == {(0, "mtime"), (1, "mtime")}
    assert any(d.scope == "archive-tar" and d.field == "mtime" for d in report.differences)
