"""Attested link numbers (issue #20): handshake time, tunnel throughput and added latency,
against plain TLS on loopback measured in the same run.

    uv run python bench/link.py [--mb 64] [--rounds 5] [--pings 2000] [--handshakes 60]

Runs as root (the fake TDX kernel is a FUSE file system, tests/fakes/tsm.py). Processes,
all on loopback:

* ``echo``       -- the stand-in target: greets ``g\\n`` on connect, then echoes;
* ``link``       -- two real ``sealfeed link serve`` VMs (127.0.0.2 -> 127.0.0.3), each with
                   its own fake configfs-tsm, quotes from one synthetic PCK chain;
* ``plain TLS``  -- the ceiling: the same topology with two asyncio forwarders and plain
                   TLS 1.3 between them (same Ed25519 certificates, same 256 KiB chunks), no
                   attestation, no framing;
* ``direct TLS`` / ``direct TCP`` -- one TLS hop in front of the echo server / no proxy.

Measured from this process: handshake = connect until the target's greeting arrives (a
fresh tunnel: TCP + TLS + both quotes checked -- verification cached, collateral cached --
+ target connect); latency = median round trip of 64-byte ping-pongs on one connection;
throughput = MB/s echoed through one connection (both directions at once). Separately:
DCAP verification of a peer quote never seen before, with cached collateral (what a
handshake costs when a peer has just rotated its key).

Prints one JSON line, then a human table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 256 * 1024  # as the link's DATA frames (sealfeed.link.tunnel), for a like-for-like ceiling


# --- roles run as subprocesses ---------------------------------------------------------------


async def _pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while data := await r.read(CHUNK):
            w.write(data)
            await w.drain()
        if w.can_write_eof():
            w.write_eof()
    except (ConnectionError, OSError):
        pass


async def role_echo(listen: str) -> None:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"g\n")
        await _pump(r, w)
        w.close()

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(handle, host, int(port))
    async with server:
        await server.serve_forever()


async def role_forwarder(listen: str, connect: str, *, tls_in: bool, tls_out: bool) -> None:
    """A plain TLS tunnel end: the same asyncio streams and chunk size as the link."""
    from sealfeed.link.identity import client_context, create_identity

    server_ctx = (
        create_identity("plain", "00" * 32, now=time.time(), lifetime_seconds=86400,
                        quoter=lambda _spki, _at: b"").server_context
        if tls_in
        else None
    )  # fmt: skip
    client_ctx = client_context() if tls_out else None
    chost, cport = connect.rsplit(":", 1)

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            r2, w2 = await asyncio.open_connection(chost, int(cport), ssl=client_ctx)
        except OSError:
            w.close()
            return
        await asyncio.gather(_pump(r, w2), _pump(r2, w))
        w.close()
        w2.close()

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(handle, host, int(port), ssl=server_ctx)
    async with server:
        await server.serve_forever()


# --- the client side -----------------------------------------------------------------------


async def handshake(addr: tuple[str, int], tls: bool) -> float:
    from sealfeed.link.identity import client_context

    t0 = time.perf_counter()
    r, w = await asyncio.open_connection(*addr, ssl=client_context() if tls else None)
    line = await r.readline()
    dt = time.perf_counter() - t0
    assert line == b"g\n", line
    w.close()
    return dt


async def latency(addr: tuple[str, int], tls: bool, n: int) -> list[float]:
    from sealfeed.link.identity import client_context

    r, w = await asyncio.open_connection(*addr, ssl=client_context() if tls else None)
    assert await r.readline() == b"g\n"
    msg, out = b"p" * 64, []
    for _ in range(n):
        t0 = time.perf_counter()
        w.write(msg)
        await w.drain()
        await r.readexactly(64)
        out.append(time.perf_counter() - t0)
    w.close()
    return out


async def throughput(addr: tuple[str, int], tls: bool, total: int) -> float:
    from sealfeed.link.identity import client_context

    r, w = await asyncio.open_connection(*addr, ssl=client_context() if tls else None)
    assert await r.readline() == b"g\n"
    block = os.urandom(CHUNK)

    async def send() -> None:
        sent = 0
        while sent < total:
            w.write(block)
            await w.drain()
            sent += len(block)

    async def recv() -> None:
        got = 0
        while got < total:
            data = await r.read(1 << 20)
            if not data:
                raise RuntimeError(f"closed after {got} bytes")
            got += len(data)

    t0 = time.perf_counter()
    await asyncio.gather(send(), recv())
    dt = time.perf_counter() - t0
    w.close()
    return total / dt / 1e6


def _free(ip: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a helper process logging to ``log`` (whose stem names it)."""
    with log.open("ab") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=fh)


def _wait_port(addr: tuple[str, int], timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(addr, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {addr}")


def _wait_verified(status: Path, peer: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            doc = json.loads(status.read_text())
            if any(p["name"] == peer and p["verified"] for p in doc["peers"]):
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{status}: {peer} never verified")


def fresh_verification_ms(n: int) -> dict[str, float]:
    """DCAP verification of never-seen quotes against cached verified collateral, plus
    the admission checks (binding, policy, measurements)."""
    import hashlib

    from tests.fakes.tsm import FakeTdxHost, TdKnobs

    from sealfeed.attest import verify_collateral
    from sealfeed.attest.binding import peer_report_data
    from sealfeed.link.admission import PeerEvidence, admit, parse_peer_quote, verify_peer_quote
    from sealfeed.link.measurements import entry_json, parse_measurements
    from sealfeed.link.plan import LinkPolicy

    host = FakeTdxHost()
    now = time.time()
    vc = verify_collateral(host.collateral(), now=now, trust_roots=[host.root_fingerprint])
    policy = LinkPolicy(
        parse_measurements([entry_json("b", dict(enumerate(TdKnobs().registers())))])
    )
    evs = []
    for i in range(n):
        spki = os.urandom(44) + bytes([i % 256])
        rd = peer_report_data(hashlib.sha256(spki).digest(), "ab" * 32, int(now))
        evs.append(PeerEvidence("vm-b", "ab" * 32, host.quote(rd), spki))
    times = []
    for ev in evs:
        t0 = time.perf_counter()
        q = parse_peer_quote(ev.quote)
        report = verify_peer_quote(q, vc, now=now, trust_roots=(host.root_fingerprint,))
        admit(ev, report, policy=policy, config_hash="ab" * 32, max_age=660,
              collateral_valid_until=vc.valid_until, now=now)  # fmt: skip
        times.append(time.perf_counter() - t0)
    return {"median_ms": statistics.median(times) * 1e3, "p95_ms": _pct(times, 95) * 1e3}


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of ``pids`` (proc(5) /proc/<pid>/stat fields 14 and 15, clock ticks)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14, 15 counted from 1
    return total / os.sysconf("SC_CLK_TCK")


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.fakes.tsm import FakeTdxHost, TdKnobs, fuse_available

    from sealfeed.config import signing
    from sealfeed.config.example import example_solution
    from sealfeed.link.measurements import entry_json

    why = fuse_available()
    if why:
        raise SystemExit(f"bench/link.py needs the fake TDX kernel (FUSE): {why}")
    tmp = Path(tempfile.mkdtemp(prefix="sealfeed-bench-link-"))
    host = FakeTdxHost()
    owner = signing.generate_key(signing.Scheme.REFERENCE)
    (tmp / "owner.pub").write_bytes(signing.public_key_pem(owner.public()))
    sol = example_solution()
    sol["signature"] = signing.sign_reference(sol, owner)
    (tmp / "configuration.json").write_text(json.dumps({"solution": sol}))
    (tmp / "measurements.json").write_text(
        json.dumps([entry_json("bench", dict(enumerate(TdKnobs().registers())))])
    )
    host.collateral_file(tmp / "collateral.json")

    echo = ("127.0.0.1", _free("127.0.0.1"))
    a_listen, b_listen = ("127.0.0.2", _free("127.0.0.2")), ("127.0.0.3", _free("127.0.0.3"))
    endpoint = ("127.0.0.2", _free("127.0.0.2"))
    fwd_in, fwd_out = ("127.0.0.2", _free("127.0.0.2")), ("127.0.0.3", _free("127.0.0.3"))
    direct_tls = ("127.0.0.3", _free("127.0.0.3"))
    me = [sys.executable, str(Path(__file__).resolve())]
    procs: list[subprocess.Popen[bytes]] = []
    named: dict[str, int] = {}  # log stem -> pid
    mounts = []

    def s(addr: tuple[str, int]) -> str:
        return f"{addr[0]}:{addr[1]}"

    def spawn(args: list[str], stem: str) -> None:
        proc = _spawn(args, tmp / f"{stem}.log")
        procs.append(proc)
        named[stem] = proc.pid

    try:
        spawn([*me, "--role", "echo", "--listen", s(echo)], "echo")
        for name, listen, peer, peer_addr, extra in (
            ("vm-a", a_listen, "vm-b", b_listen,
             {"forward": [{"listen": s(endpoint), "target": "echo"}]}),
            ("vm-b", b_listen, "vm-a", a_listen, {}),
        ):  # fmt: skip
            plan = {
                "vm": name,
                "listen": s(listen),
                "peers": [{"name": peer, "address": s(peer_addr), **extra}],
                "targets": {"echo": s(echo)} if name == "vm-b" else {},
                "policy": {"measurements_file": "measurements.json"},
                "collateral": {"file": "collateral.json", "trust_roots": [host.root_fingerprint]},
                "reattest_seconds": 300,
                "probe_seconds": 30,
            }
            (tmp / f"plan-{name}.json").write_text(json.dumps(plan))
            mounts.append(host.mount(tmp / f"tsm-{name}", TdKnobs()))
            spawn([sys.executable, "-m", "sealfeed", "link", "serve",
                   "--plan", str(tmp / f"plan-{name}.json"),
                   "--config", str(tmp / "configuration.json"),
                   "--pubkey", str(tmp / "owner.pub"), "--tsm-root", str(mounts[-1].root),
                   "--status-file", str(tmp / f"status-{name}.json"), "--no-push"], name)  # fmt: skip
        spawn([*me, "--role", "fwd", "--listen", s(fwd_out), "--connect", s(echo), "--tls-in"],
              "fwd-out")  # fmt: skip
        spawn([*me, "--role", "fwd", "--listen", s(fwd_in), "--connect", s(fwd_out), "--tls-out"],
              "fwd-in")  # fmt: skip
        spawn([*me, "--role", "fwd", "--listen", s(direct_tls), "--connect", s(echo), "--tls-in"],
              "direct")  # fmt: skip
        for addr in (echo, endpoint, fwd_in, fwd_out, direct_tls):
            _wait_port(addr)
        _wait_verified(tmp / "status-vm-a.json", "vm-b")
        _wait_verified(tmp / "status-vm-b.json", "vm-a")

        paths = {
            "link (attested tunnel)": (endpoint, False),
            "plain TLS tunnel (ceiling)": (fwd_in, False),
            "direct TLS": (direct_tls, True),
            "direct TCP": (echo, False),
        }
        # the processes doing each path's forwarding (the echo server and this client are
        # common to all paths): their CPU per MB is the load-independent cost
        pids = {
            "link (attested tunnel)": [named["vm-a"], named["vm-b"]],
            "plain TLS tunnel (ceiling)": [named["fwd-in"], named["fwd-out"]],
            "direct TLS": [named["direct"]],
            "direct TCP": [],
        }
        total = args.mb * 1_000_000 // CHUNK * CHUNK

        async def measure() -> dict[str, dict[str, float]]:
            # rounds interleave the paths, so load from other jobs hits them alike; each
            # figure is the median over rounds (throughput) or over all samples (times)
            hs: dict[str, list[float]] = {n: [] for n in paths}
            rtt: dict[str, list[float]] = {n: [] for n in paths}
            mbps: dict[str, list[float]] = {n: [] for n in paths}
            cpu: dict[str, list[float]] = {n: [] for n in paths}
            for addr, tls in paths.values():
                await handshake(addr, tls)  # warm up (first verification, imports)
            for _ in range(args.rounds):
                for name, (addr, tls) in paths.items():
                    for _ in range(max(1, args.handshakes // args.rounds)):
                        hs[name].append(await handshake(addr, tls))
                    rtt[name] += await latency(addr, tls, max(1, args.pings // args.rounds))
                    c0 = _cpu_seconds(pids[name])
                    mbps[name].append(await throughput(addr, tls, total))
                    cpu[name].append((_cpu_seconds(pids[name]) - c0) / (total / 1e6) * 1e3)
            return {
                name: {
                    "handshake_median_ms": statistics.median(hs[name]) * 1e3,
                    "handshake_p95_ms": _pct(hs[name], 95) * 1e3,
                    "rtt_median_ms": statistics.median(rtt[name]) * 1e3,
                    "rtt_p99_ms": _pct(rtt[name], 99) * 1e3,
                    "throughput_mb_s": statistics.median(mbps[name]),
                    "throughput_runs_mb_s": [round(x, 1) for x in mbps[name]],
                    "forwarding_cpu_ms_per_mb": min(cpu[name]),
                }
                for name in paths
            }

        results = asyncio.run(measure())
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for m in mounts:
            m.stop()
    link = results["link (attested tunnel)"]
    ceiling = results["plain TLS tunnel (ceiling)"]
    direct = results["direct TLS"]
    return {
        "bench": "link",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "mb": args.mb,
        "rounds": args.rounds,
        "results": results,
        "fresh_quote_verification": fresh_verification_ms(30),
        "handshake_target_ms": 50,
        "throughput_ratio_vs_plain_tls_tunnel": link["throughput_mb_s"]
        / ceiling["throughput_mb_s"],
        "throughput_ratio_vs_direct_tls": link["throughput_mb_s"] / direct["throughput_mb_s"],
        "added_rtt_ms_vs_plain_tls_tunnel": link["rtt_median_ms"] - ceiling["rtt_median_ms"],
        "added_rtt_ms_vs_direct_tls": link["rtt_median_ms"] - direct["rtt_median_ms"],
        # capacity when CPU-bound: the plain tunnel's forwarding CPU per MB over the link's
        "cpu_efficiency_vs_plain_tls_tunnel": ceiling["forwarding_cpu_ms_per_mb"]
        / link["forwarding_cpu_ms_per_mb"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mb", type=int, default=64, help="MB echoed per throughput run")
    ap.add_argument("--pings", type=int, default=2000, help="ping-pongs per latency run")
    ap.add_argument("--handshakes", type=int, default=60, help="new connections per path")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds over the paths")
    ap.add_argument("--role", choices=["echo", "fwd"], help=argparse.SUPPRESS)
    ap.add_argument("--listen", help=argparse.SUPPRESS)
    ap.add_argument("--connect", help=argparse.SUPPRESS)
    ap.add_argument("--tls-in", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tls-out", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "echo":
        asyncio.run(role_echo(args.listen))
        return
    if args.role == "fwd":
        asyncio.run(
            role_forwarder(args.listen, args.connect, tls_in=args.tls_in, tls_out=args.tls_out)
        )
        return
    doc = run(args)
    print(json.dumps(doc))
    print()
    print(f"{'path':28} {'handshake ms':>13} {'p95':>7} {'RTT ms':>8} {'p99':>7} {'MB/s':>8} "
          f"{'fwd CPU ms/MB':>14}")  # fmt: skip
    for name, r in doc["results"].items():
        print(f"{name:28} {r['handshake_median_ms']:13.2f} {r['handshake_p95_ms']:7.2f} "
              f"{r['rtt_median_ms']:8.3f} {r['rtt_p99_ms']:7.3f} {r['throughput_mb_s']:8.1f} "
              f"{r['forwarding_cpu_ms_per_mb']:14.2f}")  # fmt: skip
    fv = doc["fresh_quote_verification"]
    print(f"\nfresh peer quote (collateral cached): verify + admit {fv['median_ms']:.2f} ms median, "
          f"{fv['p95_ms']:.2f} ms p95")  # fmt: skip
    print(f"throughput link / plain TLS tunnel: {doc['throughput_ratio_vs_plain_tls_tunnel']:.2f} "
          f"(target >= 0.80); / direct TLS: {doc['throughput_ratio_vs_direct_tls']:.2f}; "
          f"forwarding CPU efficiency vs plain TLS tunnel: "
          f"{doc['cpu_efficiency_vs_plain_tls_tunnel']:.2f}")  # fmt: skip
    print(f"added RTT vs plain TLS tunnel: {doc['added_rtt_ms_vs_plain_tls_tunnel']:.3f} ms "
          f"(target < 1 ms); vs direct TLS: {doc['added_rtt_ms_vs_direct_tls']:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
