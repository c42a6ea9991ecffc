"""Every command handler says its exit code by name: ``ExitCode.OK``, never ``return 0``.

The handlers are found the way ``sealfeed`` finds them (the real parser tree, every
``func=`` default), so a new command is checked without editing this file; their source is
then read with ``ast``. Exit codes are mapped in one place (errors.ExitCode, docs/cli.md).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sealfeed.cli import build_parser

#: handlers that pass through another protocol's exit status, not a sealfeed verdict:
#: s6 finish/halt hooks (s6-supervise's finish protocol: 125 = permanent failure, ...),
#: the log filter (its child's status) and ``up`` (the container's exit code, s6-linux-init).
PASS_THROUGH = {
    "sealfeed.s6.cli._finish",
    "sealfeed.s6.cli._halt",
    "sealfeed.s6.cli._log",
    "sealfeed.s6.up_cli._up",
}


def _handlers(parser: argparse.ArgumentParser, path: str = "sealfeed") -> Iterator[tuple[str, Any]]:
    func = parser._defaults.get("func")
    if func is not None:
        yield path, func
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _handlers(sub, f"{path} {name}")


HANDLERS = sorted(_handlers(build_parser()), key=lambda h: h[0])


def _qualname(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def literal_returns(source: str) -> list[str]:
    """``return``s (of the function itself, not of nested helpers) whose value is an int
    literal, or picks between int literals (``0 if ok else 1``, ``ok and 0 or 1``)."""
    fn = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)

    def literal(e: ast.expr) -> bool:
        if isinstance(e, ast.Constant):
            return isinstance(e.value, int) and not isinstance(e.value, bool)
        if isinstance(e, ast.IfExp):
            return literal(e.body) or literal(e.orelse)
        if isinstance(e, ast.BoolOp):
            return any(literal(v) for v in e.values)
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "int":
            return any(literal(a) for a in e.args)
        return False

    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue  # a nested helper's return is not the handler's exit code
            if isinstance(child, ast.Return) and child.value is not None and literal(child.value):
                found.append(f"line {child.lineno}: return {ast.unparse(child.value)}")
            visit(child)

    visit(fn)
    return found


def test_the_parser_has_every_commands_handlers() -> None:
    # the walk must see the whole tree, or the checks below would pass on nothing
    commands = {path.split()[1] for path, _ in HANDLERS}
    assert {"config", "attest", "verify", "image", "sp", "link", "aggregator", "exporter",
            "pg", "s6", "chainlink", "up", "status"} <= commands  # fmt: skip
    assert len(HANDLERS) >= 40


@pytest.mark.parametrize(("command", "func"), HANDLERS, ids=[h[0] for h in HANDLERS])
def test_handler_returns_exit_code_by_name(command: str, func: Callable[..., Any]) -> None:
    func = inspect.unwrap(func)
    assert literal_returns(inspect.getsource(func)) == [], f"{command}: {_qualname(func)}"
    annotation = inspect.signature(func, eval_str=False).return_annotation
    if _qualname(func) in PASS_THROUGH:
        assert annotation in ("int", int)
    else:
        assert annotation in ("ExitCode", "ExitCode | None"), (
            f"{command}: {_qualname(func)} is annotated {annotation!r}, not ExitCode"
        )


def test_the_lint_finds_literals() -> None:
    bad = """
def h(args) -> int:
    def helper() -> int:
        return 5  # a helper's value: not an exit code
    if args.x:
        return 0
    if args.y:
        return int(3)
    return 0 if helper() else 1
"""
    assert literal_returns(bad) == [
        "line 6: return 0",
        "line 8: return int(3)",
        "line 9: return 0 if helper() else 1",
    ]
    good = "def h(args) -> ExitCode:\n    return ExitCode.OK if args.x else ExitCode.FAILED\n"
    assert literal_returns(good) == []
