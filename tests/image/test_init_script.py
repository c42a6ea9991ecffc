"""pkgs/init: the image's PID 1 script, run against a real s6-svscan (Debian s6 2.11).

s6-rc is not packaged by Debian, so `s6-rc-compile`, `s6-rc-init`, `s6-rc` and `sealfeed` are
stubs that log their argv; s6-svscan, s6-svscanctl and the signal/finish protocol are real.
The script is substituted exactly as pkgs/init/default.nix does (@shell@, @path@, @run@,
@tree@), with a temp dir instead of /run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INIT_DIR = ROOT / "pkgs" / "init"

pytestmark = pytest.mark.skipif(
    shutil.which("s6-svscan") is None or shutil.which("s6-svscanctl") is None,
    reason="SKIPPED LOUDLY: s6-svscan/s6-svscanctl not installed (apt-get install s6)",
)

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $1 $2" in
  "sealfeed config verify")
    exit "${{STUB_VERIFY_RC:-0}}" ;;
  "sealfeed s6 render")
    while [ "$#" -gt 0 ]; do
      [ "$1" = --out ] && mkdir -p "$2/s6-rc.d"
      shift
    done ;;
  "sealfeed s6 check")
    echo "key=$CONFIGURATION_PUBLIC_KEY" >> "{log}"
    exit "${{STUB_CHECK_RC:-0}}" ;;
  s6-rc-compile*)
    mkdir -p "$1" ;;
  s6-rc*)
    case "$*" in *" -u change user") exit "${{STUB_UP_RC:-0}}" ;; esac ;;
esac
exit 0
"""
KEY = "MCowBQYDK2VwAyEAZKXzFe1UMZDEmPOL6mC2Q/sQiGOqMvSq51gSmbDqy8Q="


def _install(tmp: Path, baked: bool = False) -> tuple[Path, Path, Path]:
    bin_dir, run_dir, log = tmp / "bin", tmp / "run", tmp / "calls.log"
    bin_dir.mkdir()
    run_dir.mkdir()
    log.touch()
    (tmp / "pubkey").write_text(KEY + "\n")
    if baked:
        (tmp / "etc-s6-overlay" / "s6-rc.d").mkdir(parents=True)
    for name in ("sealfeed", "s6-rc-compile", "s6-rc-init", "s6-rc"):
        p = bin_dir / name
        p.write_text(STUB.format(log=log))
        p.chmod(0o755)
    real = os.pathsep.join(
        d for d in {os.path.dirname(shutil.which(b) or "") for b in ("s6-svscan", "sleep")} if d
    )
    path = f"{bin_dir}:{real}:/usr/bin:/bin"
    for src, dst in (("init.sh", "sealfeed-init"), ("halt.sh", "sealfeed-halt")):
        text = (INIT_DIR / src).read_text()
        for key, value in (
            ("@shell@", "/bin/sh"),
            ("@path@", path),
            ("@run@", str(run_dir)),
            ("@treeroot@", str(tmp / "etc-s6-overlay")),
            ("@pubkey@", str(tmp / "pubkey")),
        ):
            text = text.replace(key, value)
        assert "@" not in text.replace("$@", ""), f"unsubstituted variable in {src}"
        (bin_dir / dst).write_text(text)
        (bin_dir / dst).chmod(0o755)
    return bin_dir, run_dir, log


def _start(bin_dir: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(bin_dir / "sealfeed-init")],
        # an injected key must not win over the image's file
        env={"PATH": "/usr/bin:/bin", "CONFIGURATION_PUBLIC_KEY": "attacker", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for(log: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"{needle!r} never logged; calls: {log.read_text()!r}")


def _finish(proc: subprocess.Popen[bytes], timeout: float = 10) -> tuple[int, str]:
    try:
        _out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err.decode()


def test_unverified_config_starts_nothing(tmp_path: Path) -> None:
    bin_dir, run_dir, log = _install(tmp_path)
    rc, err = _finish(_start(bin_dir, STUB_VERIFY_RC="1"))
    assert rc == 1
    assert "configuration did not verify; nothing was started" in err
    assert log.read_text().splitlines() == [
        f"sealfeed config verify /sp/configurations/configuration.json --pubkey {tmp_path}/pubkey"
    ]
    assert (run_dir / "s6-linux-init-container-results" / "exitcode").read_text() == "1\n"


def test_start_then_sigterm_stops_in_order_and_exits_0(tmp_path: Path) -> None:
    bin_dir, run_dir, log = _install(tmp_path)
    proc = _start(bin_dir)
    try:
        _wait_for(log, "-u change user", proc)
        os.kill(proc.pid, signal.SIGTERM)  # docker stop: the signal goes to PID 1 = s6-svscan
        rc, _err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    calls = log.read_text().splitlines()
    config, key, tree = (
        "/sp/configurations/configuration.json",
        f"{tmp_path}/pubkey",
        f"{run_dir}/s6/tree",
    )
    assert calls == [
        f"sealfeed config verify {config} --pubkey {key}",
        f"sealfeed s6 render --config {config} --pubkey {key} --mode image --out {tree} "
        f"--tree-root {tree}",
        f"sealfeed s6 check {tree}",
        f"key={KEY}",
        f"s6-rc-compile {run_dir}/s6/compiled {tree}/s6-rc.d",
        f"s6-rc-init -c {run_dir}/s6/compiled -l {run_dir}/s6/rc {run_dir}/service",
        f"s6-rc -l {run_dir}/s6/rc -u change user",
        f"s6-rc -l {run_dir}/s6/rc -b -da change",
    ]
    assert rc == 0
    halt = run_dir / "s6" / "basedir" / "bin" / "halt"  # s6-overlay's path, for finish scripts
    assert halt.is_symlink() and os.readlink(halt) == str(bin_dir / "sealfeed-halt")


def test_baked_tree_is_used_without_rendering(tmp_path: Path) -> None:
    bin_dir, run_dir, log = _install(tmp_path, baked=True)
    rc, _err = _finish(_start(bin_dir, STUB_UP_RC="1"))
    calls = log.read_text()
    assert "s6 render" not in calls
    assert f"sealfeed s6 check {tmp_path}/etc-s6-overlay\n" in calls
    assert f"s6-rc-compile {run_dir}/s6/compiled {tmp_path}/etc-s6-overlay/s6-rc.d" in calls
    assert rc == 1


def test_invalid_tree_starts_nothing(tmp_path: Path) -> None:
    bin_dir, _run_dir, log = _install(tmp_path)
    rc, err = _finish(_start(bin_dir, STUB_CHECK_RC="1"))
    assert rc == 1
    assert "the service tree is invalid" in err
    assert "s6-rc-compile" not in log.read_text()


def test_failed_start_halts_with_exit_1(tmp_path: Path) -> None:
    bin_dir, run_dir, log = _install(tmp_path)
    rc, err = _finish(_start(bin_dir, STUB_UP_RC="1"))
    assert rc == 1
    assert "the user bundle failed to start" in err
    assert log.read_text().splitlines()[-1] == f"s6-rc -l {run_dir}/s6/rc -b -da change"


def test_recorded_exit_code_becomes_the_container_status(tmp_path: Path) -> None:
    """A service that exhausted its restart budget writes the code and halts (s6 issue)."""
    bin_dir, run_dir, log = _install(tmp_path)
    proc = _start(bin_dir)
    try:
        _wait_for(log, "-u change user", proc)
        (run_dir / "s6-linux-init-container-results" / "exitcode").write_text("42\n")
        subprocess.run([str(bin_dir / "sealfeed-halt")], check=True, timeout=10)
        rc, _err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 42
