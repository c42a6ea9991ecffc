"""Pure renderer + validator: 1, 5 and 16 nodes, and the checker's failure modes."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from sealfeed.cli import main
from sealfeed.config.model import ApplianceConfig, RestartPolicy
from sealfeed.errors import InputError
from sealfeed.s6 import RenderOptions, check_tree, render_service_tree, write_tree
from sealfeed.s6.budget import Ledger, load_ledger, record_exit, save_ledger
from sealfeed.s6.graph import shutdown_layers
from sealfeed.s6.local import scandir_tree
from tests.fixtures.s6 import s6_make_config


@pytest.mark.parametrize("nodes", [1, 5, 16])
def test_render_and_check(tmp_path: Path, nodes: int) -> None:
    cfg = s6_make_config(nodes)
    tree = render_service_tree(cfg, RenderOptions())  # type: ignore[arg-type]
    out = write_tree(tree, tmp_path / "s6-overlay")
    assert check_tree(out) == []
    src = out / "s6-rc.d"
    longruns = ["postgres", "price-aggregator", "process-metrics"] + [
        f"chainlink-node-{i}" for i in range(1, nodes + 1)
    ]
    for name in longruns:
        assert (src / name / "type").read_text() == "longrun\n"
        assert (src / name / "producer-for").read_text() == f"{name}-log\n"
        assert (src / f"{name}-log" / "consumer-for").read_text() == f"{name}\n"
        assert os.access(src / name / "run", os.X_OK)
        assert os.access(src / name / "finish", os.X_OK)
        assert (src / "user" / "contents.d" / name).exists()
    for name in ["config-verify", "postgres-bootstrap", "postgres-init", "chainlink-render"]:
        assert (src / name / "type").read_text() == "oneshot\n"
        assert (src / name / "up").read_text() == f"/etc/s6-overlay/scripts/{name}\n"
    # self-contained: no s6-overlay `base` bundle (ADR 0100), the root depends on nothing
    assert not (src / "config-verify" / "dependencies.d").exists()
    # node N: its own ports, user, workdir; oracles wait for the bootstrap node
    for i in range(1, nodes + 1):
        run = (src / f"chainlink-node-{i}" / "run").read_text()
        assert f"s6-setuidgid chainlink-{i} chainlink node" in run
        assert f"/chainlink/node-{i}/config.toml" in run
        check = (src / f"chainlink-node-{i}" / "data" / "check").read_text()
        assert f"http://127.0.0.1:{6600 + i}/health" in check
        deps = sorted(p.name for p in (src / f"chainlink-node-{i}" / "dependencies.d").iterdir())
        expected = ["chainlink-render", "price-aggregator"] + (
            ["chainlink-node-1"] if i > 1 else []
        )
        assert deps == sorted(expected)
    assert (src / "postgres" / "down-signal").read_text() == "SIGINT\n"
    # every script line that runs something is parseable POSIX sh with quoted values
    for script in out.rglob("*"):
        if script.is_file() and os.access(script, os.X_OK):
            text = script.read_text()
            assert text.startswith("#!/bin/sh\n")
            for line in text.splitlines():
                if line.startswith("exec "):
                    shlex.split(line)
    # the local-mode conversion of the same tree has one service dir per longrun/oneshot
    sd = scandir_tree(out)
    assert f"chainlink-node-{nodes}/log/run" in sd.files
    assert "config-verify/run" in sd.files


def test_render_is_deterministic_and_pure() -> None:
    cfg = s6_make_config(5)
    a = render_service_tree(cfg)  # type: ignore[arg-type]
    b = render_service_tree(cfg)  # type: ignore[arg-type]
    assert a.files == b.files and a.modes == b.modes


def test_hostile_values_are_quoted(tmp_path: Path) -> None:
    cfg = s6_make_config(1, data_dir="/data/$(touch /tmp/pwned) dir;x")
    tree = render_service_tree(cfg)  # type: ignore[arg-type]
    run = tree.files["s6-rc.d/postgres/run"].decode()
    assert "'/data/$(touch /tmp/pwned) dir;x'" in run


def test_nodes_never_root() -> None:
    cfg = s6_make_config(2)
    with pytest.raises(InputError, match="never run as root"):
        render_service_tree(cfg, RenderOptions(users={"chainlink-node-2": "root"}))  # type: ignore[arg-type]


def test_shutdown_order_nodes_before_postgres() -> None:
    tree = render_service_tree(s6_make_config(3))  # type: ignore[arg-type]
    layers = shutdown_layers(tree.services)
    flat = [n for layer in layers for n in layer]
    pos = {n: i for i, layer in enumerate(layers) for n in layer}
    assert pos["chainlink-node-2"] < pos["chainlink-node-1"] < pos["postgres"]
    assert pos["chainlink-node-1"] < pos["price-aggregator"]
    assert pos["postgres-init"] < pos["postgres"] < pos["postgres-bootstrap"]
    assert flat[-1] == "config-verify"
    assert not any(n.endswith("-log") for n in flat)


def _tree(tmp_path: Path) -> Path:
    return write_tree(render_service_tree(s6_make_config(2)), tmp_path / "t")  # type: ignore[arg-type]


def test_check_finds_problems(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    src = root / "s6-rc.d"
    (src / "postgres-init" / "dependencies.d" / "nonexistent").write_text("")
    (src / "price-aggregator" / "run").chmod(0o644)
    (src / "process-metrics" / "producer-for").unlink()
    (src / "postgres-bootstrap" / "dependencies.d" / "postgres-init").write_text("")  # cycle
    bad = src / "Bad_Name"
    bad.mkdir()
    (bad / "type").write_text("daemon\n")
    msgs = [str(p) for p in check_tree(root)]
    joined = "\n".join(msgs)
    assert "postgres-init: dependency 'nonexistent' is not defined in this tree" in joined
    assert "price-aggregator: run missing or not executable" in joined
    assert "process-metrics: longrun has no logger" in joined
    assert "dependency cycle" in joined and "postgres-bootstrap" in joined
    assert "Bad_Name: illegal service name" in joined
    assert "type must be one of" in joined


def test_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(tmp_path)
    assert main(["s6", "check", str(root)]) == 0
    (root / "s6-rc.d" / "postgres" / "run").unlink()
    assert main(["s6", "check", "--json", str(root)]) == 1
    out = capsys.readouterr().out
    assert '"ok": false' in out and "run missing" in out
    assert main(["s6", "check", str(tmp_path / "nothing")]) == 2


def test_budget_sliding_window() -> None:
    policy = RestartPolicy(max_restarts=3, window_seconds=300)
    led = Ledger()
    for t in (0.0, 10.0, 20.0):
        d = record_exit(led, t, policy)
        assert not d.exhausted
        led = d.ledger
    assert led.total == 3 and led.last_restart == 20
    assert record_exit(led, 30.0, policy).exhausted  # 4th inside the window
    # the same crashes spread out: old ones fall out of the window
    d = record_exit(led, 400.0, policy)
    assert not d.exhausted and d.in_window == 1 and d.ledger.total == 4


def test_ledger_files_roundtrip_and_tolerate_garbage(tmp_path: Path) -> None:
    led = Ledger(total=2, last_restart=1700000000, window=(1.5, 2.5))
    save_ledger(tmp_path, led)
    assert (tmp_path / "restart-count").read_text() == "2\n"
    assert (tmp_path / "last-restart").read_text() == "1700000000\n"
    assert load_ledger(tmp_path) == led
    (tmp_path / "restart-count").write_text("garbage")
    (tmp_path / "restart-window").write_text("x\n3.0\n")
    assert load_ledger(tmp_path) == Ledger(0, 1700000000, (3.0,))


def test_render_cli_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the configuration is handed in through the CLI's seam; the rest is real
    def four_nodes(args: object) -> ApplianceConfig:
        return s6_make_config(4)

    out = tmp_path / "overlay"
    rc = main(
        [
            "s6",
            "render",
            "--config",
            "/sp/c.json",
            "--pubkey",
            "/k.der",
            "--out",
            str(out),
            "--json",
        ],
        load_config=four_nodes,
    )
    assert rc == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert "chainlink-node-4" in doc["services"] and doc["files"] > 100
    verify = (out / "scripts" / "config-verify").read_text()
    assert "sealfeed config verify /sp/c.json --pubkey /k.der" in verify
    assert main(["s6", "check", str(out)]) == 0
    # rendering again replaces the tree atomically (no stale files survive)
    (out / "stale").write_text("x")
    argv = ["s6", "render", "--config", "/sp/c.json", "--out", str(out)]
    assert main(argv, load_config=four_nodes) == 0
    assert not (out / "stale").exists()


def test_first_cause_wins(tmp_path: Path) -> None:
    from sealfeed.s6.hooks import Cause, read_cause, record_cause

    first = Cause("postgres", "restart budget exhausted", 256, 137, "SIGKILL", 1.0)
    later = Cause("price-aggregator", "restart budget exhausted", 1, 1, None, 2.0)
    assert record_cause(tmp_path, first)
    assert not record_cause(tmp_path, later)
    doc = read_cause(tmp_path)
    assert doc is not None and doc["service"] == "postgres"
    assert (tmp_path / "exitcode").read_text() == "137\n"
    assert (
        (tmp_path / "cause")
        .read_text()
        .startswith(
            "sealfeed: appliance stopped: postgres: restart budget exhausted (signal SIGKILL)"
        )
    )


def test_render_records_cause_when_config_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sealfeed.errors import VerificationError

    def reject(args: object) -> ApplianceConfig:
        raise VerificationError("signature does not verify", location="/sp/c.json")

    results = tmp_path / "results"
    argv = ["s6", "render", "--config", "/sp/c.json", "--out", str(tmp_path / "o")]
    assert main([*argv, "--record-cause", str(results)], load_config=reject) == 1
    assert "signature does not verify" in capsys.readouterr().err
    assert (results / "exitcode").read_text() == "1\n"
    assert "config-verify: configuration rejected" in (results / "cause").read_text()
    assert not (tmp_path / "o").exists()


def test_check_rejects_names_the_tree_does_not_define(tmp_path: Path) -> None:
    """s6-rc-compile refuses an undefined name ("undefined service name base"): so does the
    checker, with no list of "external" names to hide one behind (issue #21, ADR 0100)."""
    root = _tree(tmp_path)
    src = root / "s6-rc.d"
    (src / "config-verify" / "dependencies.d").mkdir()
    (src / "config-verify" / "dependencies.d" / "base").write_text("")
    (src / "user" / "contents.d" / "legacy-cont-init").write_text("")
    reserved = src / "s6rc-mine"
    reserved.mkdir()
    (reserved / "type").write_text("bundle\n")
    (reserved / "contents.d").mkdir()
    (reserved / "contents.d" / "postgres").write_text("")
    (src / "postgres-log" / "pipeline-name").write_text("price-aggregator\n")
    msgs = "\n".join(map(str, check_tree(root)))
    assert "config-verify: dependency 'base' is not defined in this tree" in msgs
    assert "user: bundle member 'legacy-cont-init' is not defined in this tree" in msgs
    assert "s6rc-mine: names starting with s6rc- or s6-rc- are reserved by s6-rc" in msgs
    assert "postgres-log: pipeline-name 'price-aggregator' collides" in msgs
