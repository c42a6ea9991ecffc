"""The CLI spine: every command exists and imports, help lists them, version, exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from sealfeed import __version__
from sealfeed.cli import COMMANDS, CommandImportError, build_parser, main
from sealfeed.errors import ExitCode, InputError

#: the commands sealfeed ships (docs/cli.md). Removing one from COMMANDS fails here.
EXPECTED_COMMANDS = {
    "config": "sealfeed.config.cli",
    "attest": "sealfeed.attest.cli",
    "verify": "sealfeed.verify.cli",
    "image": "sealfeed.image.cli",
    "sp": "sealfeed.sp.cli",
    "aggregator": "sealfeed.aggregator.cli",
    "exporter": "sealfeed.exporter.cli",
    "pg": "sealfeed.postgres.cli",
    "s6": "sealfeed.s6.cli",
    "chainlink": "sealfeed.chainlink.cli",
    "up": "sealfeed.s6.up_cli",
    "status": "sealfeed.s6.status_cli",
    "link": "sealfeed.link.cli",
    "secrets": "sealfeed.secrets.cli",
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealfeed", *args], capture_output=True, text=True, timeout=60
    )


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"sealfeed {__version__}"


def test_every_expected_command_is_declared() -> None:
    assert {name: module for name, module, _ in COMMANDS} == EXPECTED_COMMANDS


def test_every_declared_command_is_in_the_parser() -> None:
    assert set(_choices(build_parser())) == set(EXPECTED_COMMANDS)


def test_help_lists_every_command_with_purpose() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    flat = " ".join(proc.stdout.split())
    purposes = {name: purpose for name, _module, purpose in COMMANDS}
    for name in EXPECTED_COMMANDS:
        assert f" {name} " in flat, name
        assert " ".join(purposes[name].split()[:4]) in flat, name


@pytest.mark.parametrize("name", sorted(EXPECTED_COMMANDS))
def test_every_command_has_help(name: str) -> None:
    proc = run_cli(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: sealfeed " + name)


def test_a_command_that_fails_to_import_is_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = (*COMMANDS, ("ghost", "sealfeed.no_such_module.cli", "a command that is missing"))
    monkeypatch.setattr("sealfeed.cli.COMMANDS", broken)
    with pytest.raises(CommandImportError, match=r"'ghost'.*sealfeed\.no_such_module\.cli"):
        build_parser()
    assert main(["--help"]) == ExitCode.BUG
    err = capsys.readouterr().err
    assert "broken installation" in err and "ghost" in err and "Traceback" not in err


def test_no_command_is_usage_error() -> None:
    proc = run_cli()
    assert proc.returncode == ExitCode.USAGE


def test_unknown_command_is_usage_error() -> None:
    proc = run_cli("no-such-command")
    assert proc.returncode == 2


def _with_command(handler: object) -> argparse.ArgumentParser:
    """The real command tree plus one test command (``main``'s ``parser`` seam)."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cmd = action.add_parser("test-cmd")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(func=handler)
    return parser


def test_sealfeed_error_maps_to_exit_code_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise InputError("must be > 0, got -5", location="aggregator.sources.kraken.ttl_ms")

    rc = main(["--log-level", "ERROR", "test-cmd"], parser=_with_command(boom))
    err = capsys.readouterr().err
    assert rc == 2
    assert "sealfeed: aggregator.sources.kraken.ttl_ms: must be > 0, got -5" in err


def test_sealfeed_error_with_json_prints_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    def boom(args: argparse.Namespace) -> int:
        raise InputError("bad", location="x")

    rc = main(["test-cmd", "--json"], parser=_with_command(boom))
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and doc["error"] == {"message": "bad", "location": "x", "exit_code": 2}


def test_handler_exit_code_is_returned(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-cmd"], parser=_with_command(lambda a: ExitCode.FAILED)) == 1


def test_unexpected_exception_is_reported_as_bug_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def boom(args: object) -> int:
        raise KeyError("x")

    rc = main(["--log-level", "ERROR", "test-cmd"], parser=_with_command(boom))
    err = capsys.readouterr().err
    assert rc == ExitCode.BUG
    assert "Traceback" not in err
    assert "bug" in err
