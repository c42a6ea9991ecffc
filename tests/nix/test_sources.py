"""The image is built from filtered sources (ADR 0105): a change under docs/, tests/,
.github/ or attest/measurements/ leaves every source input of the image identical, so a
committed golden measurement matches its own commit; a change to what ships does not.

"Source inputs" are evaluated, not read from the Nix files: every store path with string
context and every path value reachable from the image's derivation (summary.nix
`sourcesOf`). With the stand-in package set a drvPath says nothing about sources, so the
proof is on the source paths themselves: builtins.path names its result by the NAR hash of
the selected files, so equal paths mean equal bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.nix.conftest import Flake, tracked_files

SHIPPED = ["pyproject.toml", "src/sealfeed"]


def _by_name(sources: list[str]) -> dict[str, str]:
    """store name (without the hash) -> store path, for the repository's own sources."""
    out: dict[str, str] = {}
    for path in sources:
        if path.startswith("/nix/store/"):
            out[path.split("-", 1)[1]] = path
    return out


def _store_files(flake: Flake, store_path: str) -> dict[str, bytes]:
    physical = Path(f"{flake.store_root}{store_path}")
    return {
        str(p.relative_to(physical)): p.read_bytes()
        for p in sorted(physical.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def test_sealfeed_is_built_from_exactly_the_shipped_files(
    flake: Flake, summary: dict[str, Any]
) -> None:
    assert summary["sourceIncludes"]["sealfeed"] == SHIPPED
    src = summary["sealfeedSrc"]
    assert src.endswith("-sealfeed-source")
    assert src in summary["imageSources"]
    files = _store_files(flake, src)
    expected = [
        rel
        for rel in tracked_files(flake.path)
        if rel == "pyproject.toml" or rel.startswith("src/sealfeed/")
    ]
    assert sorted(files) == sorted(expected)
    for rel in expected:
        assert files[rel] == (flake.path / rel).read_bytes(), rel


def test_no_image_input_is_the_whole_checkout(flake: Flake, summary: dict[str, Any]) -> None:
    root = summary["flakeSource"]
    sources = [flake.logical(s.removeprefix("path:")) for s in summary["imageSources"]]
    assert root not in sources
    assert not [s for s in sources if s.startswith(root + "/")], sources
    # the repository's own sources: the filtered package source and pkgs/init
    assert {"sealfeed-source", "init"} <= set(_by_name(summary["imageSources"]))


def test_changes_outside_the_shipped_files_leave_the_image_sources_identical(
    flake_clone: Callable[[], Flake],
) -> None:
    clone = flake_clone()
    before = clone.summary("imageSources")
    root_before = clone.summary("flakeSource")

    # everything a release touches that does not ship
    (clone.path / "docs/reproducibility.md").write_text("rewritten\n")
    (clone.path / "docs/adr/0999-unrelated.md").write_text("# 0999 - unrelated\n")
    (clone.path / "tests/README.md").write_text("tests changed\n")
    (clone.path / "tests/nix/new_test_file.py").write_text("X = 1\n")
    (clone.path / "attest/measurements/0.1.0.json").write_text('{"archive_sha256": "x"}\n')
    (clone.path / ".github/workflows/image.yml").write_text("name: changed\n")
    (clone.path / "src/README.md").write_text("not packaged\n")
    clone.commit("docs, tests, workflow, golden measurement")

    assert clone.summary("flakeSource") != root_before  # Nix saw the change...
    assert clone.summary("imageSources") == before  # ...and the image did not

    # a shipped file changes the package source, and only it
    init_py = clone.path / "src/sealfeed/__init__.py"
    init_py.write_text(init_py.read_text() + "\n# changed\n")
    clone.commit("src change")
    after_src = _by_name(clone.summary("imageSources"))
    assert after_src["sealfeed-source"] != _by_name(before)["sealfeed-source"]
    assert {k: v for k, v in after_src.items() if k != "sealfeed-source"} == {
        k: v for k, v in _by_name(before).items() if k != "sealfeed-source"
    }

    # README.md is not package metadata (pyproject has no `readme`): editing it moves nothing
    readme = clone.path / "README.md"
    readme.write_text(readme.read_text() + "\nchanged\n")
    clone.commit("README change")
    after_readme = _by_name(clone.summary("imageSources"))
    assert after_readme == after_src

    # /init's scripts are their own source
    init_sh = clone.path / "pkgs/init/init.sh"
    init_sh.write_text(init_sh.read_text() + "\n# changed\n")
    clone.commit("init change")
    after_init = _by_name(clone.summary("imageSources"))
    assert after_init["init"] != after_readme["init"]
    assert after_init["sealfeed-source"] == after_readme["sealfeed-source"]


def test_the_source_check_has_teeth(flake_clone: Callable[[], Flake]) -> None:
    """Without the per-package filter (uv2nix's default src = the workspace root) the same
    check sees the whole checkout and a docs change: the tests above would fail."""
    clone = flake_clone()
    nix = clone.path / "pkgs/sealfeed.nix"
    text = nix.read_text()
    assert "          sourceOverlay\n" in text
    nix.write_text(text.replace("          sourceOverlay\n", ""))
    clone.commit("unfiltered")
    before = clone.summary("imageSources")
    root = clone.summary("flakeSource")
    assert f"path:{root}" in [clone.logical(s) for s in before]

    (clone.path / "docs/reproducibility.md").write_text("rewritten\n")
    clone.commit("docs")
    assert clone.summary("imageSources") != before
