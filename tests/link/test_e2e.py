"""Several "VMs" on one machine, each a real ``sealfeed link serve`` process on its own
loopback address (127.0.0.2-8) with its own fake TDX kernel (configfs-tsm over FUSE,
quotes from the synthetic PCK chain), a signed configuration, and a TCP stand-in for its
Chainlink node. Honest VMs connect and bytes flow both ways through the tunnels; a debug TD,
another MRTD, an out-of-date TCB, another configuration and a replayed quote are refused
with their reason; a restarted peer is re-admitted; a revoked platform loses its tunnels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sealfeed.config import signing
from tests.fakes.tsm import ConfigfsTsm, FakeTdxHost, TdKnobs, fuse_available
from tests.link.conftest import allow_list
from tests.link.evil import evil_server
from tests.link.helpers import Node, free_port

pytestmark = pytest.mark.slow

HONEST = TdKnobs()


@dataclass
class VmProc:
    name: str
    ip: str
    td: TdKnobs
    config: Path
    node: str
    port: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    tsm: ConfigfsTsm | None = None
    status: Path = Path()
    log: Path = Path()
    plan_path: Path = Path()

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def peer(self, name: str) -> dict[str, Any]:
        for p in self.read_status().get("peers", []):
            if p["name"] == name:
                return p  # type: ignore[no-any-return]
        return {}


def wait_for(pred: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.1)


def talk(addr: tuple[str, int], payload: bytes) -> tuple[bytes, bytes]:
    """Greeting line and the echo of ``payload`` through a tunnel endpoint."""
    with socket.create_connection(addr, timeout=20) as s:
        f = s.makefile("rb")
        greeting = f.readline().strip()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return greeting, f.read()


def refused_at_once(addr: tuple[str, int]) -> bool:
    """The endpoint accepts and closes without a byte of the remote node."""
    with socket.create_connection(addr, timeout=20) as s:
        return s.recv(100) == b""


class Background:
    """An event loop thread hosting the Chainlink stand-ins and the replaying attacker."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class World:
    root: Path
    host: FakeTdxHost
    vms: dict[str, VmProc]
    nodes: dict[str, Node]
    endpoints: dict[tuple[str, str], tuple[str, int]]  # (vm, target) -> local endpoint
    pubkey: Path
    bg: Background

    def launch(self, vm: VmProc) -> int:
        """Start ``vm``'s link; returns the read end of its readiness pipe."""
        r, w = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGURATION_")}
        with vm.log.open("ab") as log:
            vm.proc = subprocess.Popen(
                [sys.executable, "-m", "sealfeed", "link", "serve", "--plan", str(vm.plan_path),
                 "--config", str(vm.config), "--pubkey", str(self.pubkey),
                 "--tsm-root", str(vm.tsm.root if vm.tsm else ""), "--status-file", str(vm.status),
                 "--notify-fd", str(w)],
                stdout=log, stderr=log, pass_fds=(w,), env=env,
            )  # fmt: skip
        os.close(w)
        return r

    def ready(self, vm: VmProc, r: int) -> None:
        with os.fdopen(r, "rb") as pipe:
            line = pipe.readline()  # EOF without a newline: the process died
        assert line == b"\n", f"{vm.name} did not start:\n{vm.log.read_text()[-3000:]}"

    def start(self, *vms: VmProc) -> None:
        pipes = [(vm, self.launch(vm)) for vm in vms]  # in parallel: imports dominate
        for vm, r in pipes:
            self.ready(vm, r)

    def stop(self, vm: VmProc, sig: int = signal.SIGTERM) -> None:
        if vm.proc is not None and vm.proc.poll() is None:
            vm.proc.send_signal(sig)
            try:
                vm.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                vm.proc.kill()
                vm.proc.wait(timeout=5)


def _sign(path: Path, solution: dict[str, Any], key: signing.PrivateKey) -> Path:
    sol = dict(solution)
    sol["signature"] = signing.sign_reference(sol, key)
    path.write_text(json.dumps({"solution": sol}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    why = fuse_available()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the fake TDX kernel needs FUSE: {why}")
    from sealfeed.config.example import example_solution

    root = tmp_path_factory.mktemp("link-e2e")
    host = FakeTdxHost()
    owner = signing.generate_key(signing.Scheme.REFERENCE)
    pubkey = root / "owner.pub"
    pubkey.write_bytes(signing.public_key_pem(owner.public()))
    solution = example_solution()
    honest_cfg = _sign(root / "configuration.json", solution, owner)
    other = json.loads(json.dumps(solution))
    other["sealfeed"]["monitoring"]["instance"] = "another-deployment"
    other_cfg = _sign(root / "other-configuration.json", other, owner)
    (root / "measurements.json").write_text(json.dumps(allow_list(HONEST, ids=("sealfeed-e2e",))))

    vms = {
        v.name: v
        for v in (
            VmProc("vm-a", "127.0.0.2", HONEST, honest_cfg, "node-1"),
            VmProc("vm-b", "127.0.0.3", HONEST, honest_cfg, "node-2"),
            VmProc("vm-c", "127.0.0.4", TdKnobs(platform=1), honest_cfg, "node-3"),
            VmProc("vm-d", "127.0.0.5", TdKnobs(debug=True), honest_cfg, "node-4"),
            VmProc("vm-e", "127.0.0.6", TdKnobs(mr_td=b"\x92" * 48), honest_cfg, "node-5"),
            VmProc("vm-f", "127.0.0.7", TdKnobs(tcb="OutOfDate"), honest_cfg, "node-6"),
            VmProc("vm-g", "127.0.0.8", HONEST, other_cfg, "node-7"),
        )
    }
    evil_ip, evil_port = "127.0.0.9", free_port("127.0.0.9")
    for v in vms.values():
        v.port = free_port(v.ip)
    bg = Background()
    nodes = {v.node: bg.call(Node(v.node).start()) for v in vms.values()}
    evil = bg.call(evil_server(host, evil_ip, evil_port))
    # who dials whom: vm-a everyone; vm-b and vm-c each other and vm-a; the misfits vm-a
    dials = {"vm-a": [n for n in vms if n != "vm-a"], "vm-b": ["vm-a", "vm-c"],
             "vm-c": ["vm-a", "vm-b"]}  # fmt: skip
    endpoints: dict[tuple[str, str], tuple[str, int]] = {}
    for v in vms.values():
        peers = []
        for name in dials.get(v.name, ["vm-a"]):
            target = vms[name].node
            ep = (v.ip, free_port(v.ip))
            endpoints[(v.name, target)] = ep
            peers.append({"name": name, "address": vms[name].address,
                          "forward": [{"listen": f"{ep[0]}:{ep[1]}", "target": target}]})  # fmt: skip
        if v.name == "vm-a":
            peers.append({"name": "vm-x", "address": f"{evil_ip}:{evil_port}"})
        coll = host.collateral_file(root / f"collateral-{v.name}.json")
        v.plan = {
            "vm": v.name,
            "listen": v.address,
            "peers": peers,
            "targets": {v.node: f"127.0.0.1:{nodes[v.node].port}"},
            "policy": {"measurements_file": "measurements.json"},
            "collateral": {"file": coll.name, "trust_roots": [host.root_fingerprint]},
            "reattest_seconds": 20,
            "probe_seconds": 1,
        }
        v.plan_path = root / f"plan-{v.name}.json"
        v.plan_path.write_text(json.dumps(v.plan, indent=2))
        v.status, v.log = root / f"status-{v.name}.json", root / f"{v.name}.log"
        v.tsm = host.mount(root / f"tsm-{v.name}", v.td)
    w = World(root, host, vms, nodes, endpoints, pubkey, bg)
    try:
        w.start(*vms.values())
        yield w
    finally:
        for v in vms.values():
            w.stop(v)
        for v in vms.values():
            if v.tsm is not None:
                v.tsm.stop()
        with contextlib.suppress(Exception):
            evil.close()
            for n in nodes.values():
                n.close()
        bg.stop()


def test_honest_vms_connect_and_bytes_flow_both_ways(world: World) -> None:
    a, b, c = (world.vms[n] for n in ("vm-a", "vm-b", "vm-c"))
    for x, y in ((a, b), (a, c), (b, a), (b, c), (c, a), (c, b)):
        wait_for(lambda x=x, y=y: x.peer(y.name).get("verified") is True,  # type: ignore[misc]
                 f"{x.name} verifies {y.name}")  # fmt: skip
    payload = os.urandom(256 * 1024)
    routes = [("vm-a", "node-2"), ("vm-a", "node-3"), ("vm-b", "node-1"), ("vm-b", "node-3"),
              ("vm-c", "node-1"), ("vm-c", "node-2")]  # fmt: skip
    for vm, target in routes:
        greeting, echo = talk(world.endpoints[(vm, target)], payload)
        assert greeting.decode() == target, (vm, target)
        assert echo == payload, (vm, target)
    adm = a.peer("vm-b")["admission"]
    assert adm["measurement_id"] == "sealfeed-e2e" and adm["tcb_status"] == "UpToDate"
    wait_for(lambda: a.peer("vm-b")["bytes"]["sent"] >= len(payload), "status shows the bytes")
    # each VM's own quotes came from its own fake kernel
    assert all(v.tsm is not None and v.tsm.quotes_served >= 1 for v in world.vms.values())


@pytest.mark.parametrize(
    ("misfit", "target", "reason"),
    [
        ("vm-d", "node-4", "debug"),
        ("vm-e", "node-5", "measurements"),
        ("vm-f", "node-6", "tcb_status"),
        ("vm-g", "node-7", "config_hash"),
    ],
    ids=["debug-td", "other-mrtd", "out-of-date-tcb", "other-config-hash"],
)
def test_misfits_are_refused_with_their_reason(
    world: World, misfit: str, target: str, reason: str
) -> None:
    a, m = world.vms["vm-a"], world.vms[misfit]
    wait_for(lambda: (a.peer(misfit).get("failures") or {}).get(reason, 0) >= 1,
             f"vm-a refuses {misfit} for {reason}")  # fmt: skip
    assert a.peer(misfit)["verified"] is False
    assert a.peer(misfit)["last_failure"]["reason"] == reason
    assert refused_at_once(world.endpoints[("vm-a", target)])
    # the misfit cannot get in either: its way to vm-a's node is closed
    assert refused_at_once(world.endpoints[(misfit, "node-1")])
    if reason == "config_hash":  # vm-g verifies vm-a's quote and sees the other configuration
        wait_for(lambda: (m.peer("vm-a").get("failures") or {}).get("config_hash", 0) >= 1, "vm-g")
    else:
        wait_for(lambda: (m.peer("vm-a").get("failures") or {}).get("refused_by_peer", 0) >= 1,
                 f"{misfit} is told it was refused")  # fmt: skip
    assert world.nodes[target].connections == 0  # no byte ever reached the misfit's node


def test_a_replayed_quote_is_refused(world: World) -> None:
    a = world.vms["vm-a"]
    wait_for(lambda: (a.peer("vm-x").get("failures") or {}).get("binding", 0) >= 1, "vm-x refused")
    assert a.peer("vm-x")["verified"] is False
    assert "another key" in a.peer("vm-x")["last_failure"]["detail"]


def test_a_restarted_peer_is_readmitted(world: World) -> None:
    a, b = world.vms["vm-a"], world.vms["vm-b"]
    wait_for(lambda: a.peer("vm-b").get("verified") is True, "vm-b verified")
    key_before = a.peer("vm-b")["admission"]["key_sha256"]
    with socket.create_connection(world.endpoints[("vm-a", "node-2")], timeout=20) as s:
        assert s.makefile("rb").readline() == b"node-2\n"
        world.stop(b, signal.SIGKILL)  # a crash: no goodbye
        assert s.recv(100) == b""  # the tunnel through the dead peer is closed
    wait_for(lambda: a.peer("vm-b").get("verified") is False, "vm-a notices vm-b is gone")
    assert a.peer("vm-b")["last_failure"]["reason"] == "unreachable"
    assert refused_at_once(world.endpoints[("vm-a", "node-2")])
    world.start(b)  # a new process: a new key, a new quote
    wait_for(lambda: a.peer("vm-b").get("verified") is True, "vm-b re-admitted")
    assert a.peer("vm-b")["admission"]["key_sha256"] != key_before
    greeting, echo = talk(world.endpoints[("vm-a", "node-2")], b"welcome back")
    assert (greeting, echo) == (b"node-2", b"welcome back")
    greeting, echo = talk(world.endpoints[("vm-b", "node-1")], b"glad to be back")
    assert (greeting, echo) == (b"node-1", b"glad to be back")


def test_a_revoked_platform_loses_its_tunnels(world: World) -> None:
    a, c = world.vms["vm-a"], world.vms["vm-c"]
    wait_for(lambda: a.peer("vm-c").get("verified") is True, "vm-c verified")
    wait_for(lambda: a.peer("vm-b").get("verified") is True, "vm-b verified")
    with socket.create_connection(world.endpoints[("vm-a", "node-3")], timeout=20) as to_c, \
            socket.create_connection(world.endpoints[("vm-a", "node-2")], timeout=20) as to_b:  # fmt: skip
        assert to_c.makefile("rb").readline() == b"node-3\n"
        fb = to_b.makefile("rb")
        assert fb.readline() == b"node-2\n"
        # the refreshed collateral revokes vm-c's platform; SIGHUP = refresh now
        world.host.collateral_file(
            world.root / "collateral-vm-a.json", revoke_platforms=(c.td.platform,)
        )
        assert a.proc is not None
        a.proc.send_signal(signal.SIGHUP)
        assert to_c.recv(100) == b""  # closed by vm-a
        wait_for(lambda: (a.peer("vm-c").get("last_failure") or {}).get("reason") == "revoked",
                 "vm-a reports vm-c revoked")  # fmt: skip
        assert a.peer("vm-c")["verified"] is False
        to_b.sendall(b"still fine")  # vm-b's platform is not revoked
        assert fb.read(10) == b"still fine"
    assert refused_at_once(world.endpoints[("vm-a", "node-3")])
    # the CLI shows it
    proc = subprocess.run(
        [sys.executable, "-m", "sealfeed", "link", "status", "--status-file", str(a.status)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("vm-c"))
    assert "NO" in line and "revoked" in line
