"""Evaluate the real flake with Debian's Nix 2.8 against ../shared/nix-eval.

A session copy of the worktree's tracked files (with their current, possibly uncommitted
content) becomes a fresh git repository, locked with ``nix flake lock --override-input`` to
the pinned pyproject-nix / uv2nix / build-system-pkgs trees and the stand-in nixpkgs (real
``lib``, fake package set). Nix runs with a private store under the session temp dir (no
daemon, no network). Tests that change files clone that copy (``flake_clone``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "tests" / "nix" / "summary.nix"
NIX = shutil.which("nix")
INPUTS = {
    "nixpkgs": "stub-nixpkgs",
    "pyproject-nix": "inputs/pyproject-nix",
    "uv2nix": "inputs/uv2nix",
    "pyproject-build-systems": "inputs/build-system-pkgs",
}
GIT = [
    "git",
    "-c",
    "user.name=sealfeed tests",
    "-c",
    "user.email=tests@sealfeed.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


def find_nix_eval() -> Path | None:
    for shared in (ROOT.parent / "shared", ROOT / "shared"):
        if (shared / "nix-eval" / "stub-nixpkgs" / "flake.nix").is_file():
            return (shared / "nix-eval").resolve()
    return None


def in_nix_build() -> bool:
    """Inside a Nix build (the flake's checks.pytest) ../shared does not exist."""
    return os.environ.get("NIX_BUILD_TOP") is not None


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    return sorted({p for p in out.decode().split("\0") if p and (root / p).exists()})


@dataclass
class Flake:
    """A git checkout of the flake plus the environment that evaluates it."""

    path: Path
    env: dict[str, str]
    store_root: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [NIX or "nix", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"nix {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
        return proc

    def git(self, *args: str) -> str:
        return subprocess.run(
            [*GIT, "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    @property
    def ref(self) -> str:
        return f"git+file://{self.path}"

    def summary(self, attr: str | None = None) -> Any:
        """tests/nix/summary.nix over this checkout (one attribute of it, lazily, if given)."""
        expr = f"import {SUMMARY} {{ flakeRef = {json.dumps(self.ref)}; }}"
        if attr is not None:
            expr = f"({expr}).{attr}"
        return json.loads(self.run("eval", "--impure", "--json", "--expr", expr).stdout)

    def logical(self, path: str) -> str:
        """A store path as Nix names it (path values print with the private store's root)."""
        return path.replace(f"{self.store_root}/nix/store/", "/nix/store/")


@pytest.fixture(scope="session")
def nix_eval_tree() -> Path:
    if NIX is None:
        pytest.skip(
            "SKIPPED LOUDLY: nix not installed (apt-get install nix-bin); flake not evaluated"
        )
    tree = find_nix_eval()
    if tree is None:
        pytest.skip("SKIPPED LOUDLY: ../shared/nix-eval not found; the flake was NOT evaluated")
    return tree


@pytest.fixture(scope="session")
def nix_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    base = tmp_path_factory.mktemp("nix")
    store_root = base / "root"
    home = base / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "NIX_REMOTE": f"local?root={store_root}",
        "NIX_CONFIG": "\n".join(
            [
                "experimental-features = nix-command flakes",
                "sandbox = false",
                "connect-timeout = 1",
                "warn-dirty = false",
                "build-users-group =",
                "substituters =",
            ]
        ),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LANG": "C.UTF-8",
    }
    return env, store_root


def _copy_worktree(dest: Path) -> None:
    dest.mkdir(parents=True)
    for rel in tracked_files(ROOT):
        src, dst = ROOT / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


@pytest.fixture(scope="session")
def flake(
    nix_eval_tree: Path,
    nix_env: tuple[dict[str, str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Flake:
    """The worktree's tracked tree as a git repo, locked to the stand-in inputs."""
    env, store_root = nix_env
    repo = tmp_path_factory.mktemp("flake") / "sealfeed"
    _copy_worktree(repo)
    subprocess.run([*GIT, "init", "-q", str(repo)], check=True, env=env)
    copy = Flake(repo, env, store_root)
    copy.commit("worktree copy")
    overrides: list[str] = []
    for name, rel in INPUTS.items():
        overrides += ["--override-input", name, f"path:{nix_eval_tree / rel}"]
    copy.run("flake", "lock", *overrides)
    copy.commit("lock to ../shared/nix-eval")
    return copy


@pytest.fixture(scope="session")
def summary(flake: Flake) -> dict[str, Any]:
    """Every flake output, evaluated once per session (tests/nix/summary.nix)."""
    result: dict[str, Any] = flake.summary()
    return result


@pytest.fixture
def flake_clone(flake: Flake, tmp_path: Path) -> Callable[[], Flake]:
    """A private clone of the session copy, for tests that change files."""

    def make() -> Flake:
        dest = tmp_path / f"clone{len(list(tmp_path.iterdir()))}"
        subprocess.run([*GIT, "clone", "-q", str(flake.path), str(dest)], check=True)
        return Flake(dest, flake.env, flake.store_root)

    return make
