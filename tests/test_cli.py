"""The CLI spine: help lists every command, version, exit-code mapping."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sealfeed import __version__
from sealfeed.cli import COMMANDS, build_parser, main
from sealfeed.errors import ExitCode, InputError


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealfeed", *args], capture_output=True, text=True, timeout=60
    )


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"sealfeed {__version__}"


def test_help_lists_every_available_command_with_purpose() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    flat = " ".join(proc.stdout.split())
    for name, _module, purpose in COMMANDS:
        if name in choices:
            assert name in proc.stdout
            assert " ".join(purpose.split()[:4]) in flat


def test_no_command_is_usage_error() -> None:
    proc = run_cli()
    assert proc.returncode == ExitCode.USAGE


def test_unknown_command_is_usage_error() -> None:
    proc = run_cli("no-such-command")
    assert proc.returncode == 2


def test_sealfeed_error_maps_to_exit_code_and_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    def boom(args: argparse.Namespace) -> int:
        raise InputError("must be > 0, got -5", location="aggregator.sources.kraken.ttl_ms")

    parser = build_parser()
    ns = parser.parse_args(["--log-level", "ERROR"])
    ns.func = boom
    monkeypatch.setattr("sealfeed.cli.build_parser", lambda: _FixedParser(ns))
    rc = main([])
    err = capsys.readouterr().err
    assert rc == 2
    assert "sealfeed: aggregator.sources.kraken.ttl_ms: must be > 0, got -5" in err


def test_unexpected_exception_is_reported_as_bug_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(args: object) -> int:
        raise KeyError("x")

    ns = build_parser().parse_args(["--log-level", "ERROR"])
    ns.func = boom
    monkeypatch.setattr("sealfeed.cli.build_parser", lambda: _FixedParser(ns))
    rc = main([])
    err = capsys.readouterr().err
    assert rc == ExitCode.BUG
    assert "Traceback" not in err
    assert "bug" in err


class _FixedParser:
    def __init__(self, ns: object) -> None:
        self.ns = ns

    def parse_args(self, argv: object) -> object:
        return self.ns
