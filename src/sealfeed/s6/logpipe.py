"""``sealfeed s6 log``: the redacting front of every s6-log pipeline.

The logger service's stdin is its producer's stdout+stderr. This process removes secrets
line by line and feeds the rest to an ``s6-log`` child, which timestamps (``T``, ISO 8601)
and rotates (``s<size>``, keep ``n<files>``) into the log dir (skarnet.org/software/s6/
s6-log.html). Redacted: every value in the secrets dir (files of >= 8 characters, read once
at start, as root in the image) and, by pattern, Authorization headers, URL passwords and
every :class:`~sealfeed.secret.Secret` known to this process (:func:`sealfeed.log.redact`).
Then it drops to the log user. Why not sed: a secret's value would have to be put into the
sed program (argv/env = leaked), and regex metacharacters in it would need escaping.

EOF of the producer pipe (or SIGTERM) closes s6-log's stdin so it flushes and exits.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from sealfeed.errors import InputError

MIN_SECRET_LEN = 8
#: s6-log refuses a rotation size below 4096 bytes (s6-log.html, "s" directive)
MIN_FILE_SIZE = 4096


def load_secret_values(secrets_dir: str | None) -> list[str]:
    """Values of the secret files (never logged; wrapped as Secret for the redaction set)."""
    from sealfeed.secret import Secret

    values: list[str] = []
    if not secrets_dir:
        return values
    root = Path(secrets_dir)
    with contextlib.suppress(OSError):
        for path in sorted(root.rglob("*")):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if path.is_file() and path.stat().st_size <= 64 * 1024:
                    value = path.read_text(encoding="utf-8").strip()
                    if len(value) >= MIN_SECRET_LEN:
                        Secret(value)  # registers it with sealfeed.log.redact
                        values.append(value)
    return values


def s6_log_argv(log_dir: str, max_size: int, max_files: int) -> list[str]:
    if max_size < MIN_FILE_SIZE:
        raise InputError(f"--max-size must be >= {MIN_FILE_SIZE} (s6-log minimum)")
    if max_files < 1:
        raise InputError("--max-files must be >= 1")
    return ["s6-log", "-b", f"n{max_files}", f"s{max_size}", "T", log_dir]


def pump(src: IO[bytes], dst: IO[bytes]) -> None:
    from sealfeed.log import redact

    for raw in iter(src.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        dst.write(redact(line).encode("utf-8"))
        dst.flush()


def _drop_to(user: str) -> None:
    pw = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


def run_log_filter(
    *,
    log_dir: str,
    max_size: int,
    max_files: int,
    user: str | None,
    secrets_dir: str | None,
) -> int:
    argv = s6_log_argv(log_dir, max_size, max_files)
    load_secret_values(secrets_dir)
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    if user and as_root:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise InputError(f"log user {user!r} does not exist", location="--user") from None
        os.chown(log_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(log_dir, 0o750)  # noqa: S103 -- group may read logs, others not
        argv = ["s6-setuidgid", user, *argv]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE)
    if user and as_root:
        _drop_to(user)

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    assert child.stdin is not None
    try:
        pump(sys.stdin.buffer, child.stdin)
    except (SystemExit, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


__all__ = ["load_secret_values", "pump", "run_log_filter", "s6_log_argv"]
