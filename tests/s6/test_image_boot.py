"""The image's own PID 1 (pkgs/init) booted for real (issue #21).

``init.sh``/``halt.sh`` substituted exactly as pkgs/init/default.nix does, for a temporary root
(:class:`tests.fixtures.s6.ImageRoot`), run as PID 1 of its own PID + mount namespace
(``unshare --fork --pid --mount-proc``) with the real s6 2.15 / s6-rc 0.6 / execline built
from ../shared/skarnet, real PostgreSQL, the real ``sealfeed`` (config verify, render, pg
bootstrap/provision, chainlink render, aggregator, exporter) under the image's accounts, and a
stand-in only for the Chainlink binary (tests/s6/chainlink_standin.py). Service order is read
from s6-rc's own transition log (``-v2``) and checked edge by edge against the rendered
manifest -- the runtime description both modes share.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sealfeed.s6.supervise import read_supervise_status
from tests.fixtures.s6 import MARKER_ENV, ImageRoot, Transition

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

STARTED = "sealfeed-init: all services started"


def _edges(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(service, dependency) for every dependency edge of the rendered graph."""
    return [(s["name"], d) for s in manifest["services"] for d in s["dependencies"]]


def _first(transitions: list[Transition]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for t in transitions:
        out.setdefault((t.name, t.what), t.index)
    return out


def assert_started_in_dependency_order(img: ImageRoot, manifest: dict[str, Any]) -> None:
    seen = _first(img.transitions())
    for svc in manifest["services"]:
        assert (svc["name"], "successfully started") in seen, f"{svc['name']} never started"
    for svc, dep in _edges(manifest):
        assert seen[(dep, "successfully started")] < seen[(svc, "starting")], (
            f"{svc} started before its dependency {dep} was up (and ready)"
        )
    for svc in manifest["services"]:
        if svc["logger"]:  # the logger reads the pipe before its producer writes to it
            assert seen[(svc["logger"], "successfully started")] < seen[(svc["name"], "starting")]


def assert_stopped_in_reverse_order(img: ImageRoot, manifest: dict[str, Any]) -> None:
    lines = img.log().splitlines()
    boot_end = next(i for i, line in enumerate(lines) if STARTED in line)
    seen = _first([t for t in img.transitions() if t.index > boot_end])
    for svc, dep in _edges(manifest):
        if (dep, "stopping") in seen:
            assert seen[(svc, "successfully stopped")] < seen[(dep, "stopping")], (
                f"{dep} was stopped while {svc}, which depends on it, still ran"
            )
    for svc in manifest["services"]:
        if svc["logger"]:  # the logger drains everything its service wrote
            assert seen[(svc["name"], "successfully stopped")] < seen[(svc["logger"], "stopping")]


def _uid(host_pid: int) -> int:
    for line in Path(f"/proc/{host_pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid for {host_pid}")


def _host_pid_of(img: ImageRoot, service: str) -> int:
    st = img.status(service)
    assert st is not None and st.up, f"{service} not up: {st}"
    return img.host_pid(st.pid)


def _http(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return int(resp.status), resp.read().decode()


def _wait(pred: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _http_status(url: str) -> tuple[int, str]:
    """Like _http, but an HTTP error status is an answer, not an exception."""
    import urllib.error

    try:
        return _http(url)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _family_services(body: str, family: str) -> set[str]:
    import re

    return set(re.findall(family + r'\{[^}]*service="([^"]+)"', body))


def assert_io_and_fds_for_every_service(img: ImageRoot) -> None:
    """Issue #19 b: the exporter (dropped to `sealfeed`) reports I/O and open fds for every
    service's processes -- PostgreSQL's, the Chainlink stand-ins' (chainlink-N), the loggers'
    (sealfeed-log) and s6's own (root) -- through its privileged /proc reader (ADR 0133).
    Before, only the two `sealfeed` services had them."""

    def complete() -> bool:
        body = _http(f"http://127.0.0.1:{img.exp_port}/metrics")[1]
        with_procs = _family_services(body, "chainlink_process_cpu_seconds_total")
        return bool(with_procs) and all(
            with_procs <= _family_services(body, fam)
            for fam in ("chainlink_process_open_fds", "chainlink_process_read_bytes_total",
                        "chainlink_process_write_bytes_total")
        )  # fmt: skip

    _wait(complete, "io/fd metrics for every service", 30)
    body = _http(f"http://127.0.0.1:{img.exp_port}/metrics")[1]
    with_procs = _family_services(body, "chainlink_process_cpu_seconds_total")
    assert {"postgres", "chainlink-node-1", "chainlink-node-2", "postgres-log",
            "price-aggregator", "process-metrics"} <= with_procs, with_procs  # fmt: skip


def assert_secret_files_belong_to_their_readers(img: ImageRoot) -> None:
    """Issue #19 a: every secret file is 0600 and owned by the account that reads it."""
    secrets = img.root / "sp" / "secrets"
    expected = {
        "push/aggregator.password": 900,  # the aggregator's, operator-supplied
        "push/exporter.token": 900,  # the exporter's (it drops to sealfeed)
        "chainlink/api-password": 0,  # generated; read by chainlink-render (root)
        "chainlink/keystore-password": 0,
        "sealfeed/import.key": 0,
    }
    for rel, uid in expected.items():
        st = (secrets / rel).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o600), (rel, st.st_uid, oct(st.st_mode))


def assert_each_step_said_once(log: str) -> None:
    """ADR 0148: a oneshot's report (stdout) names each provisioning step; its info log
    lines (stderr) no longer repeat them in the container log (WARNING by default, as in
    local mode since ADR 0129)."""
    boot = log[: log.index(STARTED)]
    for step in ("created role chainlink_node_1 ", "created database chainlink_node_2 ",
                 "initialized cluster ", "2 nodes provisioned: 10 changes",
                 "generated: chainlink/api-password"):  # fmt: skip
        assert boot.count(step) == 1, (step, boot)
    logged = []
    for line in boot.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                logged.append(json.loads(line))
    assert [d for d in logged if d.get("level") in ("info", "debug")] == [], logged
    assert "new keys: evm, p2p, ocr2" in boot  # the reports themselves are all there


def _marked_processes(root: Path) -> list[int]:
    marker = f"{MARKER_ENV}={root}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                    out.append(int(entry))
            except OSError:
                continue
    return out


def _status(img: ImageRoot, skarnet_bin: Path) -> dict[str, Any]:
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{skarnet_bin}:{os.environ.get('PATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-m", "sealfeed", "status", "--scandir", str(img.run / "service"),
         "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def test_boot_order_readiness_restart_and_ordered_stop(
    image_root: Callable[..., ImageRoot], skarnet_bin: Path
) -> None:
    img = image_root(nodes=2)
    # an injected key must not win over the image's file (ADR 0082): this one would not verify
    img.start(
        CONFIGURATION_PUBLIC_KEY="MCowBQYDK2VwAyEAZKXzFe1UMZDEmPOL6mC2Q/sQiGOqMvSq51gSmbDqy8Q="
    )
    img.wait_log(STARTED)
    assert_each_step_said_once(img.log())
    manifest = img.manifest()
    names = [s["name"] for s in manifest["services"]]
    assert {"config-verify", "postgres", "chainlink-node-1", "chainlink-node-2"} <= set(names)

    # s6-rc started every service of the manifest, each after its dependencies were ready
    assert_started_in_dependency_order(img, manifest)
    loggers = {s["logger"] for s in manifest["services"] if s["logger"]}
    longruns = [s for s in manifest["services"] if s["type"] == "longrun"]
    for svc in longruns:
        st = img.status(svc["name"])
        # a logger has no notification-fd: up is all s6 can say about it
        assert st is not None and st.up and (st.ready or svc["name"] in loggers), (svc, st)

    # under the image's accounts (ADR 0051), not root
    assert _uid(_host_pid_of(img, "price-aggregator")) == 900
    assert _uid(_host_pid_of(img, "process-metrics")) == 900
    assert _uid(_host_pid_of(img, "postgres")) == pwd.getpwnam("postgres").pw_uid
    assert _uid(_host_pid_of(img, "chainlink-node-2")) == 1002

    # one s6: every supervision binary running is the built 2.15, none of Debian's 2.11
    skarnet = {p.name for p in skarnet_bin.iterdir()}
    checked = 0
    for host in img.namespace_pids().values():
        try:
            exe = os.readlink(f"/proc/{host}/exe")
        except OSError:
            continue
        if Path(exe).name in skarnet:
            assert exe.startswith(str(skarnet_bin) + "/"), f"{exe} is not the built s6 suite"
            checked += 1
    assert checked >= len(longruns)  # at least one s6-supervise per longrun

    # the real components answer; the exporter finds the tree through /init's environment
    assert _http(f"http://127.0.0.1:{img.agg_port}/health")[0] == 200
    for i in (1, 2):
        assert _http(f"http://127.0.0.1:{img.api_base + i}/health")[0] == 200

    def exporter_sees_all() -> bool:
        body = _http(f"http://127.0.0.1:{img.exp_port}/metrics")[1]
        return all(
            f'chainlink_s6_service_up{{service="{s["name"]}"}} 1.0' in body for s in longruns
        )

    _wait(exporter_sees_all, "the exporter to report every longrun up", 60)
    assert_io_and_fds_for_every_service(img)
    assert_secret_files_belong_to_their_readers(img)
    # no TDX here: the appliance says so plainly and serves no evidence
    code, body = _http_status(f"http://127.0.0.1:{img.exp_port}/attestation")
    assert code == 503 and json.loads(body)["reason"].startswith("no TDX: configfs-tsm"), body
    status = subprocess.run(
        [sys.executable, "-m", "sealfeed", "status", "--scandir", str(img.run / "service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "\nattestation: no TDX: not attested" in status.stdout, status.stdout + status.stderr

    # kill -9: s6-supervise restarts it, the finish script counts it, the appliance stays up
    old_ns = img.status("price-aggregator").pid  # type: ignore[union-attr]
    os.kill(img.host_pid(old_ns), signal.SIGKILL)

    def restarted() -> bool:
        st = img.status("price-aggregator")
        return st is not None and st.up and st.ready and st.pid != old_ns

    _wait(restarted, "price-aggregator to come back ready")
    ledger = img.run / "service" / "price-aggregator" / "restart-count"
    _wait(ledger.exists, "the restart ledger", 10)
    assert ledger.read_text() == "1\n"
    assert "price-aggregator stopped (signal SIGKILL); restart 1/3 within 300 s" in img.log()
    assert not (img.run / "s6-linux-init-container-results" / "cause").exists()

    # `sealfeed status` on the image's tree: every service of the manifest, the oneshots from
    # s6-rc's own state, the last exit from s6 2.15's death tally, as in local mode
    doc = _status(img, skarnet_bin)
    states = {s["name"]: s for s in doc["services"]}
    assert doc["state"] == "running"
    agg = states["price-aggregator"]
    assert agg["last_exit_signal"] == "SIGKILL" and agg["last_exit_code"] == 137
    assert agg["last_exit_time"] and agg["restarts"] == 1 and agg["state"] == "up"
    assert states["config-verify"]["type"] == "oneshot"
    assert states["config-verify"]["state"] == "done"
    assert states["chainlink-node-2"]["state"] == "up"
    assert set(states) >= {s["name"] for s in manifest["services"]}

    # docker stop: SIGTERM to PID 1 -> reverse dependency order -> exit with the recorded code
    os.kill(img.init_pid(), signal.SIGTERM)
    assert img.wait_exit(120) == 0, img.log()[-4000:]
    assert_stopped_in_reverse_order(img, manifest)
    events = img.events.read_text().split()
    assert events.count("stop") == 2  # both node stand-ins got their graceful SIGTERM
    assert not (img.root / "sp" / "postgresql" / "data" / "postmaster.pid").exists()
    # nothing alive at exit (the finish script names any process it finds)
    assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]
    assert "still running at exit" not in img.log()
    assert "sealfeed-init: supervision tree stopped, exit code 0" in img.log()
    assert _marked_processes(img.root) == []
    # what the longruns wrote went through the redacting pipeline into s6-log's files
    assert (img.root / "var" / "log" / "sealfeed" / "chainlink-node-1" / "current").stat().st_size


def test_restart_budget_stops_the_container_with_its_cause(
    image_root: Callable[..., ImageRoot],
) -> None:
    img = image_root(nodes=2, max_restarts=1, window_seconds=300)
    img.start()
    img.wait_log(STARTED)
    manifest = img.manifest()
    pid = img.status("process-metrics").pid  # type: ignore[union-attr]
    os.kill(img.host_pid(pid), signal.SIGKILL)

    def back() -> bool:
        st = img.status("process-metrics")
        return st is not None and st.up and st.pid != pid

    _wait(back, "process-metrics to restart once")
    os.kill(img.host_pid(img.status("process-metrics").pid), signal.SIGKILL)  # type: ignore[union-attr]
    assert img.wait_exit(120) == 137  # 128 + SIGKILL: the container's exit code
    line = (img.run / "s6-linux-init-container-results" / "cause").read_text()
    assert line.startswith(
        "sealfeed: appliance stopped: process-metrics: restart budget exhausted "
        "(2 exits within 300 s, max 1 restarts) (signal SIGKILL)"
    )
    assert line.rstrip().endswith("container exit code 137") and line.count("\n") == 1
    assert line.strip() in img.log()  # the same one line in the container log
    # the halt was ordered: the node stopped before PostgreSQL was asked to
    assert_stopped_in_reverse_order(img, manifest)
    assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]
    st = read_supervise_status(img.run / "service" / "process-metrics")
    assert st is not None and not st.up


def test_tampered_config_at_restart_stops_with_the_services_own_reason(
    image_root: Callable[..., ImageRoot],
) -> None:
    """Issue #19: the configuration is changed while the appliance runs; the exporter,
    restarted, refuses it (exit 1) until the budget is spent. The container's one-line
    cause carries what the exporter said, not only "restart budget exhausted (exit 1)"."""
    img = image_root(nodes=2, max_restarts=1, window_seconds=300)
    img.start()
    img.wait_log(STARTED)
    _tamper(img)
    pid = img.status("process-metrics").pid  # type: ignore[union-attr]
    os.kill(img.host_pid(pid), signal.SIGKILL)
    assert img.wait_exit(120) == 1, img.log()[-4000:]
    line = (img.run / "s6-linux-init-container-results" / "cause").read_text()
    assert line.startswith(
        "sealfeed: appliance stopped: process-metrics: restart budget exhausted "
        "(2 exits within 300 s, max 1 restarts) (exit 1) at "
    ), line
    assert f"; its last words: sealfeed: {img.config}: " in line
    assert "(content changed)" in line
    assert line.rstrip().endswith("container exit code 1") and line.count("\n") == 1
    assert line.strip() in img.log()
    assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]


def _tamper(img: ImageRoot) -> None:
    doc = json.loads(img.config.read_text())
    doc["solution"]["chainlinkChainId"] += 1  # after signing
    img.config.write_text(json.dumps(doc))


def _other_key(img: ImageRoot) -> dict[str, str]:
    from sealfeed.config import signing

    other = signing.generate_key(signing.Scheme.MODERN)
    img.write_config(key=other)
    # ... and that key injected through the environment: the image's file still decides
    return {"CONFIGURATION_PUBLIC_KEY": other.public().base64_der}


def _malformed(img: ImageRoot) -> None:
    img.config.write_text('{"solution": ')


def _too_many_nodes(img: ImageRoot) -> None:
    pass  # built with nodes=3 for an image of 2 slots


def _port_not_provisioned(img: ImageRoot) -> None:
    sol = img.solution()
    sol["sealfeed"]["nodes"]["apiBasePort"] = img.api_base + 100
    img.write_config(sol)


def _vm_name_without_placement(img: ImageRoot) -> dict[str, str]:
    return {"SEALFEED_VM": "vm-x"}


def _placed_on_two_vms(img: ImageRoot) -> dict[str, str]:
    from tests.multivm.solution import allow

    sol = img.solution()
    sol["sealfeed"]["placement"] = [{"name": "vm-a", "nodes": [1], "address": "10.9.0.2:7400"},
                                    {"name": "vm-b", "nodes": [2], "address": "10.9.0.3:7400"}]  # fmt: skip
    sol["sealfeed"]["link"] = {"measurements": allow()}
    img.write_config(sol)
    return {}


def _order_input_names_another_vm(img: ImageRoot) -> None:
    _placed_on_two_vms(img)
    entry = img.root / "sp" / "inputs" / "input-0001" / "vm-z"  # an archive's top directory
    entry.mkdir(parents=True)
    (entry / "sealfeed-vm").write_text("vm-z\n")


@pytest.mark.parametrize(
    ("case", "nodes", "code", "why"),
    [
        (_tamper, 2, 1, "content changed"),
        (_vm_name_without_placement, 2, 2, "VM name 'vm-x' given, but the configuration has no"),
        (_placed_on_two_vms, 2, 2, "places the DON on several VMs (vm-a, vm-b): tell this VM"),
        (_order_input_names_another_vm, 2, 2, "'vm-z' is not a VM of sealfeed.placement"),
        (_other_key, 2, 1, ""),
        (_malformed, 2, 2, ""),
        (_too_many_nodes, 3, 2, "nodesList asks for node 3, but this image provides 2 node slots"),
        (_port_not_provisioned, 2, 2, "sealfeed.nodes.apiBasePort gives node 1 API port"),
    ],
    ids=[
        "tampered",
        "vm-name-without-placement",
        "placement-without-vm-name",
        "order-input-names-another-vm",
        "signed-by-injected-key",
        "malformed",
        "too-many-nodes",
        "unprovisioned-port",
    ],
)
def test_rejected_configuration_starts_nothing(
    image_root: Callable[..., ImageRoot],
    case: Callable[[ImageRoot], dict[str, str] | None],
    nodes: int,
    code: int,
    why: str,
) -> None:
    img = image_root(nodes=nodes, slots=2 if nodes == 3 else None)
    env = case(img) or {}
    img.start(**env)
    assert img.wait_exit(60) == code, img.log()
    log = img.log()
    assert f"sealfeed-init: configuration rejected; nothing was started (exit {code})" in log
    results = img.run / "s6-linux-init-container-results"
    assert (results / "exitcode").read_text() == f"{code}\n"
    cause = (results / "cause").read_text()
    assert "appliance stopped: config-verify: configuration rejected" in cause
    assert cause.count("\n") == 1 and why in cause
    # nothing was compiled, no supervisor ever ran, no service started
    assert not (img.run / "s6" / "compiled").exists()
    assert not (img.run / "service" / ".s6-svscan" / "control").exists()
    assert "s6-rc: info" not in log
    if "node" in why:
        assert str(img.layout) in log  # the error names the image's layout file


def test_order_inputs_that_name_two_vms_start_nothing(
    image_root: Callable[..., ImageRoot],
) -> None:
    img = image_root(nodes=2)
    _placed_on_two_vms(img)
    for i, name in enumerate(("vm-a", "vm-b"), 1):
        entry = img.root / "sp" / "inputs" / f"input-000{i}"
        entry.mkdir(parents=True)
        (entry / "sealfeed-vm").write_text(name + "\n")
    img.start()
    assert img.wait_exit(60) == 2, img.log()
    assert "sealfeed-init: order inputs name two VMs: vm-a, vm-b (exit 2)" in img.log()
    assert not (img.run / "s6" / "compiled").exists()


def test_a_baked_tree_is_what_runs(image_root: Callable[..., ImageRoot]) -> None:
    """With a tree baked at build time (ADR 0085) /init checks and runs that one: an invalid
    baked tree stops the boot even though the fresh render is fine."""

    img = image_root(nodes=2)
    subprocess.run(
        [sys.executable, "-m", "sealfeed", "s6", "render", "--config", str(img.config),
         "--pubkey", str(img.pubkey), "--mode", "image", "--run-dir", str(img.run),
         "--out", str(img.baked), "--tree-root", str(img.baked)],
        check=True, capture_output=True,
    )  # fmt: skip
    (img.baked / "s6-rc.d" / "process-metrics" / "run").unlink()
    img.start()
    assert img.wait_exit(60) == 1
    assert f"sealfeed-init: the service tree {img.baked} is invalid; nothing was started" in (
        img.log()
    )
    assert "process-metrics: run missing or not executable" in img.log()
    assert not (img.run / "service" / ".s6-svscan" / "control").exists()


def _cause_and_status(img: ImageRoot, skarnet_bin: Path) -> tuple[str, str, dict[str, Any]]:
    cause = (img.run / "s6-linux-init-container-results" / "cause").read_text()
    human = subprocess.run(
        [sys.executable, "-m", "sealfeed", "status", "--scandir", str(img.run / "service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return cause, human.stdout, _status(img, skarnet_bin)


def test_a_failed_oneshot_stops_the_container_with_its_cause(
    image_root: Callable[..., ImageRoot], skarnet_bin: Path
) -> None:
    """PostgreSQL cannot be bootstrapped (its data dir is a file): the oneshot records why --
    with its own words (ADR 0148) --, nothing that depends on it starts, what did start is
    stopped in order, exit = its code."""
    img = image_root(nodes=2)
    data = img.root / "sp" / "postgresql" / "data"
    data.rmdir()
    data.write_text("not a directory\n")
    img.start()
    code = img.wait_exit(180)
    assert code == 2, img.log()[-4000:]  # InputError: the data dir is bad input
    cause, human, doc = _cause_and_status(img, skarnet_bin)
    said = f"sealfeed: {data}: data directory path exists and is not a directory"
    assert cause.startswith("sealfeed: appliance stopped: postgres-bootstrap: oneshot failed")
    assert f"; its last words: {said}; container exit code 2\n" in cause
    assert cause.strip() in img.log()  # the one line in the container log
    assert cause.strip() in human.splitlines()  # and `sealfeed status` shows the same line
    states = {s["name"]: s for s in doc["services"]}
    assert states["postgres-bootstrap"]["state"] == "failed"
    assert states["postgres-bootstrap"]["reason"] == said
    assert doc["cause"]["reason"] == said and doc["cause"]["container_exit_code"] == 2
    seen = _first(img.transitions())
    assert ("postgres", "starting") not in seen and ("chainlink-node-1", "starting") not in seen
    assert ("config-verify", "successfully started") in seen
    assert "sealfeed-init: the user bundle failed to start" not in img.log()  # cause kept
    assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]


def test_a_damaged_node_key_stops_chainlink_render_with_its_reason(
    image_root: Callable[..., ImageRoot], skarnet_bin: Path
) -> None:
    """A node's key file on the secrets volume is damaged: chainlink-render (late in the
    boot, PostgreSQL and the aggregator already up) fails with exit 2; the container's exit
    code and the cause line -- in the container log and in `sealfeed status` -- say which
    file and what is wrong with it, and the captured stderr left on disk is redacted."""
    img = image_root(nodes=2)
    key = img.root / "sp" / "secrets" / "chainlink" / "node-2" / "evm_key.json"
    key.parent.mkdir(parents=True)
    key.write_text('{"address": "not a keystore"')
    key.chmod(0o600)
    img.start()
    assert img.wait_exit(180) == 2, img.log()[-4000:]
    cause, human, doc = _cause_and_status(img, skarnet_bin)
    assert cause.startswith("sealfeed: appliance stopped: chainlink-render: oneshot failed")
    reason = doc["cause"]["reason"]
    assert reason and reason.startswith(f"sealfeed: {key}: "), reason
    assert f"; its last words: {reason}; container exit code 2\n" in cause
    assert cause.strip() in human.splitlines()
    seen = _first(img.transitions())
    assert ("postgres", "successfully started") in seen
    assert ("chainlink-node-1", "starting") not in seen
    kept = img.run / "s6-linux-init-container-results" / "oneshots" / "chainlink-render.stderr"
    keystore = (img.root / "sp" / "secrets" / "chainlink" / "keystore-password").read_text()
    assert reason in kept.read_text() and keystore.strip() not in kept.read_text()
    assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]


def test_attested_boot_with_sealed_operator_secrets(
    image_root: Callable[..., ImageRoot], tmp_path: Path
) -> None:
    """Issue #19 items 3 + 4 in the image's real init: a sealed bundle delivered as an order
    input is imported by secrets-import (before any reader starts) and given to the
    aggregator, which uses the key against an exchange that checks it; the attest oneshot
    gets a quote from the fake TDX kernel after config-verify; the exporter serves it, status
    shows it, and `sealfeed verify --url` accepts it -- and rejects it for another
    configuration or another image."""
    from sealfeed.config import signing
    from sealfeed.secrets.keys import ensure_import_key, public_bytes
    from sealfeed.secrets.sealed import seal
    from tests.fakes.appliance_image import write_measured_image
    from tests.fakes.tsm import DEFAULT_MR_TD, DEFAULT_RTMRS, FakeTdxHost, fuse_available
    from tests.secrets.helpers import ThreadedExchange

    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    host = FakeTdxHost()
    img = image_root(nodes=2)
    image = write_measured_image(tmp_path, b"the appliance image")
    secrets = img.root / "sp" / "secrets"
    # the import key of an earlier boot, kept by the secrets volume (Distributed Secrets)
    key, _ = ensure_import_key(secrets)
    api_key = "fh-sealed-operator-key-42"
    with ThreadedExchange("finnhub", api_key=api_key, prices={("BTC", "USDT"): "67012.5"}) as fx:
        sol = img.solution()
        sol["priceAggregatorConfig"]["sources"]["finnhub"] = {
            "enabled": True, "baseUrl": fx.base_url,
            "apiKey": {"secretFile": "exchanges/finnhub.key"}}  # fmt: skip
        img.write_config(sol)
        bundle = img.root / "sp" / "inputs" / "input-0001" / "ops.sealed.json"
        bundle.parent.mkdir(parents=True)
        bundle.write_text(json.dumps(seal({"exchanges/finnhub.key": api_key},
                                          public_bytes(key)).to_json()))  # fmt: skip
        tsm = host.mount(img.root / "tsm")
        try:
            img.start(SEALFEED_TSM_ROOT=str(tsm.root), SEALFEED_IMAGE_SHA256=image,
                      SP_INPUTS_DIR=str(img.root / "sp" / "inputs"))  # fmt: skip
            img.wait_log(STARTED)
            seen = _first(img.transitions())
            assert (
                seen[("config-verify", "successfully started")]
                < seen[("secrets-import", "starting")]
            )
            assert seen[("secrets-import", "successfully started")] < seen[("attest", "starting")]
            assert (
                seen[("secrets-import", "successfully started")]
                < seen[("price-aggregator", "starting")]
            )
            assert tsm.quotes_served == 1
            assert api_key not in img.log()  # never logged, not even by the importer

            # the operator's key reached the aggregator, as its account, and is used
            st = (secrets / "exchanges" / "finnhub.key").stat()
            assert (st.st_uid, st.st_mode & 0o777) == (900, 0o600)
            code, body = _http_status(f"http://127.0.0.1:{img.agg_port}/quote/finnhub/BTC/USDT")
            assert code == 200 and json.loads(body)["price"] == "67012.5", body
            assert fx.tokens() and set(fx.tokens()) == {api_key}

            code, body = _http_status(f"http://127.0.0.1:{img.exp_port}/attestation")
            assert code == 200, body
            doc = json.loads(body)
            assert doc["attested"] is True and doc["binding"]["image_sha256"] == image
            status = subprocess.run(
                [sys.executable, "-m", "sealfeed", "status", "--scandir", str(img.run / "service"),
                 "--json"], capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            attestation = json.loads(status.stdout)["attestation"]
            assert attestation["attested"] is True
            assert attestation["summary"].startswith("attested (")

            policy = {"mr_td": [DEFAULT_MR_TD.hex()]}
            policy.update({f"rtmr{i}": [r.hex()] for i, r in enumerate(DEFAULT_RTMRS)})
            (tmp_path / "policy.json").write_text(json.dumps(policy))
            host.collateral_file(tmp_path / "collateral.json")

            def verify(config: Path, measurement: Path) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [sys.executable, "-m", "sealfeed", "verify", "--image-measurement",
                     str(measurement), "--config", str(config), "--pubkey", str(img.pubkey),
                     "--url", f"http://127.0.0.1:{img.exp_port}",
                     "--policy", str(tmp_path / "policy.json"),
                     "--collateral", str(tmp_path / "collateral.json"),
                     "--root-ca-fingerprint", host.root_fingerprint],
                    capture_output=True, text=True, timeout=120, check=False,
                )  # fmt: skip

            ok = verify(img.config, tmp_path / "measurement.json")
            assert ok.returncode == 0, ok.stdout + ok.stderr
            assert "[  ok] import-key-binding" in ok.stdout
            other = dict(sol)
            other["chainlinkChainId"] += 1
            other[signing.EMBEDDED_SIGNATURE_KEY] = signing.sign_modern(other, img.key)
            (tmp_path / "other.json").write_text(json.dumps({"solution": other}))
            bad = verify(tmp_path / "other.json", tmp_path / "measurement.json")
            assert bad.returncode == 1 and bad.stdout.startswith("REJECTED at report-data-binding")
            (tmp_path / "img2").mkdir()
            write_measured_image(tmp_path / "img2", b"another image")
            bad = verify(img.config, tmp_path / "img2" / "measurement.json")
            assert bad.returncode == 1 and bad.stdout.startswith("REJECTED at report-data-binding")

            os.kill(img.init_pid(), signal.SIGTERM)
            assert img.wait_exit(120) == 0, img.log()[-4000:]
        finally:
            img.kill()
            tsm.stop()


def _children(host_pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{host_pid}/task/{host_pid}/children").read_text().split()]


def test_the_link_runs_as_its_own_account_in_a_multi_vm_boot(
    image_root: Callable[..., ImageRoot], tmp_path: Path
) -> None:
    """ADR 0145 in the image's real init: VM vm-a of a DON placed on two VMs boots with its
    link. The link runs as `sealfeed-link` (uid 902); only its forked quote helper kept root.
    It still gets a fresh identity quote every reattest period, every quote the TDX module
    signed is either the attest step's appliance binding or a peer binding of this
    configuration, the account itself cannot ask configfs-tsm for anything, it pushes with
    its own copy of the exporter's push credentials (ADR 0146), and peer vm-b -- a real
    `sealfeed link serve` on its own fake TDX kernel -- admits it and fetches its node keys."""
    from sealfeed.attest.binding import appliance_report_data, peer_report_data
    from sealfeed.config.loader import Trust, load_and_verify
    from sealfeed.config.signing import load_public_key
    from sealfeed.link.measurements import entry_json
    from tests.fakes.tsm import FakeTdxHost, TdKnobs, fuse_available
    from tests.link.helpers import free_port

    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    host = FakeTdxHost()
    img = image_root(nodes=2)
    a_addr, b_addr = f"127.0.0.2:{free_port('127.0.0.2')}", f"127.0.0.3:{free_port('127.0.0.3')}"
    collateral = host.collateral_file(img.root / "etc" / "sealfeed" / "collateral.json")
    collateral.chmod(0o644)
    sol = img.solution()
    sol["totalNodes"], sol["nodesList"] = "3", "1 2 3"
    sol["sealfeed"]["placement"] = [{"name": "vm-a", "nodes": [1, 2], "address": a_addr},
                                    {"name": "vm-b", "nodes": [3], "address": b_addr}]  # fmt: skip
    sol["sealfeed"]["link"] = {
        "measurements": [entry_json("sealfeed-boot", dict(enumerate(TdKnobs().registers())))],
        "reattestSeconds": 3, "probeSeconds": 1, "handshakeTimeoutSeconds": 5,
        "collateral": {"file": str(collateral), "rootCaFingerprints": [host.root_fingerprint]},
    }  # fmt: skip
    img.write_config(sol)
    trust = Trust(load_public_key(img.pubkey.read_bytes()), "test")
    config_hash = load_and_verify(img.config, trust, read_secrets=False).config_hash
    link_dir = img.run / "sealfeed" / "link"
    image = "ab" * 32  # the attest oneshot's quote binds it (the platform's digest, ADR 0130)
    # vm-b: a real link on this host, its plan by hand (its endpoints for vm-a's nodes would
    # collide with vm-a's own nodes on one loopback), the same signed configuration
    b_dir = tmp_path / "vm-b"
    b_dir.mkdir()
    plan = {"vm": "vm-b", "listen": b_addr, "peers": [{"name": "vm-a", "address": a_addr}],
            "policy": {"measurements": sol["sealfeed"]["link"]["measurements"]},
            "collateral": {"file": str(collateral), "trust_roots": [host.root_fingerprint]},
            "reattest_seconds": 3, "probe_seconds": 1, "handshake_timeout_seconds": 5,
            "fetch": ["node-keys"], "peers_dir": str(b_dir / "peers")}  # fmt: skip
    (b_dir / "plan.json").write_text(json.dumps(plan))
    tsm_a = host.mount(img.root / "tsm")
    tsm_b = host.mount(tmp_path / "tsm-b")
    vm_b: subprocess.Popen[bytes] | None = None
    try:
        img.start(SEALFEED_TSM_ROOT=str(tsm_a.root), SEALFEED_VM="vm-a",
                  SEALFEED_IMAGE_SHA256=image)  # fmt: skip
        vm_b = subprocess.Popen(
            [sys.executable, "-m", "sealfeed", "link", "serve", "--plan", str(b_dir / "plan.json"),
             "--config", str(img.config), "--pubkey", str(img.pubkey), "--tsm-root",
             str(tsm_b.root), "--status-file", str(b_dir / "status.json"), "--no-push"],
            stdout=subprocess.DEVNULL, stderr=open(b_dir / "stderr", "wb"),  # noqa: SIM115
        )  # fmt: skip
        img.wait_log(STARTED)

        # the link's main process runs as sealfeed-link; its one child, the helper, as root
        link_pid = _host_pid_of(img, "link")
        assert _uid(link_pid) == 902
        helpers = _children(link_pid)
        assert len(helpers) == 1 and _uid(helpers[0]) == 0

        # rotating identities, each a peer binding of this configuration, through the helper
        def peer_quotes() -> list[bytes]:
            return [rd for rd in tsm_a.report_data if rd[40:] == bytes(24)]

        _wait(lambda: len(peer_quotes()) >= 3, "three identity quotes (reattest 3 s)", 60)
        status_a = json.loads((link_dir / "status.json").read_text())
        ident = status_a["identity"]
        want = peer_report_data(bytes.fromhex(ident["key_sha256"]), config_hash,
                                ident["issued_at"])  # fmt: skip
        assert want in tsm_a.report_data
        assert status_a["config_hash"] == config_hash
        # nothing else was ever signed here: the attest oneshot's appliance binding (its
        # second half is the import key commitment, never zeros) and peer bindings
        others = [rd for rd in tsm_a.report_data if rd[40:] != bytes(24)]
        assert [rd[:32] for rd in others] == [appliance_report_data(image, config_hash)[:32]]
        assert len({rd[32:40] for rd in peer_quotes()}) == len(peer_quotes())  # fresh each

        # the account alone cannot ask configfs-tsm (its entries are root's, as on TDX)
        direct = subprocess.run(
            ["setpriv", "--reuid=902", "--regid=902", "--clear-groups", sys.executable, "-c",
             "import sys; from sealfeed.attest.tsm import request_quote; "
             "request_quote(b'\\x42' * 64, root=sys.argv[1])", str(tsm_a.root)],
            capture_output=True, text=True, timeout=60, check=False, cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        )  # fmt: skip
        assert direct.returncode != 0 and "Permission denied" in direct.stderr, direct.stderr

        # its push credentials: its own 0600 copy; the exporter keeps its file
        copy = link_dir / "secrets" / "push" / "exporter.token"
        st = copy.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (902, 0o600)
        assert (
            copy.read_text()
            == (img.root / "sp" / "secrets" / "push" / "exporter.token").read_text()
        )
        assert (img.root / "sp" / "secrets" / "push" / "exporter.token").stat().st_uid == 900
        assert not (link_dir / "secrets" / "push" / "aggregator.password").exists()

        # the peer admits it -- again after it rotated -- and fetched its node keys (written
        # by chainlink-render as root, served by the dropped link)
        def b_admits_a_rotated() -> bool:
            try:
                doc = json.loads((b_dir / "status.json").read_text())
            except (OSError, ValueError):
                return False
            peer = doc["peers"][0]
            return bool(peer["verified"]) and "node-keys" in peer["documents"] and (
                peer["last_verified"] or 0) > ident["issued_at"] + 3  # fmt: skip

        _wait(b_admits_a_rotated, "vm-b to admit vm-a after a rotation", 60)
        assert (b_dir / "peers" / "vm-a" / "node-keys.json").exists()
        # ... and the dropped link admits vm-b (it reads the collateral as sealfeed-link)
        _wait(lambda: json.loads((link_dir / "status.json").read_text())["peers"][0]["verified"],
              "vm-a to admit vm-b", 30)  # fmt: skip

        os.kill(img.init_pid(), signal.SIGTERM)
        assert img.wait_exit(120) == 0, img.log()[-4000:]
        assert (img.run / "s6" / "leftovers").read_text() == "0\n", img.log()[-3000:]
    finally:
        if vm_b is not None:
            vm_b.terminate()
            vm_b.wait(30)
        img.kill()
        tsm_a.stop()
        tsm_b.stop()
