"""`sealfeed up` / `sealfeed status` through the CLI (the config loader is stubbed: it is
the lead's component; everything after it is real)."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealfeed.cli import main
from sealfeed.errors import VerificationError
from tests.fixtures.s6 import s6_make_config
from tests.s6.test_up import STANDIN, _free_block

pytestmark = pytest.mark.skipif(
    shutil.which("s6-svscan") is None,
    reason="SKIPPED LOUDLY: s6 not installed (apt-get install s6)",
)


@pytest.fixture
def keep_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def _cmd(service: str, argv: list[str]) -> list[str]:
    return ["--command", f"{service}={shlex.join(argv)}"]


@pytest.mark.slow
def test_up_cli_exit_when_ready(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    keep_signals: None,
) -> None:
    monkeypatch.setattr("sealfeed.config.args.config_from_args", lambda args: s6_make_config(2))
    monkeypatch.setenv("PATH", "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin")  # no chainlink
    events = tmp_path / "events"

    def standin(name: str, *extra: str) -> list[str]:
        return [sys.executable, STANDIN, "--name", name, "--events", str(events), *extra]

    argv = ["up", "--config", "c.json", "--state-dir", str(tmp_path / "st"), "--json"]
    argv += ["--exit-when-ready"]
    argv += _cmd("config-verify", standin("config-verify", "--exit", "0"))
    argv += _cmd("secrets-import", ["true"]) + _cmd("attest", ["true"])
    argv += _cmd("postgres-bootstrap", ["true"])
    argv += _cmd("postgres-init", ["true"])
    # runs as `postgres` when the test runs as root: a program that account may execute
    argv += _cmd("postgres", ["sleep", "1000"]) + _cmd("postgres-check", ["true"])
    for svc in ("price-aggregator", "process-metrics"):
        port = str(_free_block(1) + 1)
        argv += _cmd(svc, standin(svc, "--port", port, "--notify-fd", "3"))
    rc = main(argv)
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0, doc
    assert doc["ok"] and doc["exit_code"] == 0 and doc["cause"] is None
    assert doc["ready_seconds"] is not None and doc["leftover_processes"] == []
    skipped = {s["service"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"chainlink-render", "chainlink-node-1", "chainlink-node-2"}
    assert "no `chainlink` binary on PATH" in skipped["chainlink-node-1"]
    assert doc["shutdown_layers"][0] == ["postgres-init"]

    # status after the run: everything down, still readable
    assert main(["status", "--state-dir", str(tmp_path / "st")]) == 0
    out = capsys.readouterr().out
    assert "price-aggregator" in out and "RESTARTS" in out


def test_up_cli_rejected_config_records_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def reject(args: object) -> object:
        raise VerificationError("signature does not verify", location="c.json")

    monkeypatch.setattr("sealfeed.config.args.config_from_args", reject)
    st = tmp_path / "st"
    assert main(["up", "--config", "c.json", "--state-dir", str(st)]) == 1
    assert "signature does not verify" in capsys.readouterr().err
    cause = json.loads((st / "run/s6-linux-init-container-results/cause.json").read_text())
    assert cause["service"] == "config-verify" and cause["container_exit_code"] == 1
    assert not (st / "run" / "service").exists()  # nothing was rendered or started


def test_up_cli_bad_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--state-dir", str(tmp_path), "--command", "nonsense"]) == 2
    assert "SERVICE=CMDLINE" in capsys.readouterr().err
