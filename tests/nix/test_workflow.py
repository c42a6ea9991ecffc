"""The image workflow (.github/workflows/image.yml): pinned actions and Nix, two independent
builds compared by a third job, `nix build --check` of our derivations, no measurement from
a tree with placeholders. Its tree check runs here for real; the attributes it builds are
evaluated in the flake (tests/nix/conftest.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.nix.conftest import ROOT, Flake

WORKFLOW = ROOT / ".github" / "workflows" / "image.yml"
SAMPLE_HASH = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return doc


def _steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return steps


def _step(workflow: dict[str, Any], job: str, pattern: str) -> dict[str, Any]:
    found = [s for s in _steps(workflow, job) if re.search(pattern, s.get("name", ""))]
    assert len(found) == 1, (job, pattern, [s.get("name") for s in _steps(workflow, job)])
    return found[0]


def _uses(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (job, step["uses"])
        for job, spec in workflow["jobs"].items()
        for step in spec.get("steps", [])
        if "uses" in step
    ]


def test_every_action_is_pinned_by_commit_sha(workflow: dict[str, Any]) -> None:
    uses = _uses(workflow)
    assert uses
    for job, ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), (job, ref)
    # and the version each SHA stands for is written beside it
    for line in WORKFLOW.read_text().splitlines():
        if re.search(r"uses: \S+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d+\.\d+\.\d+$", line), line


def test_the_nix_version_is_pinned(workflow: dict[str, Any]) -> None:
    url = workflow["env"]["NIX_INSTALL_URL"]
    assert re.fullmatch(r"https://releases\.nixos\.org/nix/nix-\d+\.\d+\.\d+/install", url)
    installs = [
        step
        for spec in workflow["jobs"].values()
        for step in spec.get("steps", [])
        if step.get("uses", "").startswith("cachix/install-nix-action@")
    ]
    assert len(installs) == 3  # lock, build (both matrix legs), flake-check
    for step in installs:
        assert step["with"]["install_url"] == "${{ env.NIX_INSTALL_URL }}"
    uv = [s for _, s in _uses(workflow) if s.startswith("astral-sh/setup-uv@")]
    assert uv
    for spec in workflow["jobs"].values():
        for step in spec.get("steps", []):
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                assert re.fullmatch(r"\d+\.\d+\.\d+", step["with"]["version"])


def test_two_independent_builds_compared_by_a_third_job(workflow: dict[str, Any]) -> None:
    build = workflow["jobs"]["build"]
    builders = build["strategy"]["matrix"]["builder"]
    assert len(builders) == 2 and len(set(builders)) == 2
    assert build["runs-on"] == "${{ matrix.builder }}"
    # no shared cache for our derivations: no cache action, no extra substituter
    for _, ref in _uses(workflow):
        assert not re.match(r"(actions/cache|cachix/cachix-action|DeterminateSystems/)", ref), ref
    config = workflow["env"]["NIX_CONFIG_COMMON"]
    assert "substituters" not in config and "trusted-public-keys" not in config
    assert "sandbox = true" in config
    script = _step(workflow, "build", r"^Build the image$")["run"]
    assert "nix build .#image" in script and "sha256sum" in script
    measure = _step(workflow, "build", r"^Measure$")["run"]
    assert "image measure image.tar.gz --json > measurement.json" in measure

    compare = workflow["jobs"]["compare"]
    assert compare["needs"] == "build"  # both matrix legs
    download = [s for s in compare["steps"] if s.get("uses", "").startswith("actions/download")]
    assert download[0]["with"]["pattern"] == "image-*"
    run = _step(workflow, "compare", r"Compare")["run"]
    assert 'cmp -s "$a/image.sha256" "$b/image.sha256"' in run
    assert 'cmp -s "$a/measurement.json" "$b/measurement.json"' in run
    assert "sealfeed image diff" in run
    assert run.rstrip().endswith("exit 1")  # a difference fails with the diff's report
    assert {f"builds/image-{b}" for b in builders} <= set(re.findall(r"builds/image-[\w.-]+", run))


def test_check_rebuilds_each_derivation_of_ours(workflow: dict[str, Any], flake: Flake) -> None:
    run = _step(workflow, "build", r"nix build --check")["run"]
    targets = re.findall(r"\.#([\w.-]+)", run)
    assert set(targets) == {
        "sealfeed.package",
        "sealfeed.venv",
        "sealfeed",
        "image.init",
        "image.rootfs",
        "chainlink",
    }
    assert "nix build --check" in run
    # and the lock job's fixed-output attributes
    fod = re.findall(r"(\w+):\w+Hash", _step(workflow, "lock", r"fixed-output")["run"])
    assert fod == ["src", "operatorUi", "goModules"]
    attrs = [*targets, *(f"chainlink.{a}" for a in fod)]
    # every installable resolves in the flake (packages.<system>.<attr>) to a derivation
    expr = (
        f"let p = (builtins.getFlake {json.dumps(flake.ref)}).packages.x86_64-linux; in "
        "map (a: (builtins.foldl' (v: n: v.${n}) p (builtins.filter builtins.isString "
        f'(builtins.split "[.]" a))).drvPath) {json.dumps(attrs).replace(",", " ")}'
    )
    drvs = json.loads(flake.run("eval", "--impure", "--json", "--expr", expr).stdout)
    assert len(drvs) == len(attrs)
    for attr, drv in zip(attrs, drvs, strict=True):
        assert drv.endswith(".drv"), (attr, drv)


def test_measurement_only_from_a_complete_tree(workflow: dict[str, Any]) -> None:
    publish = workflow["jobs"]["publish"]
    assert "needs.lock.outputs.complete == 'true'" in publish["if"]
    assert set(publish["needs"]) == {"lock", "build", "compare"}
    names = [s.get("name", s.get("uses", "")) for s in publish["steps"]]
    strict = names.index("Refuse a tree with placeholders")
    golden = names.index("Golden measurement for this commit")
    assert strict < golden
    assert "--strict" in publish["steps"][strict]["run"]
    # the same check as the lock job's (a YAML anchor: one definition)
    assert _step(workflow, "publish", "^Check the tree") == _step(
        workflow, "lock", "^Check the tree"
    )
    tag = _step(workflow, "publish", "release's committed measurement")
    assert "startsWith(github.ref, 'refs/tags/v')" in tag["if"]
    assert 'matches }}" != true' in tag["run"] and "exit 1" in tag["run"]
    verdict = workflow["jobs"]["verdict"]["steps"][0]["run"]
    assert '[ "$COMPLETE" != true ]' in verdict


def test_lock_completion_never_moves_a_pin(workflow: dict[str, Any]) -> None:
    run = _step(workflow, "lock", r"Complete flake.lock")["run"]
    assert "nix flake update" not in run
    assert 'assert got["rev"] == locked["rev"]' in run
    assert '"prefetch", "--json"' in run
    assert "diff -u" in run  # Nix relocking the completed lock changes nothing
    pr = _step(workflow, "lock", r"pull request")
    assert "github.ref == 'refs/heads/main'" in pr["if"]
    assert "github.event_name != 'pull_request'" in pr["if"]
    paste = _step(workflow, "lock", r"Publish the completed values")
    assert "::error" in paste["run"] and "GITHUB_STEP_SUMMARY" in paste["run"]


# --- the tree check, run for real ------------------------------------------------------------


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy2(ROOT / "flake.lock", tree / "flake.lock")
    shutil.copy2(ROOT / "flake.nix", tree / "flake.nix")
    shutil.copytree(ROOT / "pkgs", tree / "pkgs")
    shutil.copytree(ROOT / "modules", tree / "modules")
    return tree


def _complete(tree: Path) -> None:
    """What the lock job's completion does, with sample values."""
    lock = json.loads((tree / "flake.lock").read_text())
    for name, node in lock["nodes"].items():
        if name != lock["root"]:
            node["locked"].setdefault("narHash", SAMPLE_HASH)
            node["locked"].setdefault("lastModified", 1780000000)
    (tree / "flake.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    chainlink = tree / "pkgs/chainlink/default.nix"
    chainlink.write_text(
        re.sub(
            r"^(  \w+Hash = )lib\.fakeHash;",
            rf'\1"{SAMPLE_HASH}";',
            chainlink.read_text(),
            flags=re.M,
        )
    )


def _run_tree_check(workflow: dict[str, Any], tree: Path, *, strict: bool) -> tuple[int, str, str]:
    script = _step(workflow, "lock", "^Check the tree")["run"]
    temp = tree.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    output = temp / "github-output"
    output.write_text("")
    env = {**os.environ, "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(output)}
    if strict:
        script += '\npython3 "$RUNNER_TEMP/tree-check.py" --strict\n'
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, output.read_text()


def test_tree_check_passes_a_completed_tree(workflow: dict[str, Any], tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _complete(tree)
    code, out, github_output = _run_tree_check(workflow, tree, strict=True)
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "tree complete"
    assert github_output.splitlines()[0] == "complete=true"


def test_tree_check_names_every_missing_value(workflow: dict[str, Any], tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _complete(tree)
    lock = json.loads((tree / "flake.lock").read_text())
    del lock["nodes"]["nixpkgs"]["locked"]["narHash"]
    del lock["nodes"]["uv2nix"]["locked"]["lastModified"]
    (tree / "flake.lock").write_text(json.dumps(lock, indent=2) + "\n")
    image = tree / "pkgs/image.nix"
    image.write_text(image.read_text() + "# lib.fakeHash in a comment is not a placeholder\n")
    chainlink = tree / "pkgs/chainlink/default.nix"
    text = chainlink.read_text()
    chainlink.write_text(
        text.replace(f'vendorHash = "{SAMPLE_HASH}";', "vendorHash = lib.fakeHash;")
    )
    line = chainlink.read_text().splitlines().index("  vendorHash = lib.fakeHash;") + 1

    code, out, github_output = _run_tree_check(workflow, tree, strict=False)
    assert code == 0  # reports, the job decides
    assert out.splitlines() == [
        "flake.lock: nodes.nixpkgs.locked.narHash is missing",
        "flake.lock: nodes.uv2nix.locked.lastModified is missing",
        f"pkgs/chainlink/default.nix:{line}: placeholder hash: vendorHash = lib.fakeHash;",
        "3 unpinned value(s)",
    ]
    assert github_output.splitlines()[0] == "complete=false"
    code, _, _ = _run_tree_check(workflow, tree, strict=True)
    assert code == 1


def test_tree_check_tells_the_truth_about_this_tree(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    """Whatever this commit's state, the check reports exactly its gaps."""
    lock = json.loads((ROOT / "flake.lock").read_text())
    expected = [
        f"flake.lock: nodes.{name}.locked.{key} is missing"
        for name, node in sorted(lock["nodes"].items())
        if name != lock["root"]
        for key in ("rev", "narHash", "lastModified")
        if key not in node["locked"]
    ]
    chainlink = (ROOT / "pkgs/chainlink/default.nix").read_text().splitlines()
    expected += [
        f"pkgs/chainlink/default.nix:{n}: placeholder hash: {line.strip()}"
        for n, line in enumerate(chainlink, 1)
        if re.fullmatch(r"  \w+Hash = lib\.fakeHash;", line)
    ]
    code, out, github_output = _run_tree_check(workflow, _tree(tmp_path), strict=False)
    assert code == 0
    assert out.splitlines()[:-1] == expected
    assert github_output.startswith("complete=" + ("false" if expected else "true"))
