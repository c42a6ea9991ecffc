"""The redacting logger front: real s6-log, secrets from the secrets dir, rotation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sealfeed.errors import InputError
from sealfeed.s6.logpipe import s6_log_argv

pytestmark = pytest.mark.skipif(
    shutil.which("s6-log") is None,
    reason="SKIPPED LOUDLY: s6-log not installed (apt-get install s6)",
)


def test_secrets_redacted_and_rotated(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "keystore-password").write_text("hunter2-keystore-pass\n")
    (secrets / "short").write_text("abc\n")  # too short to redact safely
    logdir = tmp_path / "log"
    lines = [f"filler line {i} " + "x" * 200 + "\n" for i in range(60)] + [
        "node started with password hunter2-keystore-pass in argv\n",
        "GET http://user:pa55word@example.org/x\n",
        "Authorization: Bearer tok-123\n",
        "abc is fine\n",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "sealfeed", "s6", "log", "--dir", str(logdir),
         "--max-size", "4096", "--max-files", "3", "--secrets-dir", str(secrets)],
        input="".join(lines).encode(),
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    files = sorted(logdir.iterdir())
    text = "".join(p.read_text() for p in files if p.name == "current" or p.name.startswith("@"))
    assert "hunter2-keystore-pass" not in text and "pa55word" not in text
    assert "tok-123" not in text
    assert "password *** in argv" in text and "abc is fine" in text
    archived = [p for p in files if p.name.startswith("@")]
    assert 1 <= len(archived) <= 3  # rotated at 4 KiB, at most n3 old files kept
    # s6-log rotates at line boundaries once the file passes the size: bounded, not exact
    sizes = [p.stat().st_size for p in archived]
    assert all(s <= 3 * 4096 for s in sizes), sizes


def test_sigterm_flushes_and_exits(tmp_path: Path) -> None:
    logdir = tmp_path / "log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealfeed", "s6", "log", "--dir", str(logdir),
         "--max-size", "100000", "--max-files", "2"],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(b"hello before term\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 5
    current = logdir / "current"
    while time.monotonic() < deadline and "hello" not in (
        current.read_text() if current.exists() else ""
    ):
        time.sleep(0.05)
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert "hello before term" in current.read_text()


def test_bad_rotation_settings() -> None:
    with pytest.raises(InputError, match="4096"):
        s6_log_argv("/x", 100, 3)
    with pytest.raises(InputError, match="max-files"):
        s6_log_argv("/x", 10_000, 0)
