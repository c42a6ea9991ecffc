"""The stop cause's "last words" (hooks.py) and local mode's s6-svscan control scripts
(local.py): the pure parts, the finish hook against a real rendered tree + log file, and a
rendered oneshot script run by sh with the real halt hook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sealfeed.config.model import RestartPolicy
from sealfeed.s6.hooks import (
    FINISH_DO_NOT_RESTART,
    REASON_MAX,
    finish,
    last_words,
    read_cause,
    service_log,
    telling_line,
)
from sealfeed.s6.local import svscan_control_files
from sealfeed.s6.model import RenderOptions
from sealfeed.s6.render import ONESHOT_STDERR_DIR, render_service_tree
from sealfeed.s6.tree import write_tree
from tests.fixtures.s6 import s6_make_config

STAMP = "2026-12-04 01:26:24.787447866  "


def test_telling_line_prefers_sealfeeds_own_error_line() -> None:
    lines = [
        STAMP + '{"level": "info", "event": "starting"}',
        STAMP + "sealfeed: /sp/configurations/configuration.json: signature does not verify",
        STAMP + '{"level": "info", "event": "exiting"}',
    ]
    assert telling_line(lines) == (
        "sealfeed: /sp/configurations/configuration.json: signature does not verify"
    )


def test_telling_line_json_error_and_postgres_fatal() -> None:
    chainlink = '{"level":"error","ts":1.0,"msg":"unable to open database","error":"dial tcp"}'
    assert telling_line([STAMP + chainlink, STAMP + '{"level":"info","msg":"bye"}']) == (
        "unable to open database: dial tcp"
    )
    pg = "2026-12-04 01:26:27.638 UTC [15043] FATAL:  could not create lock file"
    said = telling_line([STAMP + pg, STAMP + "LOG:  database system is shut down"])
    assert said == " ".join(pg.split())  # one line, whitespace collapsed


def test_telling_line_falls_back_to_the_last_line_and_clips() -> None:
    assert telling_line([STAMP + "first", STAMP + "  last   words  ", STAMP]) == "last words"
    assert telling_line([]) is None
    long = telling_line(["x" * 1000])
    assert long is not None and len(long) == REASON_MAX and long.endswith("...")


def _tree(tmp: Path) -> Path:
    cfg = s6_make_config(1, log_dir=str(tmp / "log"))
    root = tmp / "tree"
    write_tree(render_service_tree(cfg, RenderOptions(mode="local", tree_root=str(root))), root)
    return root / "s6-rc.d"


def test_finish_puts_the_services_last_words_into_the_cause(tmp_path: Path) -> None:
    """The finish hook finds the service's log through the manifest next to the source dir
    (both modes export SEALFEED_S6_SOURCE_DIR) and the cause line carries the reason."""
    source = _tree(tmp_path)
    log = service_log(source, "price-aggregator")
    assert log == tmp_path / "log" / "price-aggregator" / "current"
    log.parent.mkdir(parents=True)
    said = "sealfeed: /c.json: signature does not verify with the trusted key"
    log.write_text(f'{STAMP}{{"level": "info", "event": "ready"}}\n{STAMP}{said}\n')
    (tmp_path / "svc").mkdir()
    kw = {
        "service": "price-aggregator",
        "exit_code": 1,
        "sig": None,
        "policy": RestartPolicy(max_restarts=0, window_seconds=300),
        "run_service_dir": str(tmp_path / "run"),
        "results_dir": str(tmp_path / "results"),
        "halt_how": "none",
        "service_dir": tmp_path / "svc",
        "source_dir": str(source),
    }
    assert finish(**kw) == FINISH_DO_NOT_RESTART  # type: ignore[arg-type]
    cause = read_cause(tmp_path / "results")
    assert cause is not None and cause["reason"] == said
    assert "(exit 1) at " in str(cause["line"])
    assert str(cause["line"]).endswith(f"; its last words: {said}; container exit code 1")


def test_a_sigkill_has_no_last_words(tmp_path: Path) -> None:
    source = _tree(tmp_path)
    log = service_log(source, "price-aggregator")
    assert log is not None
    log.parent.mkdir(parents=True)
    log.write_text(STAMP + '{"level": "info", "event": "request served"}\n')
    (tmp_path / "svc").mkdir()
    finish(
        service="price-aggregator",
        exit_code=256,
        sig=9,
        policy=RestartPolicy(max_restarts=0, window_seconds=300),
        run_service_dir=str(tmp_path / "run"),
        results_dir=str(tmp_path / "results"),
        halt_how="none",
        service_dir=tmp_path / "svc",
        source_dir=str(source),
    )
    cause = read_cause(tmp_path / "results")
    assert cause is not None and cause["reason"] is None and cause["signal"] == "SIGKILL"
    assert "last words" not in str(cause["line"])


def test_last_words_without_a_tree_or_log(tmp_path: Path) -> None:
    assert last_words(None, "x") is None
    assert last_words(tmp_path / "s6-rc.d", "x", timeout=0.1) is None  # no manifest
    source = _tree(tmp_path)
    assert last_words(source, "price-aggregator", timeout=0.2) is None  # no log yet
    assert last_words(source, "config-verify", timeout=0.1) is None  # a oneshot: no logger
    (source.parent / "sealfeed-services.json").write_text("{not json")
    assert last_words(source, "price-aggregator", timeout=0.1) is None


def test_svscan_control_scripts(tmp_path: Path) -> None:
    files = svscan_control_files(
        [["chainlink-node-2"], ["chainlink-node-1"], ["postgres", "price-aggregator"]],
        ["postgres/log", "price-aggregator/log"],
        {"chainlink-node-2": 35.0, "postgres": 15.0},
        marker="SEALFEED_UP_STATE=/st ate",
        owner_pid=4242,
        leftovers_file="/st ate/run/leftovers",
    )
    down = files[".s6-svscan/SIGTERM"].decode()
    order = [ln for ln in down.splitlines() if ln.startswith("down ")]
    assert order == [
        "down 35000 chainlink-node-2",
        "down 10000 chainlink-node-1",
        "down 15000 postgres price-aggregator",
        "down 10000 postgres/log price-aggregator/log",
    ]
    assert down.rstrip().endswith("exec s6-svscanctl -t .")
    fin = files[".s6-svscan/finish"].decode()
    assert "unset SEALFEED_UP_STATE" in fin and "= 4242 ] && exit 0" in fin
    assert "grep -qxF 'SEALFEED_UP_STATE=/st ate'" in fin
    assert ">> '/st ate/run/leftovers'" in fin
    for name, text in files.items():
        if shutil.which("sh"):
            script = tmp_path / name.replace("/", "_")
            script.write_text(text.decode())
            r = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
            assert r.returncode == 0, (name, r.stderr)


def _oneshot(tmp: Path, shell: str) -> tuple[Path, Path, Path]:
    """The rendered ``postgres-init`` oneshot script running ``shell`` instead of
    ``pg provision`` (everything else as rendered: capture, log level, the real halt hook)."""
    secrets = tmp / "secrets"
    (secrets / "postgres").mkdir(parents=True)
    (secrets / "postgres" / "superuser.password").write_text("pg-Secret-0123456789\n")
    results = tmp / "results"
    opts = RenderOptions(
        mode="local",
        tree_root=str(tmp / "tree"),
        results_dir=str(results),
        run_service_dir=str(tmp / "run"),
        halt="none",
        secrets_dir=str(secrets),
        sealfeed_argv=(sys.executable, "-m", "sealfeed"),
        drop_privileges=False,
        commands={"postgres-init": ("sh", "-c", shell)},
    )
    tree = render_service_tree(s6_make_config(1, log_dir=str(tmp / "log")), opts)
    write_tree(tree, tmp / "tree")
    return tmp / "tree" / "scripts" / "postgres-init", results, secrets


def test_a_failed_oneshot_cause_carries_its_own_redacted_last_words(tmp_path: Path) -> None:
    """ADR 0148: the oneshot's stderr still reaches the container log (the script's stderr)
    and is captured; the halt hook puts its telling line, redacted, into the cause, and only
    the redacted tail stays on disk."""
    script, results, _ = _oneshot(
        tmp_path,
        "echo 'node 1: created role' ; "
        'echo \'{"level": "warning", "event": "slow"}\' >&2; '
        "echo 'sealfeed: /sp/postgresql/data: cannot connect as postgres with pg-Secret-0123456789'"
        " >&2; echo 'a trailing remark' >&2; exit 2",
    )
    r = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "node 1: created role" in r.stdout  # the report: untouched
    assert "cannot connect as postgres with pg-Secret" in r.stderr  # live, as before
    said = "sealfeed: /sp/postgresql/data: cannot connect as postgres with ***"
    cause = read_cause(results)
    assert cause is not None and cause["reason"] == said, cause
    assert cause["service"] == "postgres-init" and cause["exit_code"] == 2
    assert str(cause["line"]).startswith(
        "sealfeed: appliance stopped: postgres-init: oneshot failed"
    )
    assert f"; its last words: {said}; container exit code 2" in str(cause["line"])
    assert str(cause["line"]) in r.stderr  # the cause line itself in the container log
    kept = results / ONESHOT_STDERR_DIR / "postgres-init.stderr"
    assert "pg-Secret" not in kept.read_text() and "a trailing remark" in kept.read_text()
    assert kept.stat().st_mode & 0o777 == 0o600
    assert not kept.with_name("postgres-init.stderr.fifo").exists()


def test_a_oneshot_that_succeeds_leaves_nothing_and_logs_at_warning(tmp_path: Path) -> None:
    """Issue #19 / ADRs 0129, 0148: the oneshot's report already names each step, so its own
    log level defaults to WARNING in both modes (the script is shared); an operator's
    SEALFEED_LOG_LEVEL wins."""
    script, results, _ = _oneshot(tmp_path, 'echo "level=$SEALFEED_LOG_LEVEL"; echo note >&2')
    r = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "level=WARNING\n", "note\n")
    assert list((results / ONESHOT_STDERR_DIR).iterdir()) == []
    assert read_cause(results) is None
    env = {**os.environ, "SEALFEED_LOG_LEVEL": "DEBUG"}
    r = subprocess.run(["sh", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout == "level=DEBUG\n"
    # the local-mode stand-in runs the very same script
    from sealfeed.s6.local import scandir_tree

    scan = scandir_tree(tmp_path / "tree")
    assert str(script) in scan.files["postgres-init/run"].decode()
    assert "SEALFEED_LOG_LEVEL" not in scan.files["price-aggregator/run"].decode()


def test_a_oneshot_without_mkfifo_runs_uncaptured(tmp_path: Path) -> None:
    """No FIFO (no mkfifo, a read-only results dir): the oneshot still runs and fails with
    its exit-code meaning, just without last words."""
    script, results, _ = _oneshot(tmp_path, "echo 'sealfeed: x: broken' >&2; exit 3")
    results.mkdir()
    (results / ONESHOT_STDERR_DIR).write_text("not a directory")
    r = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "sealfeed: x: broken" in r.stderr
    cause = read_cause(results)
    assert cause is not None and cause["reason"] is None and cause["exit_code"] == 3
