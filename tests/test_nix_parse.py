"""Every git-tracked .nix file parses with `nix-instantiate --parse` (Debian nix-bin 2.8), and
modules/ + pkgs/image.nix evaluate with the real nixpkgs `lib`.

The lib comes from $SEALFEED_NIXPKGS_LIB (the flake's `checks.pytest` sets it to nixpkgs' own),
else from ../shared/nix-eval/stub-nixpkgs/lib (the real nixpkgs lib, see its README), so
nothing here skips in the project CI. The whole flake is evaluated in tests/nix/; a build
needs nixpkgs and runs in .github/workflows/image.yml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
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

# A private state and store location: parsing and --readonly-mode evaluation never need the
# real store, and inside the Nix build sandbox (flake `checks.pytest`) /nix/store is read-only.
_NIX_TMP = Path(tempfile.gettempdir()) / "sealfeed-nix-test"
NIX_ENV = {
    **os.environ,
    "NIX_REMOTE": "",
    "NIX_STATE_DIR": str(_NIX_TMP / "state"),
    "NIX_STORE_DIR": str(_NIX_TMP / "store"),
    "NIX_CONF_DIR": str(_NIX_TMP / "conf"),
}

needs_nix = pytest.mark.skipif(
    NIX_INSTANTIATE is None,
    reason="SKIPPED LOUDLY: nix-instantiate not found (apt-get install nix-bin); "
    "the .nix files were NOT parse-checked",
)


def _parse(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NIX_INSTANTIATE or "nix-instantiate", "--readonly-mode", "--parse", str(path)],
        capture_output=True,
        text=True,
        env=NIX_ENV,
        timeout=60,
    )


def test_the_flake_and_its_parts_are_tracked() -> None:
    for required in (
        "flake.nix",
        "pkgs/sealfeed.nix",
        "pkgs/sources.nix",
        "pkgs/image.nix",
        "pkgs/chainlink/default.nix",
        "pkgs/init/default.nix",
        "modules/default.nix",
        "modules/postgres.nix",
        "modules/chainlink-nodes.nix",
        "modules/aggregator.nix",
        "modules/exporter.nix",
        "modules/monitoring.nix",
        "tests/nix/summary.nix",
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


# --- evaluation with a real nixpkgs lib (no package set needed) -----------------------------

EVAL_HARNESS = ROOT / "tests" / "image" / "nix" / "eval-appliance.nix"


def _shared_lib() -> Path | None:
    """The real nixpkgs lib shipped beside the checkout (../shared/nix-eval/stub-nixpkgs/lib)."""
    for shared in (ROOT.parent / "shared", ROOT / "shared"):
        lib = shared / "nix-eval" / "stub-nixpkgs" / "lib"
        if (lib / "default.nix").is_file():
            return lib
    return None


def _nixpkgs_lib() -> str | None:
    """A nixpkgs `lib` tree: $SEALFEED_NIXPKGS_LIB, ../shared/nix-eval's, or <nixpkgs/lib>."""
    env = os.environ.get("SEALFEED_NIXPKGS_LIB")
    if env and (Path(env) / "default.nix").is_file():
        return env
    shared = _shared_lib()
    if shared is not None:
        return str(shared)
    if NIX_INSTANTIATE is None:
        return None
    proc = subprocess.run(
        [NIX_INSTANTIATE, "--find-file", "nixpkgs/lib"], capture_output=True, text=True, env=NIX_ENV
    )
    path = proc.stdout.strip()
    return path if proc.returncode == 0 and (Path(path) / "default.nix").is_file() else None


NIXPKGS_LIB = _nixpkgs_lib()

needs_lib = pytest.mark.skipif(
    NIX_INSTANTIATE is None or NIXPKGS_LIB is None,
    reason="SKIPPED LOUDLY: no nixpkgs lib (neither SEALFEED_NIXPKGS_LIB nor "
    "../shared/nix-eval/stub-nixpkgs/lib); modules/ and pkgs/image.nix were NOT evaluated here",
)


def test_the_nixpkgs_lib_is_found_outside_the_nix_sandbox() -> None:
    """The evaluation tests below must not skip in the project CI: the lib is found by default.

    Only inside a Nix build (the flake's checks.pytest, which sets SEALFEED_NIXPKGS_LIB
    itself) is ../shared absent."""
    if os.environ.get("NIX_BUILD_TOP") is None:
        assert NIX_INSTANTIATE is not None, "nix-instantiate missing: apt-get install nix-bin"
        assert NIXPKGS_LIB is not None, "no nixpkgs lib: ../shared/nix-eval is missing"


def _eval(modules: list[object]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            NIX_INSTANTIATE or "nix-instantiate",
            "--readonly-mode",  # compute store paths, never write the store (Nix sandbox)
            "--eval",
            "--strict",
            "--json",
            str(EVAL_HARNESS),
            "--arg",
            "lib",
            f"import {NIXPKGS_LIB}",
            "--argstr",
            "modulesJSON",
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        env=NIX_ENV,
        timeout=120,
    )


@needs_lib
def test_appliance_evaluates_with_defaults() -> None:
    proc = _eval([])
    assert proc.returncode == 0, proc.stderr
    image = json.loads(proc.stdout)
    assert image["tag"] == "0.1.0" and image["created"] == "1970-01-01T00:00:01Z"
    env = image["config"]["Env"]
    assert env == sorted(env)  # Env order is stable
    assert any(e.startswith("CONFIGURATION_PUBLIC_KEY=") for e in env)
    assert image["config"]["Entrypoint"] == ["/init"]
    assert "ExposedPorts" not in image["config"]
    passwd = image["nss"]["extraPasswdLines"]
    names = [line.split(":")[0] for line in passwd]
    assert {
        "postgres",
        "sealfeed",
        "sealfeed-log",
        "chainlink",
        "chainlink-1",
        "chainlink-16",
    } <= set(names)
    assert "chainlink-17" not in names
    # no fakechroot: paths are relative to the customisation layer (ADR 0107)
    assert image["enableFakechroot"] is False
    assert image["maxLayers"] == 100
    cmds = image["fakeRootCommands"]
    assert "chown 70:70 ./sp/postgresql/data\nchmod 0700 ./sp/postgresql/data" in cmds
    assert "chown 1003:1000 ./chainlink/node-3" in cmds
    assert cmds.index("mkdir -p ./sp\n") < cmds.index("mkdir -p ./sp/postgresql\n")
    assert "chmod 1777 ./tmp" in cmds
    for line in cmds.splitlines():
        assert line.split()[-1].startswith("./"), line  # never an absolute (host) path
    nodes = image["layout"]["nodes"]["specs"]
    assert [(n["api_port"], n["p2p_port"], n["role"]) for n in nodes[:2]] == [
        (6601, 9901, "bootstrap"),
        (6602, 9902, "oracle"),
    ]
    layout = image["layout"]
    assert layout["schema"] == "sealfeed.image.layout/v1"
    assert layout["nodes"]["total"] == 16
    assert (layout["nodes"]["api_base_port"], layout["nodes"]["p2p_base_port"]) == (6600, 9900)
    assert layout["postgres"]["port"] == 5432
    assert (layout["aggregator"]["port"], layout["exporter"]["port"]) == (3000, 3003)
    assert layout["users"]["chainlink-16"] == {"uid": 1016, "group": "chainlink"}
    assert layout["users"]["postgres"] == {"uid": 70, "group": "postgres"}
    assert image["s6Render"] is None  # rendered at boot from the verified config (ADR 0085)
    assert (
        image["keyFile"].strip()
        == (ROOT / "modules/keys/configuration-public-key.b64").read_text().strip()
    )


@needs_lib
def test_appliance_options_flow_into_the_image() -> None:
    proc = _eval(
        [
            {
                "sealfeed": {
                    "nodes": {"count": 7, "bootstrap": [1, 2]},
                    "image": {"exposedPorts": [9901]},
                    "postgres": {"port": 5433},
                }
            }
        ]
    )
    assert proc.returncode == 0, proc.stderr
    image = json.loads(proc.stdout)
    layout = image["layout"]
    assert layout["nodes"]["total"] == 7
    assert [n["role"] for n in layout["nodes"]["specs"]][:3] == ["bootstrap", "bootstrap", "oracle"]
    assert layout["postgres"]["port"] == 5433
    assert image["config"]["ExposedPorts"] == {"9901/tcp": {}}


@needs_lib
def test_build_time_tree_is_rendered_from_the_given_config() -> None:
    proc = _eval([{"sealfeed": {"image": {"s6BuildConfig": "/srv/signed/configuration.json"}}}])
    assert proc.returncode == 0, proc.stderr
    script = json.loads(proc.stdout)["s6Render"]
    assert "sealfeed s6 render" in script and "--config /srv/signed/configuration.json" in script
    assert "--out $out/etc/s6-overlay --tree-root /etc/s6-overlay" in script
    assert "sealfeed s6 check $out/etc/s6-overlay" in script


@needs_lib
@pytest.mark.parametrize(
    ("module", "message"),
    [
        ({"sealfeed": {"nodes": {"bootstrap": [17]}}}, "bootstrap must name existing nodes"),
        ({"sealfeed": {"nodes": {"p2pBasePort": 6602}}}, "port ranges overlap"),
        ({"sealfeed": {"aggregator": {"port": 3003}}}, "aggregator and exporter ports collide"),
        ({"sealfeed": {"postgres": {"uid": 900}}}, "share a uid"),
        (
            {"sealfeed": {"image": {"directories": [{"path": "/sp/../etc"}]}}},
            "sealfeed.image.directories",
        ),
        ({"sealfeed": {"image": {"maxLayers": 1}}}, "sealfeed.image.maxLayers"),
        ({"sealfeed": {"nodes": {"count": 0}}}, "sealfeed.nodes.count"),
        (
            {"sealfeed": {"configurationPublicKey": "not base64!"}},
            "is not of type `string matching the pattern",
        ),
    ],
)
def test_appliance_rejects_bad_options(module: dict[str, object], message: str) -> None:
    proc = _eval([module])
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
