"""docs/deploy-super-protocol.md cannot rot: every ```console block in it is a command the
transcript script (scripts/docs_transcript.py) really runs, and the first line of its output
is still what the doc shows (after normalising temp paths, random digests and times)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "deploy-super-protocol.md"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_transcript", REPO / "scripts" / "docs_transcript.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_transcript"] = module
    spec.loader.exec_module(module)
    return module


script = _load_script()


def console_blocks(markdown: str) -> list[tuple[str, list[str]]]:
    """(command, output lines) for every ``$ sealfeed`` command in ```console blocks."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```", markdown, flags=re.S | re.M):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                i += 1
                continue
            cmd = [line[2:]]
            while cmd[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
            i += 1
            out: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ "):
                out.append(lines[i])
                i += 1
            found.append(("\n".join(cmd), out))
    return found


def first_line(lines: list[str]) -> str:
    """The first line that says something (a JSON document's ``{`` does not)."""
    return next((ln for ln in lines if ln.strip() not in ("", "{", "[")), "")


def command_key(command: str) -> str:
    return str(script.normalise(command.replace("\\\n", " ")))


@pytest.fixture(scope="module")
def steps() -> list[Any]:
    return list(script.transcript())


def test_transcript_runs_every_step(steps: list[Any]) -> None:
    assert steps, "the transcript produced nothing"
    for step in steps:
        assert "Traceback" not in step.output, (step.command, step.output)
        assert step.output.strip(), f"{step.command} printed nothing"
    expected_failures = {"verify-edited", "verify-other-image"}
    assert {s.id for s in steps if s.exit != 0} == expected_failures, [
        (s.id, s.exit) for s in steps
    ]


def test_doc_commands_still_produce_their_output(steps: list[Any]) -> None:
    blocks = console_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "docs/deploy-super-protocol.md lost its transcript blocks"
    by_command = {command_key(s.command): s for s in steps}
    problems: list[str] = []
    for command, output in blocks:
        assert command.startswith("sealfeed "), f"console blocks hold sealfeed commands: {command}"
        step = by_command.get(command_key(command))
        if step is None:
            problems.append(f"not in the transcript (regenerate the doc): {command}")
            continue
        doc_first = script.normalise(first_line(output))
        real_first = script.normalise(first_line(step.output.splitlines()))
        if doc_first != real_first:
            problems.append(f"{command}\n  doc:  {doc_first}\n  real: {real_first}")
    assert not problems, "docs/deploy-super-protocol.md is stale; run " \
        "`uv run python scripts/docs_transcript.py --update-doc`:\n" + "\n".join(problems)  # fmt: skip


def test_normalise_blanks_run_specific_values() -> None:
    a = script.normalise("fingerprint: sha256:" + "ab" * 32 + " at /tmp/x-1/y 2026-11-01T00:00:00Z")
    b = script.normalise(
        "fingerprint: sha256:" + "cd" * 32 + " at /tmp/z/w 2025-07-01T00:00:00+00:00"
    )
    assert a == b == "fingerprint: <sha256> at <tmp> <time>"


def test_console_block_parser() -> None:
    md = "```console\n$ sealfeed a \\\n    --b c\nline 1\nline 2\n$ sealfeed d\n```\n"
    assert console_blocks(md) == [
        ("sealfeed a \\\n    --b c", ["line 1", "line 2"]),
        ("sealfeed d", []),
    ]


def test_update_doc_refreshes_a_stale_block(steps: list[Any]) -> None:
    step = next(s for s in steps if s.id == "verify-order")
    stale = f"text\n```console\n$ {step.command}\nACCEPTED: old wording\n```\nmore\n"
    fresh, missing = script.update_doc(stale, steps)
    assert not missing
    assert fresh == f"text\n```console\n$ {step.command}\n{step.output}\n```\nmore\n"
    assert script.update_doc(fresh, steps) == (fresh, [])


# -- README.md's first screen ----------------------------------------------------------------
# Its `bash scripts/up.sh` transcript is compared with a real run in
# tests/test_appliance_up.py (readme_lines_not_in); here: what it tells the operator to type.

README = REPO / "README.md"


def test_readme_up_flags_and_scripts_exist() -> None:
    import subprocess

    text = README.read_text(encoding="utf-8")
    helptext = subprocess.run(
        [sys.executable, "-m", "sealfeed", "up", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for flag in ("--source-url", "--aggregator-port", "--exporter-port", "--state-dir"):
        assert flag in text and flag in helptext, flag
    for script in ("scripts/up.sh", "scripts/test.sh", "scripts/fake_exchange.py"):
        assert script in text and (REPO / script).exists(), script
    assert "SEALFEED_STATE" in text and "SEALFEED_STATE" in (REPO / "scripts/up.sh").read_text()
    assert "/tmp/sealfeed-up" not in text  # the old machine-wide default


def test_fake_exchange_script_serves_a_binance_price() -> None:
    """README: `uv run python scripts/fake_exchange.py` is a fake Binance the aggregator can
    use offline (the aggregator side: tests/test_appliance_up.py)."""
    import json
    import signal
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "fake_exchange.py"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == f"fake binance on http://127.0.0.1:{port} (BTC/USDT 67012.34000000)\n"
        assert proc.stdout.readline() == (
            f"next: bash scripts/up.sh --source-url binance=http://127.0.0.1:{port}\n"
        )
        url = f"http://127.0.0.1:{port}/api/v3/ticker/price?symbol=BTCUSDT"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert json.loads(resp.read()) == {"symbol": "BTCUSDT", "price": "67012.34000000"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0
    bad = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fake_exchange.py"), "nasdaq"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown source(s) nasdaq; known: alphavantage" in bad.stderr
