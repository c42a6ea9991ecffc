"""`sealfeed image measure|diff` through the real CLI dispatcher: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealfeed.cli import main
from tests.image.builders import Spec, replace_entry


def test_measure_json_and_write(
    image_file, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = image_file(Spec(gzip_layers=True, outer_gzip=True), "oci")
    out = tmp_path / "attest" / "measurements" / "0.1.0.json"
    assert main(["image", "measure", str(img), "--write", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "oci-layout"
    assert json.loads(out.read_text()) == doc
    assert out.read_text().endswith("\n")
    # measuring again rewrites the same bytes
    first = out.read_bytes()
    assert main(["image", "measure", str(img), "--write", str(out)]) == 0
    assert out.read_bytes() == first
    human = capsys.readouterr().out
    assert doc["archive_sha256"] in human and "written to" in human


def test_diff_exit_codes(image_file, capsys: pytest.CaptureFixture[str]) -> None:
    a, a2 = image_file(Spec()), image_file(Spec())
    spec = Spec()
    replace_entry(spec.layers, 0, "etc/passwd", mtime=7)
    b = image_file(spec)
    assert main(["image", "diff", str(a), str(a2)]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["image", "diff", str(a), str(b), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["identical"] is False
    assert {
        "scope": "layer",
        "field": "mtime",
        "a": 1,
        "b": 7,
        "layer": 0,
        "path": "etc/passwd",
    } in doc["differences"]
    assert main(["image", "diff", str(a), str(b)]) == 1
    assert "layer 0 etc/passwd: mtime: 1 != 7" in capsys.readouterr().out


def test_malformed_input_exit_2(
    tmp_path: Path, image_file, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar archive at all" * 40)
    assert main(["image", "measure", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sealfeed: {bad}") and "Traceback" not in err
    assert main(["image", "diff", str(image_file(Spec())), str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["error"]["exit_code"] == 2
    assert main(["image", "measure", str(tmp_path / "missing.tar")]) == 2
    assert main(["image", "diff", str(bad), str(bad), "--limit", "0"]) == 2
