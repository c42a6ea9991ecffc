"""`image diff`: each deliberate single difference is reported precisely, and nothing else."""

from __future__ import annotations

import dataclasses
import tarfile

import pytest

from sealfeed.image import diff_archives, read_archive
from sealfeed.image.diff import Difference, json_diff
from tests.image.builders import Entry, Spec, replace_entry


def _diff(image_file, a: Spec, b: Spec, layout: str = "docker"):
    return diff_archives(read_archive(image_file(a, layout)), read_archive(image_file(b, layout)))


def _scope(report, *scopes: str) -> list[Difference]:
    return [d for d in report.differences if d.scope in scopes]


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_identical_builds(image_file, layout: str) -> None:
    report = _diff(image_file, Spec(), Spec(), layout)
    assert report.identical
    assert report.differences == ()
    assert report.human().startswith("identical: sha256:")


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_one_mtime(image_file, layout: str) -> None:
    b = Spec()
    replace_entry(b.layers, 1, "app/config.json", mtime=1700000000)
    report = _diff(image_file, Spec(), b, layout)
    assert not report.identical
    assert _scope(report, "layer", "layer-gzip") == [
        Difference("layer", "mtime", 1, 1700000000, layer=1, path="app/config.json")
    ]
    # the consequences are named too: layer 1's diff_id in the config, nothing in layer 0
    assert [d.field for d in _scope(report, "config")] == ["digest", "rootfs.diff_ids[1]"]


def test_one_file_order(image_file) -> None:
    b = Spec()
    b.layers[1][1], b.layers[1][2] = b.layers[1][2], b.layers[1][1]
    report = _diff(image_file, Spec(), b)
    layer = _scope(report, "layer")
    assert {(d.path, d.field, d.a, d.b) for d in layer} == {
        ("app/run.sh", "order", 1, 2),
        ("app/config.json", "order", 2, 1),
    }
    assert all(d.layer == 1 for d in layer)


def test_outer_gzip_header_os_byte(image_file) -> None:
    report = _diff(
        image_file,
        Spec(outer_gzip=True),
        Spec(outer_gzip=True, outer_gzip_os=11),
    )
    assert report.differences == (Difference("archive-gzip", "os", 3, 11, detail="Unix vs NTFS"),)


def test_outer_gzip_header_mtime(image_file) -> None:
    report = _diff(image_file, Spec(outer_gzip=True), Spec(outer_gzip=True, outer_gzip_mtime=9))
    assert [(d.scope, d.field, d.a, d.b) for d in report.differences] == [
        ("archive-gzip", "mtime", 0, 9),
    ]


def test_layer_gzip_header_byte(image_file) -> None:
    a = Spec(gzip_layers=True)
    b = Spec(gzip_layers=True, layer_gzip_os=255)
    report = _diff(image_file, a, b, "oci")
    gz = _scope(report, "layer-gzip")
    assert [(d.layer, d.field, d.a, d.b) for d in gz] == [(0, "os", 3, 255), (1, "os", 3, 255)]
    assert _scope(report, "layer", "config") == []  # same diff_ids: same config


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_env_order(image_file, layout: str) -> None:
    b = Spec()
    b.env = [b.env[1], b.env[0], b.env[2]]
    report = _diff(image_file, Spec(), b, layout)
    config = _scope(report, "config")
    assert [(d.field, d.detail) for d in config] == [
        ("digest", ""),
        ("config.Env", "order: same entries, different order"),
    ]
    assert _scope(report, "layer", "layer-gzip") == []


def test_created_and_history(image_file) -> None:
    b = Spec(created="2024-05-01T12:00:00Z")
    report = _diff(image_file, Spec(), b)
    fields = [d.field for d in _scope(report, "config")]
    assert fields == ["digest", "created", "history[0].created", "history[1].created"]


def test_config_serialization_only(image_file) -> None:
    report = _diff(image_file, Spec(), Spec(config_indent=2))
    config = _scope(report, "config")
    assert [d.field for d in config] == ["digest", "serialization"]


@pytest.mark.parametrize(
    ("layer", "path", "change", "field", "a", "b"),
    [
        (0, "sp/secrets", {"mode": 0o755}, "mode", "0700", "0755"),
        (0, "sp/secrets", {"uid": 0}, "uid", 70, 0),
        (0, "sp/secrets", {"gid": 1}, "gid", 70, 1),
        (
            0,
            "bin/sh",
            {"linkname": "/nix/store/zzz-busybox/bin/sh"},
            "link target",
            "/nix/store/abc-busybox/bin/sh",
            "/nix/store/zzz-busybox/bin/sh",
        ),
        (1, "app/run.sh", {"uname": "sealfeed"}, "uname", "", "sealfeed"),
    ],
)
def test_single_metadata_change(image_file, layer, path, change, field, a, b) -> None:
    spec = Spec()
    replace_entry(spec.layers, layer, path, **change)
    report = _diff(image_file, Spec(), spec)
    found = _scope(report, "layer")
    assert len(found) == 1
    d = found[0]
    assert (d.layer, d.path, d.field, d.a, d.b) == (layer, path, field, a, b)


def test_content_change(image_file) -> None:
    spec = Spec()
    replace_entry(spec.layers, 1, "app/config.json", data=b'{"nodes": 6}\n')
    found = _scope(_diff(image_file, Spec(), spec), "layer")
    assert [(d.path, d.field) for d in found] == [("app/config.json", "content")]


def test_added_file_and_extra_layer(image_file) -> None:
    spec = Spec()
    spec.layers[1].append(Entry("app/extra", b"x"))
    spec.layers.append([Entry("more", b"y")])
    report = _diff(image_file, Spec(), spec)
    layer = _scope(report, "layer")
    assert ("app/extra", "presence", "absent", "present") in [
        (d.path, d.field, d.a, d.b) for d in layer
    ]
    assert (2, "presence", "absent", "present") in [(d.layer, d.field, d.a, d.b) for d in layer]
    assert any(d.field == "layer_count" for d in report.differences)


def test_tar_encoding_only(image_file) -> None:
    report = _diff(image_file, Spec(), Spec(tar_format=tarfile.GNU_FORMAT))
    layer = _scope(report, "layer")
    assert {d.field for d in layer} == {"tar-encoding"}
    assert {d.layer for d in layer} == {0, 1}


def test_outer_member_mtime(image_file) -> None:
    report = _diff(image_file, Spec(), Spec(member_mtime=5))
    tar = _scope(report, "archive-tar")
    assert {d.field for d in tar} == {"mtime"}
    assert {d.path for d in tar} == {"manifest.json", "<config>", "<layer 0>", "<layer 1>"}
    assert _scope(report, "layer", "config", "manifest") == []


def test_limit_counts_omitted(image_file) -> None:
    spec = Spec()
    spec.layers[1] = [dataclasses.replace(e, mtime=99) for e in spec.layers[1]]
    a, b = read_archive(image_file(Spec())), read_archive(image_file(spec))
    full = diff_archives(a, b)
    short = diff_archives(a, b, limit=2)
    assert len(_scope(full, "layer")) == 5
    assert len(_scope(short, "layer")) == 2
    assert short.omitted >= 3
    assert "more differences not listed" in short.human()


def test_json_diff_key_order_and_length() -> None:
    got = list(json_diff({"a": 1, "b": [1, 2]}, {"b": [1, 2, 3], "a": 1}, ""))
    assert ("b", "length", 2, 3, "different number of entries") in got
    same = list(json_diff({"a": 1, "b": 2}, {"b": 2, "a": 1}, ""))
    assert same == [
        ("", "key-order", ["a", "b"], ["b", "a"], "same keys, different serialization order")
    ]


def test_same_image_docker_vs_oci(image_file) -> None:
    """Two packagings of one image: same config and diff_ids, different wrapper and blobs."""
    a = read_archive(image_file(Spec(), "docker"))
    b = read_archive(image_file(Spec(gzip_layers=True), "oci"))
    report = diff_archives(a, b)
    assert not report.identical
    assert Difference("archive", "format", "docker-archive", "oci-layout") in report.differences
    assert _scope(report, "config") == []  # the image ID is the same
    compression = [d for d in _scope(report, "layer") if d.field == "compression"]
    assert [(d.layer, d.a, d.b) for d in compression] == [(0, "none", "gzip"), (1, "none", "gzip")]


def test_undecodable_file_names_are_reported_printably(image_file, capsys) -> None:
    from sealfeed.cli import main

    a, b = Spec(), Spec()
    b.layers[1].append(Entry("app/caf\udce9", b"x"))  # b"caf\xe9": latin-1 bytes in the tar
    pa, pb = image_file(a), image_file(b)
    assert main(["image", "diff", str(pa), str(pb)]) == 1
    out = capsys.readouterr().out
    assert "layer 1 app/caf\\udce9: presence" in out
    assert main(["image", "diff", str(pa), str(pb), "--json"]) == 1
    assert '"app/caf\\udce9"' in capsys.readouterr().out
