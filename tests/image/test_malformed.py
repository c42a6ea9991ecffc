"""Malformed archives end in a precise InputError, never a traceback (fuzzed with hypothesis)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealfeed.errors import InputError
from sealfeed.image import read_archive
from sealfeed.image.gzipheader import parse_gzip_header
from tests.image.builders import Spec, docker_archive, gz, oci_layout, sha

BASES = {
    "docker": docker_archive(Spec()),
    "oci-gz": oci_layout(Spec(gzip_layers=True, outer_gzip=True)),
}


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write(tmp_path: Path, data: bytes, name: str = "x.tar") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _members(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            f = tf.extractfile(m)
            if f is not None:
                out[m.name] = f.read()
    return out


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"hello.txt": b"hi"}, "neither a docker-archive"),
        ({"manifest.json": b"{not json"}, "invalid JSON"),
        ({"manifest.json": b"[]"}, "non-empty list"),
        ({"manifest.json": b'[{"Layers": []}]'}, "'Config'"),
        ({"manifest.json": b'[{"Config": "c.json", "Layers": []}]'}, "member not found"),
        (
            {"manifest.json": b'[{"Config": "c.json", "Layers": []}]', "c.json": b"{}"},
            "rootfs.diff_ids",
        ),
        (
            {
                "manifest.json": b'[{"Config": "c.json", "Layers": ["l.tar"]}]',
                "c.json": b'{"rootfs": {"diff_ids": ["sha256:' + b"0" * 64 + b'"]}}',
                "l.tar": b"garbage" * 100,
            },
            "corrupt",
        ),
        (
            {"oci-layout": b'{"imageLayoutVersion": "2.0"}', "index.json": b"{}"},
            "imageLayoutVersion",
        ),
        (
            {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": b'{"manifests": []}'},
            "no manifests",
        ),
        (
            {
                "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
                "index.json": json.dumps({"manifests": [{"digest": "md5:abc"}]}).encode(),
            },
            "digest",
        ),
    ],
)
def test_structural_errors(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, _tar(members)))
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)  # the location names the file


def test_diff_id_mismatch_is_reported(tmp_path: Path) -> None:
    members = _members(BASES["docker"])
    manifest = json.loads(members["manifest.json"])
    layer_name = manifest[0]["Layers"][1]
    members[layer_name] += b"\0" * 512  # still a valid tar, other bytes
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, _tar(members)))
    assert "rootfs.diff_ids[1]" in str(err.value)


def test_oci_blob_digest_mismatch(tmp_path: Path) -> None:
    members = _members(oci_layout(Spec()))
    index = json.loads(members["index.json"])
    mdigest = index["manifests"][0]["digest"].split(":")[1]
    members[f"blobs/sha256/{mdigest}"] += b" "
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, _tar(members)))
    assert "does not match its digest" in str(err.value)
    assert mdigest in str(err.value)


def test_zstd_layer_is_named(tmp_path: Path) -> None:
    members = _members(docker_archive(Spec()))
    manifest = json.loads(members["manifest.json"])
    members[manifest[0]["Layers"][0]] = b"\x28\xb5\x2f\xfd" + b"\0" * 64
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, _tar(members)))
    assert "zstd" in str(err.value)


def test_truncated_gzip_header() -> None:
    with pytest.raises(InputError):
        parse_gzip_header(b"\x1f\x8b\x08")
    with pytest.raises(InputError) as err:
        parse_gzip_header(b"\x1f\x8b\x08\x08" + b"\0" * 6 + b"name-without-nul")
    assert "FNAME" in str(err.value)
    hdr = parse_gzip_header(gz(b"x", mtime=42, os_byte=255))
    assert (hdr.mtime, hdr.os, hdr.flags, hdr.fname) == (42, 255, 0, None)


def test_truncated_outer_gzip(tmp_path: Path) -> None:
    data = BASES["oci-gz"]
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, data[: len(data) // 2], "t.tar.gz"))
    assert "gzip" in str(err.value) or "tar" in str(err.value)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_archive(tmp_path / "nope.tar")
    assert "cannot open" in str(err.value)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(sorted(BASES)),
    cut=st.integers(min_value=0, max_value=1 << 16),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=6),
)
def test_fuzz_malformed_archives(tmp_path: Path, base: str, cut: int, flips) -> None:
    data = bytearray(BASES[base])
    data = data[: max(1, len(data) - cut)] if cut % 3 == 0 else data
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    path = tmp_path / f"fuzz-{sha(bytes(data))[:12]}.tar"
    path.write_bytes(bytes(data))
    try:
        read_archive(path)
    except InputError as err:
        assert err.message and err.location


def _layer_names(members: dict[str, bytes]) -> list[str]:
    return list(json.loads(members["manifest.json"])[0]["Layers"])


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    layer=st.integers(0, 1),
    gzip_layer=st.booleans(),
    cut=st.integers(0, 4096),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=4),
)
def test_fuzz_corrupt_layer_inside_valid_archive(
    tmp_path: Path, layer: int, gzip_layer: bool, cut: int, flips
) -> None:
    """The outer tar is intact; only one layer blob is damaged (gzip or plain)."""
    members = _members(docker_archive(Spec(gzip_layers=gzip_layer)))
    name = _layer_names(members)[layer]
    blob = bytearray(members[name])
    blob = blob[: max(0, len(blob) - cut)]
    for pos, xor in flips:
        if blob:
            blob[pos % len(blob)] ^= xor
    members[name] = bytes(blob)
    path = tmp_path / f"layer-{sha(bytes(blob))[:12]}.tar"
    path.write_bytes(_tar(members))
    try:
        read_archive(path)
    except InputError as err:
        assert err.location and str(tmp_path) in err.location


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Config",
                    "Layers",
                    "RepoTags",
                    "manifests",
                    "digest",
                    "mediaType",
                    "size",
                    "config",
                    "layers",
                    "rootfs",
                    "diff_ids",
                    "imageLayoutVersion",
                    "platform",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(which=st.sampled_from(["manifest.json", "index.json", "oci-layout"]), doc=JSON_VALUES)
def test_fuzz_structured_json_documents(tmp_path: Path, which: str, doc) -> None:
    """Any JSON value in place of manifest.json / index.json / oci-layout: InputError or ok."""
    base = docker_archive(Spec()) if which == "manifest.json" else oci_layout(Spec())
    members = _members(base)
    members[which] = json.dumps(doc).encode()
    path = tmp_path / f"json-{sha(members[which])[:12]}.tar"
    path.write_bytes(_tar(members))
    try:
        read_archive(path)
    except InputError as err:
        assert err.message


def test_symlinked_layer_member_is_followed(tmp_path: Path) -> None:
    """Older `docker save` links a repeated layer to its first copy (`../<id>/layer.tar`)."""
    members = _members(docker_archive(Spec()))
    manifest = json.loads(members["manifest.json"])
    second = manifest[0]["Layers"][1]
    manifest[0]["Layers"][1] = "linked/layer.tar"
    members["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("linked/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../" + second
        tf.addfile(link)
    archive = read_archive(_write(tmp_path, buf.getvalue()))
    assert archive.layers[1].member == "linked/layer.tar"
    assert archive.layers[1].file_count == 5


@pytest.mark.parametrize(
    ("magic", "name"),
    [(b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh91AY", "bzip2")],
)
def test_other_compressors_are_named(tmp_path: Path, magic: bytes, name: str) -> None:
    with pytest.raises(InputError) as err:
        read_archive(_write(tmp_path, magic + b"\0" * 600))
    assert f"{name}-compressed archive" in str(err.value)
