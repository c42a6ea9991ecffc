"""The CLI's seams: tests hand a command its configuration through ``main(load_config=...)``,
never by patching a module attribute that a handler happens to import lazily.

``test_no_test_patches_a_lazily_imported_name`` is the guard: a name some handler imports
inside its body (``from sealfeed.x import f``) is looked up at call time, so patching
``sealfeed.x.f`` works -- until the import moves to module level, and the test then silently
exercises the real thing. Patch the seam, not the import style.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealfeed.cli import build_parser, main
from sealfeed.config.args import config_from_args
from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import VerificationError

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "sealfeed"


def _subparsers(
    parser: argparse.ArgumentParser, path: str = "sealfeed"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{path} {name}")


def test_commands_load_their_config_through_the_real_loader_by_default() -> None:
    takes_config = {
        path: sub._defaults.get("load_config")
        for path, sub in _subparsers(build_parser())
        if any("--config" in a.option_strings for a in sub._actions)
    }
    # the services and renderers that read the signed configuration
    for command in ("aggregator serve", "exporter serve", "pg bootstrap", "s6 render",
                    "chainlink render", "chainlink publish", "up"):  # fmt: skip
        assert takes_config[f"sealfeed {command}"] is config_from_args
    # production: every one of them verifies the signature (fail closed), nothing else;
    # `verify` checks a configuration as evidence (its own link of the verdict), and so does
    # `secrets seal`, which runs that same chain before it seals anything to the appliance
    loaded = {path for path, loader in takes_config.items() if loader is not None}
    assert set(takes_config) - loaded == {"sealfeed verify", "sealfeed secrets seal"}
    assert {takes_config[path] for path in loaded} == {config_from_args}


def test_main_load_config_replaces_the_loader(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def reject(args: argparse.Namespace) -> ApplianceConfig:
        seen.append(args.config)
        raise VerificationError("signature does not verify", location=args.config)

    rc = main(["aggregator", "serve", "--config", "/sp/c.json"], load_config=reject)
    assert rc == 1 and seen == ["/sp/c.json"]
    assert "sealfeed: /sp/c.json: signature does not verify" in capsys.readouterr().err


def test_main_load_config_for_a_command_without_config_is_a_test_bug() -> None:
    with pytest.raises(TypeError, match="takes no --config"):
        main(["aggregator", "sources"], load_config=config_from_args)


# ---------------------------------------------------------------- the guard


def lazily_imported(src: Path) -> set[tuple[str, str]]:
    """(module, name) of every ``from sealfeed.x import name`` inside a function body."""
    found: set[tuple[str, str]] = set()
    for path in src.rglob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.update((node.module, a.name) for a in node.names)
    return {(m, n) for m, n in found if m.startswith("sealfeed")}


def patched_names(source: str) -> list[tuple[int, str, str]]:
    """(line, module, name) of every ``setattr`` on a sealfeed module in a test: the string
    form ``setattr("sealfeed.x.f", ...)`` and the object form ``setattr(x_mod, "f", ...)``
    with ``x_mod`` bound by ``import sealfeed.x as x_mod`` / ``from sealfeed import x``."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("sealfeed") and a.asname:
                    modules[a.asname] = a.name
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("sealfeed")
        ):
            for a in node.names:  # may be a module (from sealfeed.x import y)
                modules[a.asname or a.name] = f"{node.module}.{a.name}"
    out: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "setattr" or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            module, _, name = first.value.rpartition(".")
            if module.startswith("sealfeed"):
                out.append((node.lineno, module, name))
        elif isinstance(first, ast.Name) and first.id in modules and len(node.args) > 1:
            second = node.args[1]
            if isinstance(second, ast.Constant) and isinstance(second.value, str):
                out.append((node.lineno, modules[first.id], second.value))
    return out


def test_no_test_patches_a_lazily_imported_name() -> None:
    lazy = lazily_imported(SRC)
    assert ("sealfeed.config.args", "verified_config") in lazy  # the walk sees the handlers
    bad = [
        f"{path.relative_to(ROOT)}:{line}: patches {module}.{name}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for line, module, name in patched_names(path.read_text())
        if (module, name) in lazy
    ]
    assert bad == [], "patch the seam (main(load_config=...), a parameter), not the import"


def test_the_guard_sees_both_patch_forms() -> None:
    source = (
        "import sealfeed.aggregator.server as server_mod\n"
        "from sealfeed.config import args\n"
        "def test(monkeypatch, mp):\n"
        "    monkeypatch.setattr('sealfeed.config.args.config_from_args', f)\n"
        "    mp.setattr(server_mod, 'run', f)\n"
        "    mp.setattr(args, 'config_from_args', f)\n"
        "    monkeypatch.setattr('os.getcwd', f)\n"
    )
    assert patched_names(source) == [
        (4, "sealfeed.config.args", "config_from_args"),
        (5, "sealfeed.aggregator.server", "run"),
        (6, "sealfeed.config.args", "config_from_args"),
    ]
