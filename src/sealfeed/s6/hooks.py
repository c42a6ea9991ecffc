"""Programs the generated scripts run: finish (restart budget), halt, readiness probe.

They run inside the supervision tree (cwd = the service directory, stdout = the service's
logger, stderr = the container's catch-all log), so they are small, import little and never
block: s6-supervise kills a finish script after 5 s (``timeout-finish`` default).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sealfeed.config.model import RestartPolicy
from sealfeed.s6.budget import load_ledger, record_exit, save_ledger
from sealfeed.s6.model import IMAGE_HALT

#: s6-supervise: a finish script exiting 125 marks the service permanently failed, it is not
#: restarted (skarnet.org/software/s6/servicedir.html, "finish")
FINISH_DO_NOT_RESTART = 125
#: s6-supervise passes 256 as the exit code when the service was killed by a signal
KILLED_BY_SIGNAL = 256
EXITCODE_FILE = "exitcode"
CAUSE_FILE = "cause"
CAUSE_JSON = "cause.json"
CLAIM_FILE = ".cause.claim"

#: what a oneshot's exit status means, for the one-line cause (exit codes: docs/cli.md)
_ONESHOT_MEANING = {
    "config-verify": {
        1: "the configuration signature does not verify",
        2: "the configuration is malformed",
        3: "an external dependency failed while verifying the configuration",
    }
}


@dataclass(frozen=True)
class Cause:
    service: str
    what: str
    exit_code: int
    container_exit_code: int
    signal: str | None
    time: float
    #: the failing service's own one-line reason (its last telling log line), if any
    reason: str | None = None

    def line(self) -> str:
        how = f"signal {self.signal}" if self.signal else f"exit {self.exit_code}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.time))
        said = f"; its last words: {self.reason}" if self.reason else ""
        return (
            f"sealfeed: appliance stopped: {self.service}: {self.what} ({how}) at {stamp}"
            f"{said}; container exit code {self.container_exit_code}"
        )


def container_exit_code(exit_code: int, sig: int | None) -> int:
    """Non-zero always: the service's code, 128+signal if killed, else 1."""
    if sig:
        return min(128 + sig, 255)
    if 0 < exit_code < 256:
        return exit_code
    return 1


def record_cause(results_dir: str | os.PathLike[str], cause: Cause) -> bool:
    """Write exitcode + cause once; the first failure is the root cause (False if not first)."""
    d = Path(results_dir)
    d.mkdir(parents=True, exist_ok=True)
    doc = {
        "service": cause.service,
        "what": cause.what,
        "exit_code": cause.exit_code,
        "signal": cause.signal,
        "time": cause.time,
        "container_exit_code": cause.container_exit_code,
        "reason": cause.reason,
        "line": cause.line(),
    }
    try:  # the first failure is the root cause: claim the record exclusively
        os.close(os.open(d / CLAIM_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    from sealfeed.fsutil import atomic_write

    # s6-overlay reads this file for the container's exit code (s6-overlay README,
    # "Exit codes": /run/s6-linux-init-container-results/exitcode)
    atomic_write(d / EXITCODE_FILE, f"{cause.container_exit_code}\n")
    atomic_write(d / CAUSE_FILE, cause.line() + "\n")
    # written last: whoever sees cause.json sees exitcode and cause too
    atomic_write(d / CAUSE_JSON, json.dumps(doc) + "\n")
    return True


def read_cause(results_dir: str | os.PathLike[str]) -> dict[str, object] | None:
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((Path(results_dir) / CAUSE_JSON).read_text())
        if isinstance(doc, dict):
            return doc
    return None


#: s6-log's ``T`` prefix: ISO 8601 date and time, nanoseconds, two spaces (s6-log.html)
_S6_LOG_STAMP = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?  ")
#: a line that says why: sealfeed's own error line, a logged error, PostgreSQL's severities
_TELLING_LEVELS = frozenset({"error", "critical", "fatal", "panic", "dpanic"})
_PG_SEVERITY = re.compile(r"\b(?:FATAL|PANIC|ERROR):  ")
REASON_MAX = 300
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 40


def service_log(source_dir: str | os.PathLike[str], service: str) -> Path | None:
    """``<log_dir>/current`` of ``service``'s logger, from the rendered manifest next to
    ``source_dir`` (the tree's ``s6-rc.d``; both modes export it as SEALFEED_S6_SOURCE_DIR)."""
    from sealfeed.s6.render import MANIFEST

    try:
        doc = json.loads((Path(source_dir).parent / MANIFEST).read_text())
        by_name = {s["name"]: s for s in doc["services"]}
        logger = by_name[service]["logger"]
        log_dir = by_name[logger]["log_dir"] if logger else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Path(log_dir) / "current" if isinstance(log_dir, str) else None


def telling_line(lines: list[str]) -> str | None:
    """The one line of a log tail that best says why the service ended (pure).

    The newest of: sealfeed's error line (``sealfeed: <location>: <message>``), a JSON log
    line at level error or worse (its ``msg``/``event`` and ``error`` fields), a PostgreSQL
    FATAL/PANIC/ERROR line; else simply the last line.
    """
    cleaned = [_S6_LOG_STAMP.sub("", ln).strip() for ln in lines]
    cleaned = [ln for ln in cleaned if ln]
    if not cleaned:
        return None
    for ln in reversed(cleaned[-_TAIL_LINES:]):
        if ln.startswith("sealfeed: "):
            return _clip(ln)
        if ln.startswith("{"):
            try:
                doc = json.loads(ln)
            except ValueError:
                continue
            if isinstance(doc, dict) and str(doc.get("level", "")).lower() in _TELLING_LEVELS:
                parts = [str(doc[k]) for k in ("msg", "event", "error") if doc.get(k)]
                return _clip(": ".join(dict.fromkeys(parts)) or ln)
        elif _PG_SEVERITY.search(ln):
            return _clip(ln)
    return _clip(cleaned[-1])


def _clip(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= REASON_MAX else line[: REASON_MAX - 3] + "..."


def _tail_lines(path: Path, size: int | None = None) -> list[str] | None:
    """The last :data:`_TAIL_LINES` lines of the last :data:`_TAIL_BYTES` of ``path`` (up to
    ``size`` when given); None when it cannot be read."""
    try:
        with path.open("rb") as fh:
            end = path.stat().st_size if size is None else size
            fh.seek(max(0, end - _TAIL_BYTES))
            tail = fh.read(_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    return tail.splitlines()[-_TAIL_LINES:]


def last_words(
    source_dir: str | os.PathLike[str] | None,
    service: str,
    *,
    settle: float = 0.3,
    timeout: float = 2.0,
) -> str | None:
    """The failing service's own one-line reason, from what its logger wrote (already
    redacted by the log pipeline). Its last lines may still be in the pipe when the finish
    script runs: wait until the file has not grown for ``settle`` s (at most ``timeout``)."""
    if not source_dir:
        return None
    path = service_log(source_dir, service)
    if path is None:
        return None
    deadline = time.monotonic() + timeout
    size, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            now_size = path.stat().st_size
        except OSError:
            now_size = -1
        if now_size != size:
            size, stable_since = now_size, time.monotonic()
        elif time.monotonic() - stable_since >= settle:
            break
        time.sleep(0.05)
    lines = _tail_lines(path, size)
    return None if lines is None else telling_line(lines)


def halt(how: str, scandir: str | None = None) -> None:
    """Ask the supervision tree to stop in order (never waits for it).

    ``how``: an absolute program (the image: /init's ``sealfeed-halt`` at
    ``<run>/s6/basedir/bin/halt``, which has s6-rc stop everything in reverse dependency
    order, then s6-svscan), ``watch``/``none`` (``sealfeed up`` polls the results dir), or
    ``signal:<pidfile>``. ``s6-overlay`` is the historical name of the default halt path.
    """
    if how in ("none", "watch"):
        return
    if how == "s6-overlay":
        how = IMAGE_HALT
    if how.startswith("/"):
        # own session: s6-supervise kills a finish script after timeout-finish, and the halt
        # outlives the service it stops
        with contextlib.suppress(OSError):
            subprocess.Popen([how], start_new_session=True, stdin=subprocess.DEVNULL)
            return
        sys.stderr.write(f"sealfeed: cannot run the halt program {how}\n")
    if how.startswith("signal:"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(Path(how.removeprefix("signal:")).read_text().strip())
            os.kill(pid, signal.SIGTERM)
            return
    if scandir:
        subprocess.Popen(["s6-svscanctl", "-t", scandir], start_new_session=True)


def _want_down(service_dir: Path) -> bool:
    """True when the exit was asked for (s6-svc -d, shutdown): not a crash."""
    from sealfeed.s6.supervise import read_supervise_status

    try:
        st = read_supervise_status(service_dir)
    except Exception:  # a damaged status file must not stop the budget from working
        return False
    return st is not None and not st.want_up


def finish(
    *,
    service: str,
    exit_code: int,
    sig: int | None,
    policy: RestartPolicy,
    run_service_dir: str,
    results_dir: str,
    halt_how: str,
    service_dir: Path | None = None,
    now: float | None = None,
    source_dir: str | None = None,
) -> int:
    """The finish script: account the exit, and stop the appliance when over budget.

    The cause then carries the service's own last words (:func:`last_words`, found through
    the manifest next to ``source_dir``) unless SIGKILL ended it: a killed process said
    nothing about why, and its last line would mislead.
    """
    service_dir = service_dir or Path.cwd()
    if _want_down(service_dir):
        return 0
    now = time.time() if now is None else now
    state = Path(run_service_dir) / service
    decision = record_exit(load_ledger(state), now, policy)
    save_ledger(state, decision.ledger)
    sig_name = None
    if sig:
        try:
            sig_name = signal.Signals(sig).name
        except ValueError:
            sig_name = f"SIG{sig}"
    how = f"signal {sig_name}" if sig_name else f"exit {exit_code}"
    if not decision.exhausted:
        sys.stderr.write(
            f"sealfeed: {service} stopped ({how}); restart {decision.in_window}/"
            f"{policy.max_restarts} within {policy.window_seconds} s\n"
        )
        return 0
    reason = None if sig == signal.SIGKILL else last_words(source_dir, service)
    cause = Cause(
        service=service,
        what=f"restart budget exhausted ({decision.in_window} exits within "
        f"{policy.window_seconds} s, max {policy.max_restarts} restarts)",
        exit_code=exit_code,
        container_exit_code=container_exit_code(exit_code, sig),
        signal=sig_name,
        time=now,
        reason=reason,
    )
    if record_cause(results_dir, cause):
        sys.stderr.write(cause.line() + "\n")
    sys.stderr.flush()
    halt(halt_how, scandir=str(service_dir.parent))
    return FINISH_DO_NOT_RESTART


def oneshot_last_words(captured: str | os.PathLike[str], secrets_dir: str | None) -> str | None:
    """A failed oneshot's own one-line reason, from its captured stderr (render.py's oneshot
    script tees it there; the script has waited for ``tee``, so the file is complete).

    The capture is raw -- what already went to the container log -- so it is redacted here
    as the log pipeline does (every secret file's value, Authorization headers, URL
    passwords; ADR 0053) and the file is replaced by its redacted tail: what stays on disk,
    like the reason, carries no secret (ADR 0148)."""
    from sealfeed.fsutil import atomic_write
    from sealfeed.log import redact
    from sealfeed.s6.logpipe import load_secret_values

    path = Path(captured)
    raw = _tail_lines(path)
    if raw is None:
        return None
    load_secret_values(secrets_dir)  # registers them with sealfeed.log.redact
    lines = [redact(ln) for ln in raw]
    with contextlib.suppress(OSError):
        atomic_write(path, "".join(ln + "\n" for ln in lines), mode=0o600)
    return telling_line(lines)


def oneshot_failed(
    *,
    service: str,
    status: int,
    results_dir: str,
    halt_how: str,
    scandir: str | None = None,
    captured: str | None = None,
    secrets_dir: str | None = None,
) -> int:
    """A oneshot exited non-zero: record why -- with its own last words from ``captured``,
    its stderr (:func:`oneshot_last_words`) -- and stop the appliance."""
    what = _ONESHOT_MEANING.get(service, {}).get(status, "oneshot failed")
    cause = Cause(
        service=service,
        what=what,
        exit_code=status,
        container_exit_code=container_exit_code(status, None),
        signal=None,
        time=time.time(),
        reason=oneshot_last_words(captured, secrets_dir) if captured else None,
    )
    if record_cause(results_dir, cause):
        sys.stderr.write(cause.line() + "\n")
    sys.stderr.flush()
    halt(halt_how, scandir=scandir)
    return cause.container_exit_code


def probe(target: str, timeout: float = 2.0) -> bool:
    """Readiness probe: HTTP(S) 2xx, or a TCP connect for ``tcp://host:port``."""
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    url = urllib.parse.urlsplit(target)
    if url.scheme == "tcp":
        try:
            with socket.create_connection((url.hostname or "127.0.0.1", url.port or 0), timeout):
                return True
        except OSError:
            return False
    if url.scheme not in ("http", "https"):
        return False
    try:
        with urllib.request.urlopen(target, timeout=timeout) as resp:  # noqa: S310 -- scheme checked
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


__all__ = [
    "FINISH_DO_NOT_RESTART",
    "KILLED_BY_SIGNAL",
    "Cause",
    "container_exit_code",
    "finish",
    "halt",
    "last_words",
    "oneshot_failed",
    "oneshot_last_words",
    "probe",
    "read_cause",
    "record_cause",
    "service_log",
    "telling_line",
]
