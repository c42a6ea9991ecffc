"""The proof on one machine (issue #20 item 4): one DON over three "VMs".

Each VM is its own network namespace (a veth on a shared bridge: 10.77.X.2-4) and mount
namespace (its own PostgreSQL data and socket dirs, secrets and node workdirs bound over the
paths the one signed configuration names), with its own fake TDX kernel (configfs-tsm over
FUSE, quotes from the synthetic PCK chain, per-VM knobs switchable while it runs) and runs
``sealfeed up --vm NAME``: real s6, real PostgreSQL with only its node's role and database,
the real link, ``chainlink render`` fetching the bootstrap node's key through the link, and
a Chainlink stand-in (tests/multivm/p2p_standin.py) that discovers its peers through the
bootstrap node and dials their announced P2P addresses -- through the attested tunnels.

Then: honest peers connect; vm-c turning into a debug TD, another MRTD, another RTMR, an
out-of-date TCB is refused with that reason and recovers; vm-c restarted with another
configuration is refused (``config_hash``); an impostor replaying vm-c's quote over another
key is refused (``binding``); vm-c restarted honest is re-admitted and the nodes talk again.

Ports inside the namespaces are fixed (7400, 99xx, 66xx, 5432): each namespace is private,
so nothing else on the machine can hold them.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sealfeed.chainlink.keys import load_public_keys
from sealfeed.config import signing
from sealfeed.link.measurements import entry_json
from tests.fakes.tsm import ConfigfsTsm, FakeTdxHost, TdKnobs, fuse_available
from tests.multivm.solution import multi_vm_solution

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HONEST = TdKnobs()
NAMES = ("vm-a", "vm-b", "vm-c")
SHARED = ("pgdata", "pgrun", "secrets", "chainlink")  # per-VM dirs bound over the config's


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def wait_for(pred: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


@dataclass
class Vm:
    name: str
    node: int
    ns: str
    ip: str
    dir: Path
    td: TdKnobs = HONEST  # what its fake TDX module measures now (switchable live)
    tsm: ConfigfsTsm | None = None
    proc: subprocess.Popen[bytes] | None = None
    boots: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.dir / "state"

    @property
    def link_dir(self) -> Path:
        return self.state / "run" / "sealfeed" / "link"

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.link_dir / "status.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def peer(self, name: str) -> dict[str, Any]:
        return next((p for p in self.status().get("peers", []) if p["name"] == name), {})

    def events(self) -> list[dict[str, Any]]:
        """The JSON lines the node stand-in printed (s6-log keeps them)."""
        out = []
        for path in sorted((self.state / "log" / f"chainlink-node-{self.node}").glob("*")):
            if not path.is_file():
                continue
            for line in path.read_text(errors="replace").splitlines():
                start = line.find("{")
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line[start:]))
        return out

    def reached(self, peer: str) -> int:
        return sum(1 for e in self.events() if e.get("event") == "reached" and e["peer"] == peer)

    def stderr(self) -> str:
        return self.logs[-1].read_text(errors="replace") if self.logs else ""


@dataclass
class World:
    base: Path
    host: FakeTdxHost
    vms: dict[str, Vm]
    config: Path
    other_config: Path
    pubkey: Path
    standin: Path

    def commands(self, vm: Vm, config: Path) -> list[str]:
        py, stand = sys.executable, str(ROOT / "tests" / "s6" / "standin.py")
        events = vm.dir / "events"
        cmds = {
            # the aggregator and exporter have their own tests; here they only hold their place
            "price-aggregator": f"{py} {stand} --name price-aggregator --events {events} "
            "--notify-fd 3",
            "process-metrics": f"{py} {stand} --name process-metrics --events {events} "
            "--notify-fd 3",
            # real render, cheap key derivation (production scrypt N is 2^18)
            "chainlink-render": shlex.join([py, "-m", "sealfeed", "chainlink", "render",
                                            "--config", str(config), "--pubkey", str(self.pubkey),
                                            "--link-dir", str(vm.link_dir), "--scrypt-n", "1024"]),
            # the node runs as `nobody` (root local mode): the system Python, stdlib only
            "chainlink-node": f"/usr/bin/python3 {self.standin} node -config "
            "{workdir}/config.toml -secrets {workdir}/secrets.toml start -a "
            "{workdir}/apicredentials",
        }  # fmt: skip
        return [arg for k, v in cmds.items() for arg in ("--command", f"{k}={v}")]

    def boot(self, vm: Vm, config: Path | None = None) -> None:
        config = config or self.config
        vm.boots += 1
        log = vm.dir / f"up-{vm.boots}.log"
        vm.logs.append(log)
        binds = " && ".join(f"mount --bind {vm.dir / d} {self.base / 'shared' / d}" for d in SHARED)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIGURATION_",
                                                                           "SEALFEED_"))}  # fmt: skip
        assert vm.tsm is not None
        env["SEALFEED_TSM_ROOT"] = str(vm.tsm.root)
        argv = ["ip", "netns", "exec", vm.ns, "sh", "-c", f'{binds} && exec "$@"', "sh",
                sys.executable, "-m", "sealfeed", "up", "--vm", vm.name, "--config", str(config),
                "--pubkey", str(self.pubkey), "--state-dir", str(vm.state),
                "--ready-timeout", "400", *self.commands(vm, config)]  # fmt: skip
        with log.open("wb") as out:
            vm.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                       cwd=ROOT, start_new_session=True)  # fmt: skip

    def ready(self, vm: Vm) -> bool:
        if vm.proc is not None and vm.proc.poll() is not None:
            raise AssertionError(f"{vm.name}: sealfeed up exited:\n{vm.stderr()[-4000:]}")
        return "all services ready" in vm.stderr()

    def stop(self, vm: Vm) -> int | None:
        if vm.proc is None:
            return None
        if vm.proc.poll() is None:
            vm.proc.send_signal(signal.SIGTERM)
            try:
                vm.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(vm.proc.pid, signal.SIGKILL)
                vm.proc.wait(timeout=10)
        code = vm.proc.returncode
        vm.proc = None
        return code


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    for tool in ("ip", "s6-svscan", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not Path("/usr/lib/postgresql").exists() or not Path("/usr/bin/python3").exists():
        return "PostgreSQL or the system python3 not installed"
    return fuse_available()


def _network(tag: str, subnet: int, vms: list[Vm]) -> None:
    """A bridge in its own namespace; each VM's namespace joins it with a veth."""
    hub = f"{tag}-hub"
    sh("ip", "netns", "add", hub)
    sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", hub, "link", "set", "br0", "up")
    for i, vm in enumerate(vms):
        inner, outer = f"{tag}v{i}", f"{tag}h{i}"
        sh("ip", "netns", "add", vm.ns)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", vm.ns)
        sh("ip", "link", "set", outer, "netns", hub)
        sh("ip", "-n", hub, "link", "set", outer, "master", "br0", "up")
        sh("ip", "-n", vm.ns, "addr", "add", f"10.77.{subnet}.{i + 2}/24", "dev", inner)
        sh("ip", "-n", vm.ns, "link", "set", inner, "up")
        sh("ip", "-n", vm.ns, "link", "set", "lo", "up")


def _sign(path: Path, solution: dict[str, Any], key: signing.PrivateKey) -> Path:
    sol = dict(solution, signature=signing.sign_reference(solution, key))
    path.write_text(json.dumps({"solution": sol}, indent=1))
    return path


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    why = _skip_reason()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: the three-VM proof {why}")
    tag = f"sfm{os.getpid() % 100000}"
    subnet = random.randint(1, 250)
    # the postgres user must reach its data dir: not below root's 0700 pytest tmp dir
    base = Path(tempfile.mkdtemp(prefix="sealfeed-3vm-", dir="/tmp"))
    base.chmod(0o755)
    host = FakeTdxHost()
    vms = {
        name: Vm(name, i + 1, f"{tag}-{name}", f"10.77.{subnet}.{i + 2}", base / name)
        for i, name in enumerate(NAMES)
    }
    try:
        for d in SHARED:
            (base / "shared" / d).mkdir(parents=True)
            for vm in vms.values():
                (vm.dir / d).mkdir(parents=True, exist_ok=True)
        for vm in vms.values():
            (vm.dir / "secrets").chmod(0o700)
        standin = base / "p2p_standin.py"  # readable by `nobody`, unlike the checkout
        shutil.copy(ROOT / "tests" / "multivm" / "p2p_standin.py", standin)
        standin.chmod(0o644)
        owner = signing.generate_key(signing.Scheme.REFERENCE)
        pubkey = base / "owner.pub"
        pubkey.write_bytes(signing.public_key_pem(owner.public()))
        host.collateral_file(base / "collateral.json")
        shared = base / "shared"
        sol = multi_vm_solution(
            [(vm.name, (vm.node,), f"{vm.ip}:7400") for vm in vms.values()],
            link={
                "measurements": [entry_json("sealfeed-3vm", dict(enumerate(HONEST.registers())))],
                "reattestSeconds": 3,
                "probeSeconds": 1,
                "handshakeTimeoutSeconds": 5,
                "collateral": {"file": str(base / "collateral.json"),
                               "rootCaFingerprints": [host.root_fingerprint]},
            },
        )  # fmt: skip
        sol["spSecretsDir"] = str(shared / "secrets")
        sol["maxRestarts"] = 20
        sol["sealfeed"]["postgres"] = {"dataDir": str(shared / "pgdata"),
                                       "socketDir": str(shared / "pgrun"), "memoryLimitMb": 256}  # fmt: skip
        sol["sealfeed"]["nodes"] = {"workdirRoot": str(shared / "chainlink")}
        config = _sign(base / "configuration.json", sol, owner)
        other = json.loads(json.dumps(sol))
        other["sealfeed"]["monitoring"]["instance"] = "another-deployment"
        other_config = _sign(base / "other-configuration.json", other, owner)
        for vm in vms.values():
            vm.tsm = ConfigfsTsm(vm.dir / "tsm", lambda rd, vm=vm: host.quote(rd, vm.td)).start()
        _network(tag, subnet, list(vms.values()))
        w = World(base, host, vms, config, other_config, pubkey, standin)
        yield w
    finally:
        for vm in vms.values():
            if vm.proc is not None:
                with contextlib.suppress(Exception):
                    os.killpg(vm.proc.pid, signal.SIGKILL)
                    vm.proc.wait(timeout=10)
        for vm in vms.values():
            if vm.tsm is not None:
                vm.tsm.stop()
        for ns in [f"{tag}-hub", *(vm.ns for vm in vms.values())]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def refused(vm: Vm, peer: str, reason: str) -> Callable[[], bool]:
    def check() -> bool:
        p = vm.peer(peer)
        return p.get("verified") is False and (p.get("last_failure") or {}).get("reason") == reason

    return check


def test_one_don_over_three_vms(world: World) -> None:
    a, b, c = (world.vms[n] for n in NAMES)
    # -- honest VMs come up together; b and c wait for node 1's key from a, through the link
    for vm in (a, b, c):
        world.boot(vm)
    wait_for(lambda: all(world.ready(v) for v in (a, b, c)), "all three VMs ready", 400)
    for x in (a, b, c):
        for y in (a, b, c):
            if x is not y:
                wait_for(lambda x=x, y=y: x.peer(y.name).get("verified") is True,  # type: ignore[misc]
                         f"{x.name} verifies {y.name}")  # fmt: skip
    assert a.peer("vm-b")["admission"]["measurement_id"] == "sealfeed-3vm"
    # each VM has its own node, its own keys; the bootstrapper everywhere is vm-a's node 1
    node1 = load_public_keys(a.dir / "secrets", 1).peer_id
    for vm in (b, c):
        assert not (vm.dir / "secrets" / "chainlink" / "node-1").exists()
        toml = (vm.dir / "chainlink" / f"node-{vm.node}" / "config.toml").read_text()
        assert f"'{node1}@127.0.0.1:9901'" in toml or f'"{node1}@127.0.0.1:9901"' in toml
    # the stand-ins discovered each other through node 1 and talk across the tunnels
    wait_for(lambda: b.reached("node-3") >= 1 and c.reached("node-2") >= 1, "node 2 <-> node 3")
    assert b.reached("bootstrap@127.0.0.1:9901") >= 1 and c.reached("bootstrap@127.0.0.1:9901")
    hellos = {e["peer"] for e in a.events() if e.get("event") == "hello"}
    assert hellos == {"node-2", "node-3"}
    wait_for(lambda: b.peer("vm-c")["bytes"]["sent"] > 0, "P2P bytes through b's tunnel to c")
    # `sealfeed status` of a VM shows its peers
    st = subprocess.run([sys.executable, "-m", "sealfeed", "status", "--state-dir", str(b.state)],
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert st.returncode == 0, st.stderr
    assert any(ln.startswith("vm-c") and " yes " in ln for ln in st.stdout.splitlines())

    # -- vm-c stops verifying (its TD changes under it), with the reason, then recovers
    rtmr = (*HONEST.rtmrs[:3], b"\x33" * 48)
    for td, reason, detail in (
        (TdKnobs(debug=True), "debug", "debug"),
        (TdKnobs(mr_td=b"\x92" * 48), "measurements", "differs in MRTD"),
        (TdKnobs(rtmrs=rtmr), "measurements", "differs in RTMR3"),  # type: ignore[arg-type]
        (TdKnobs(tcb="OutOfDate"), "tcb_status", "OutOfDate"),
    ):
        c.td = td  # its next identity (every reattestSeconds) is quoted with these knobs
        for vm in (a, b):
            wait_for(refused(vm, "vm-c", reason), f"{vm.name} refuses vm-c: {reason}")
        assert detail in a.peer("vm-c")["last_failure"]["detail"]
        c.td = HONEST
        wait_for(lambda: a.peer("vm-c").get("verified") is True, f"vm-c verified after {reason}")
    wait_for(lambda: b.reached("node-3") >= 2, "node 2 reaches node 3 again after recovery")

    # -- vm-c restarted with another configuration: another hash, refused
    assert world.stop(c) == 0, c.stderr()[-3000:]
    wait_for(refused(a, "vm-c", "unreachable"), "vm-a notices vm-c is gone")
    world.boot(c, world.other_config)
    wait_for(refused(a, "vm-c", "config_hash"), "vm-a refuses vm-c's other configuration")
    wait_for(refused(b, "vm-c", "config_hash"), "vm-b refuses vm-c's other configuration")
    world.stop(c)

    # -- an impostor at vm-c's address replays vm-c's genuine quote over another key
    assert c.tsm is not None
    impostor = subprocess.Popen(
        ["ip", "netns", "exec", c.ns, sys.executable, "-m", "tests.multivm.replay",
         "--vm", "vm-c", "--config-hash", a.status()["config_hash"],
         "--tsm-root", str(c.tsm.root), "--listen", f"{c.ip}:7400"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        assert impostor.stdout is not None
        assert impostor.stdout.readline() == b"replaying\n"
        wait_for(refused(a, "vm-c", "binding"), "vm-a refuses the replayed quote")
        assert "another key" in a.peer("vm-c")["last_failure"]["detail"]
    finally:
        os.killpg(impostor.pid, signal.SIGKILL)
        impostor.wait(timeout=10)

    # -- vm-c restarts honest: a new key, a new quote, admitted again; the nodes talk again
    key_before = a.peer("vm-c").get("admission", {}).get("key_sha256")
    world.boot(c)
    wait_for(lambda: world.ready(c), "vm-c ready again", 300)
    wait_for(lambda: a.peer("vm-c").get("verified") is True, "vm-c re-admitted by vm-a")
    wait_for(lambda: b.peer("vm-c").get("verified") is True, "vm-c re-admitted by vm-b")
    assert a.peer("vm-c")["admission"]["key_sha256"] != key_before
    wait_for(lambda: b.reached("node-3") >= 3 and c.reached("node-2") >= 2, "talking again")
    # each VM's quotes came from its own fake TDX module
    assert all(v.tsm is not None and v.tsm.quotes_served >= 1 for v in (a, b, c))

    # -- clean stop of every VM, nothing left behind
    for vm in (a, b, c):
        assert world.stop(vm) == 0, vm.stderr()[-3000:]
    marker = str(world.base)
    left = []
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if pid.isdigit() and marker in Path(f"/proc/{pid}/cmdline").read_text():
                left.append(pid)
    assert left == []
