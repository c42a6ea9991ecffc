"""One VM of a DON placed on several: its service graph (only its nodes, the ``link`` longrun
before render and the nodes, ``SEALFEED_VM`` everywhere), the boot's refusals, and
``sealfeed status`` showing the link's peers."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from sealfeed.cli import main
from sealfeed.config import signing
from sealfeed.config.placement import local_view
from sealfeed.errors import InputError
from sealfeed.s6 import RenderOptions, check_tree, render_service_tree, write_tree
from sealfeed.s6.graph import LINK, build_services
from sealfeed.s6.runtime import local_runtime
from tests.multivm.solution import multi_vm_solution, parse

FOUR = (("vm-a", (1, 2), "10.9.0.2:7400"), ("vm-b", (3, 4), "10.9.0.3:7400"))


def services(vm: str | None, vms: Any = FOUR) -> dict[str, Any]:
    cfg = local_view(parse(multi_vm_solution(vms)), vm)
    return {s.name: s for s in build_services(cfg, RenderOptions(link_dir="/run/x/link"))}


def test_a_vm_runs_its_nodes_and_the_link() -> None:
    b = services("vm-b")
    nodes = sorted(n for n in b if n.startswith("chainlink-node-") and not n.endswith("-log"))
    assert nodes == ["chainlink-node-3", "chainlink-node-4"]
    assert {LINK, f"{LINK}-log", "postgres", "price-aggregator", "process-metrics"} <= set(b)
    link = b[LINK]
    # its push credentials come from secrets-import, which comes after config-verify
    assert link.type == "longrun" and link.dependencies == ("secrets-import",)
    assert link.argv[:3] == ("sealfeed", "link", "serve")
    assert link.argv[-6:] == ("--run-dir", "/run/x/link", "--notify-fd", "3",
                              "--user", "sealfeed-link")  # fmt: skip
    assert link.notification_fd == 3
    # started as root by s6 (it forks its quote helper), then it runs as sealfeed-link
    # (ADR 0145), reading its own copy of the exporter's push credentials (ADR 0146)
    assert link.user is None
    i = link.argv.index("--secrets-dir")
    assert link.argv[i + 1] == "/run/x/link/secrets"
    imp = b["secrets-import"].argv
    assert ("--owner", "link=sealfeed-link") in itertools.pairwise(imp)
    assert imp[-2:] == ("--reader-dir", "link=/run/x/link/secrets")
    render = b["chainlink-render"]
    assert "link" in render.dependencies
    assert render.argv[-2:] == ("--link-dir", "/run/x/link")
    # no bootstrap node here: the oracles wait for the link, not for each other
    assert b["chainlink-node-3"].dependencies == ("chainlink-render", "price-aggregator", "link")
    assert b["chainlink-node-4"].dependencies == ("chainlink-render", "price-aggregator", "link")
    # every service (not the loggers, not the bundle) knows which VM it is
    for name, svc in b.items():
        want = {} if svc.is_logger or svc.type == "bundle" else {"SEALFEED_VM": "vm-b"}
        assert {k: v for k, v in svc.env.items() if k == "SEALFEED_VM"} == want, name


def test_the_bootstrap_vm_keeps_the_node_order() -> None:
    a = services("vm-a")
    assert a["chainlink-node-2"].dependencies == (
        "chainlink-render", "price-aggregator", "link", "chainlink-node-1")  # fmt: skip
    assert "vm-b" in a[LINK].description


def test_one_vm_has_no_link() -> None:
    one = services(None, (("solo", (1, 2, 3), "10.9.0.2:7400"),))
    assert LINK not in one and all("SEALFEED_VM" not in s.env for s in one.values())
    assert "link=sealfeed-link" not in one["secrets-import"].argv
    assert "--reader-dir" not in one["secrets-import"].argv
    assert "--link-dir" not in one["chainlink-render"].argv


def test_several_vms_without_a_name_start_nothing() -> None:
    with pytest.raises(InputError, match="tell this VM its name"):
        services(None)


def test_the_rendered_tree_checks_and_oneshots_export_the_vm(tmp_path: Path) -> None:
    cfg = local_view(parse(multi_vm_solution(FOUR)), "vm-a")
    out = write_tree(render_service_tree(cfg, RenderOptions()), tmp_path / "tree")
    assert check_tree(out) == []
    script = (out / "scripts" / "chainlink-render").read_text()
    assert "export SEALFEED_VM=vm-a\n" in script
    assert "--link-dir /run/sealfeed/link" in script
    run = (out / "s6-rc.d" / "link" / "run").read_text()
    assert "export SEALFEED_VM=vm-a\n" in run and "sealfeed link serve" in run
    assert (out / "s6-rc.d" / "link" / "notification-fd").read_text() == "3\n"


def _signed(tmp: Path, sol: dict[str, Any]) -> tuple[Path, Path]:
    key = signing.generate_key(signing.Scheme.REFERENCE)
    sol = dict(sol, signature=signing.sign_reference(sol, key))
    cfg, pub = tmp / "configuration.json", tmp / "owner.pub"
    cfg.write_text(json.dumps({"solution": sol}))
    pub.write_bytes(signing.public_key_pem(key.public()))
    return cfg, pub


def test_the_boot_refuses_a_missing_or_unknown_vm_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SEALFEED_VM", raising=False)
    cfg, pub = _signed(tmp_path, multi_vm_solution(FOUR))
    results = tmp_path / "results"

    def argv(cfg: Path, pub: Path) -> list[str]:
        return ["s6", "render", "--config", str(cfg), "--pubkey", str(pub), "--out",
                str(tmp_path / "tree"), "--record-cause", str(results)]  # fmt: skip

    base = argv(cfg, pub)
    assert main(base) == 2
    cause = json.loads((results / "cause.json").read_text())
    assert "tell this VM its name" in cause["line"]
    assert main([*base, "--vm", "vm-z"]) == 2
    assert "'vm-z' is not a VM of sealfeed.placement (vm-a, vm-b)" in capsys.readouterr().err
    monkeypatch.setenv("SEALFEED_VM", "vm-b")  # /init exports it from the order input
    assert main([*base, "--json"]) == 0
    assert "link" in json.loads(capsys.readouterr().out)["services"]
    # an allow-list the link cannot use is refused at boot, not when the link starts
    sol = multi_vm_solution(FOUR, link={"acceptedTcbStatuses": ["Fine"]})
    cfg, pub = _signed(tmp_path, sol)
    assert main(argv(cfg, pub)) == 2
    assert "sealfeed.link.acceptedTcbStatuses" in capsys.readouterr().err


def test_status_shows_the_links_peers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    (state / "run" / "service").mkdir(parents=True)
    link = Path(local_runtime(state).link_dir)
    link.mkdir(parents=True)
    now = time.time()
    (link / "status.json").write_text(json.dumps({
        "vm": "vm-b", "updated": now, "listen": {"listen": "10.9.0.3:7400"},
        "peers": [
            {"name": "vm-a", "verified": True, "last_verified": now - 2,
             "admission": {"measurement_id": "sealfeed-test"}, "tunnels": {"outbound": 1}},
            {"name": "vm-c", "verified": False, "last_verified": None,
             "last_failure": {"reason": "debug", "detail": "a debug TD"}},
        ]}))  # fmt: skip
    assert main(["status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    line_a = next(ln for ln in out.splitlines() if ln.startswith("vm-a"))
    line_c = next(ln for ln in out.splitlines() if ln.startswith("vm-c"))
    assert "yes" in line_a and "sealfeed-test" in line_a
    assert "NO" in line_c and "debug: a debug TD" in line_c
    assert main(["status", "--state-dir", str(state), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["link"]["peers"]] == ["vm-a", "vm-c"]
    # an appliance without a link has no peers section
    (link / "status.json").unlink()
    assert main(["status", "--state-dir", str(state), "--json"]) == 0
    assert "link" not in json.loads(capsys.readouterr().out)


def test_up_refuses_a_vm_of_several_without_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SEALFEED_VM", raising=False)
    cfg, pub = _signed(tmp_path, multi_vm_solution(FOUR))
    state = tmp_path / "state"
    argv = ["up", "--config", str(cfg), "--pubkey", str(pub), "--state-dir", str(state)]
    assert main(argv) == 2
    assert "--vm: this configuration places the DON on several VMs" in capsys.readouterr().err
    cause = json.loads(
        (state / "run" / "s6-linux-init-container-results" / "cause.json").read_text()
    )
    assert "tell this VM its name" in cause["line"]
    assert not (state / "run" / "service").exists()  # nothing was started
