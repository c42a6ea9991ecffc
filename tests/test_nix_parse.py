"""Every git-tracked .nix file parses with `nix-instantiate --parse` (Debian nix-bin 2.8).

A full `nix flake check` needs nixpkgs, which this CI cannot reach; .github/workflows/image.yml
runs it on a Nix-capable runner. Parsing here catches syntax errors in every expression.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NIX_INSTANTIATE = shutil.which("nix-instantiate")


def _tracked(pattern: str) -> list[str]:
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                pattern,
            ],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. Nix sandbox)
        return sorted(
            str(p.relative_to(ROOT)) for p in ROOT.rglob(pattern) if ".venv" not in p.parts
        )
    return sorted(p for p in out.decode().split("\0") if p)


NIX_FILES = _tracked("*.nix")

needs_nix = pytest.mark.skipif(
    NIX_INSTANTIATE is None,
    reason="SKIPPED LOUDLY: nix-instantiate not found (apt-get install nix-bin); "
    "the .nix files were NOT parse-checked",
)


def _parse(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NIX_REMOTE": "", "NIX_STATE_DIR": "/tmp/sealfeed-nix-parse-state"}
    return subprocess.run(
        [NIX_INSTANTIATE or "nix-instantiate", "--parse", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_flake_and_its_parts_are_tracked() -> None:
    for required in (
        "flake.nix",
        "pkgs/sealfeed.nix",
        "pkgs/image.nix",
        "pkgs/chainlink/default.nix",
        "pkgs/init/default.nix",
        "modules/default.nix",
        "modules/postgres.nix",
        "modules/chainlink-nodes.nix",
        "modules/aggregator.nix",
        "modules/exporter.nix",
        "modules/monitoring.nix",
    ):
        assert required in NIX_FILES, required


@needs_nix
@pytest.mark.parametrize("rel", NIX_FILES)
def test_nix_file_parses(rel: str) -> None:
    proc = _parse(ROOT / rel)
    assert proc.returncode == 0, f"{rel}: {proc.stderr.strip()}"


@needs_nix
def test_parser_rejects_broken_nix(tmp_path: Path) -> None:
    """The check has teeth: a syntax error is reported with file and line."""
    bad = tmp_path / "bad.nix"
    bad.write_text("{ a = 1;\n  b = ; }\n")
    proc = _parse(bad)
    assert proc.returncode != 0
    assert "bad.nix:2" in proc.stderr


def test_flake_lock_shape() -> None:
    """flake.lock pins every input to a revision; follows point at root inputs (ADR 0081)."""
    lock = json.loads((ROOT / "flake.lock").read_text())
    assert lock["version"] == 7
    nodes = lock["nodes"]
    root = nodes[lock["root"]]["inputs"]
    assert set(root) == {"nixpkgs", "pyproject-nix", "uv2nix", "pyproject-build-systems"}
    for name in root.values():
        locked = nodes[name]["locked"]
        assert locked["type"] == "github"
        assert len(locked["rev"]) == 40 and int(locked["rev"], 16) >= 0
    for name in ("pyproject-nix", "uv2nix", "pyproject-build-systems"):
        assert nodes[name]["locked"]["narHash"].startswith("sha256-")
        for follows in nodes[name]["inputs"].values():
            assert isinstance(follows, list) and follows[0] in root
