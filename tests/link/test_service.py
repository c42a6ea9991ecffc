"""LinkService in-process: real sockets on 127.0.0.x, real TLS 1.3, quotes from the fake
TDX machine. Tunnels carry bytes both ways, re-attest in band, and close when the peer
stops verifying; refusals carry their reason on both sides."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from sealfeed.attest.binding import peer_report_data
from sealfeed.config.model import MetricsPushConfig, MonitoringLabels
from sealfeed.link import protocol as P
from sealfeed.link.identity import create_identity, direct_quoter
from sealfeed.link.status import format_status, read_status
from tests.fakes.tsm import FakeTdxHost, TdKnobs
from tests.fixtures.metrics_backends import Pushgateway
from tests.link.conftest import CONFIG_HASH, OTHER_CONFIG_HASH
from tests.link.evil import evil_client, evil_server
from tests.link.helpers import Node, Vm, eventually, free_port, run, stopping, talk


@pytest.fixture
def coll(host: FakeTdxHost, tmp_path: Path) -> Path:
    return host.collateral_file(tmp_path / "collateral.json")


def vm(name: str, ip: str, **kw: object) -> Vm:
    return Vm(name, ip, free_port(ip), **kw)  # type: ignore[arg-type]


def own_collateral(src: Path, name: str) -> Path:
    """Each VM reads its own collateral file (a refresh on one does not touch the others)."""
    dst = src.with_name(f"collateral-{name}.json")
    shutil.copy(src, dst)
    return dst


def failures(v: Vm, peer: str) -> dict[str, int]:
    assert v.svc is not None
    return dict(v.svc.peers[peer].failures)


def test_tunnels_carry_bytes_both_ways(host: FakeTdxHost, coll: Path, tmp_path: Path) -> None:
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    pa, pb = free_port("127.0.0.2"), free_port("127.0.0.3")
    big = os.urandom(3 * 1024 * 1024 + 17)

    async def scenario() -> None:
        n1, n2 = await Node("node-1").start(), await Node("node-2").start()
        plan_a = a.plan(host, coll, targets={"node-1": f"127.0.0.1:{n1.port}"},
                        peers=[{"name": "vm-b", "address": b.address,
                                "forward": [{"listen": f"127.0.0.2:{pa}", "target": "node-2"}]}])  # fmt: skip
        plan_b = b.plan(host, coll, targets={"node-2": f"127.0.0.1:{n2.port}"},
                        peers=[{"name": "vm-a", "address": a.address,
                                "forward": [{"listen": f"127.0.0.3:{pb}", "target": "node-1"}]}])  # fmt: skip
        async with stopping(a, b):
            await a.start(host, plan_a, status_path=tmp_path / "a.json")
            await b.start(host, plan_b)
            assert a.svc and b.svc
            await eventually(lambda: a.svc.peers["vm-b"].verified, "vm-a verifies vm-b")  # type: ignore[union-attr]
            await eventually(lambda: b.svc.peers["vm-a"].verified, "vm-b verifies vm-a")  # type: ignore[union-attr]
            (g1, e1), (g2, e2) = await asyncio.gather(
                talk(("127.0.0.2", pa), big), talk(("127.0.0.3", pb), b"ping from vm-b")
            )
            assert (g1, g2) == ("node-2", "node-1")
            assert e1 == big and e2 == b"ping from vm-b"
            await eventually(lambda: not a.svc.tunnels and not b.svc.tunnels, "tunnels closed")  # type: ignore[union-attr]
            reg = a.svc.registry
            sent = reg.get_sample_value(
                "sealfeed_link_bytes_total", {"peer": "vm-b", "direction": "sent"}
            )
            recv = reg.get_sample_value(
                "sealfeed_link_bytes_total", {"peer": "vm-b", "direction": "received"}
            )
            # both tunnels count for the peer: ours to node-2 and vm-b's to our node-1
            other = len("node-1\n") + len(b"ping from vm-b")
            assert sent == len(big) + other and recv == len(big) + other
            assert reg.get_sample_value("sealfeed_link_peer_verified", {"peer": "vm-b"}) == 1
            assert (
                reg.get_sample_value(
                    "sealfeed_link_tunnels_open", {"peer": "vm-b", "direction": "outbound"}
                )
                == 0
            )
            assert (
                b.svc.registry.get_sample_value(
                    "sealfeed_link_bytes_total", {"peer": "vm-a", "direction": "received"}
                )
                == len(big) + other
            )
        n1.close(), n2.close()

    run(scenario())
    doc = read_status(tmp_path / "a.json")
    assert doc["stopped"] is True and doc["vm"] == "vm-a"
    peer = doc["peers"][0]
    assert peer["verified"] is True and peer["admission"]["measurement_id"] == "sealfeed-0"
    assert peer["bytes"]["sent"] > len(big)
    assert "vm-b" in format_status(doc) and "yes" in format_status(doc)


def test_reattestation_in_band_and_a_peer_that_stops_verifying(
    host: FakeTdxHost, coll: Path
) -> None:
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    pa = free_port("127.0.0.2")

    async def scenario() -> None:
        n2 = await Node("node-2").start()
        plan_a = a.plan(host, coll, reattest_seconds=1,
                        peers=[{"name": "vm-b", "address": b.address,
                                "forward": [{"listen": f"127.0.0.2:{pa}", "target": "node-2"}]}])  # fmt: skip
        plan_b = b.plan(host, coll, reattest_seconds=1, targets={"node-2": f"127.0.0.1:{n2.port}"},
                        peers=[{"name": "vm-a", "address": a.address}])  # fmt: skip
        async with stopping(a, b):
            await a.start(host, plan_a)
            await b.start(host, plan_b)
            assert a.svc and b.svc
            await eventually(lambda: a.svc.peers["vm-b"].verified, "vm-a verifies vm-b")  # type: ignore[union-attr]
            r, w = await asyncio.open_connection("127.0.0.2", pa)
            assert await r.readline() == b"node-2\n"
            tunnel = next(iter(a.svc.tunnels))
            first = tunnel.admission.issued_at
            # keys rotate every second; the tunnel asks for fresh proofs in band
            await eventually(lambda: tunnel.admission.issued_at > first + 1, "re-attested", 15)
            assert not tunnel.closed.is_set()
            w.write(b"still here")
            await w.drain()
            assert await r.readexactly(10) == b"still here"

            b.td = TdKnobs(debug=True)  # vm-b's next identity comes from a debug TD
            await eventually(tunnel.closed.is_set, "tunnel closed after a failed re-attestation")
            assert tunnel.close_reason is not None and tunnel.close_reason[0] == "debug"
            assert await r.read() == b""  # the local side sees the close
            w.close()
            assert not a.svc.peers["vm-b"].verified
            assert failures(a, "vm-b").get("debug", 0) >= 1
            # new connections are refused while vm-b keeps presenting a debug TD
            r, w = await asyncio.open_connection("127.0.0.2", pa)
            assert await asyncio.wait_for(r.read(), 10) == b""
            w.close()

            b.td = TdKnobs()  # fixed: the next identity verifies again
            await eventually(lambda: a.svc.peers["vm-b"].verified, "vm-b re-admitted", 15)  # type: ignore[union-attr]
            greeting, echo = await talk(("127.0.0.2", pa), b"back")
            assert (greeting, echo) == ("node-2", b"back")
        n2.close()

    run(scenario())


def test_collateral_refresh_closes_the_tunnels_of_a_revoked_peer(
    host: FakeTdxHost, coll: Path
) -> None:
    a = vm("vm-a", "127.0.0.2")
    b = vm("vm-b", "127.0.0.3", td=TdKnobs(platform=1))
    c = vm("vm-c", "127.0.0.4")
    pb, pc = free_port("127.0.0.2"), free_port("127.0.0.2")
    coll_a = own_collateral(coll, "a")

    async def scenario() -> None:
        n2, n3 = await Node("node-2").start(), await Node("node-3").start()
        plan_a = a.plan(host, coll_a, probe_seconds=30, peers=[
            {"name": "vm-b", "address": b.address,
             "forward": [{"listen": f"127.0.0.2:{pb}", "target": "node-2"}]},
            {"name": "vm-c", "address": c.address,
             "forward": [{"listen": f"127.0.0.2:{pc}", "target": "node-3"}]}])  # fmt: skip
        plan_b = b.plan(host, coll, targets={"node-2": f"127.0.0.1:{n2.port}"},
                        peers=[{"name": "vm-a", "address": a.address}])  # fmt: skip
        plan_c = c.plan(host, coll, targets={"node-3": f"127.0.0.1:{n3.port}"},
                        peers=[{"name": "vm-a", "address": a.address}])  # fmt: skip
        async with stopping(a, b, c):
            for v, p in ((a, plan_a), (b, plan_b), (c, plan_c)):
                await v.start(host, p)
            assert a.svc is not None
            rb, wb = await asyncio.open_connection("127.0.0.2", pb)
            rc, wc = await asyncio.open_connection("127.0.0.2", pc)
            assert await rb.readline() == b"node-2\n" and await rc.readline() == b"node-3\n"
            assert len(a.svc.peers["vm-b"].tunnels) == 1

            host.collateral_file(coll_a, revoke_platforms=(1,))  # vm-b's platform
            a.svc.refresh_now.set()  # what SIGHUP does; otherwise every refresh_seconds
            await eventually(lambda: not a.svc.peers["vm-b"].tunnels, "vm-b's tunnels closed")  # type: ignore[union-attr]
            assert await rb.read() == b""
            assert failures(a, "vm-b").get("revoked", 0) >= 1
            assert not a.svc.peers["vm-b"].verified
            # vm-c is on another platform: its tunnel keeps working
            wc.write(b"unaffected")
            await wc.drain()
            assert await rc.readexactly(10) == b"unaffected"
            assert a.svc.peers["vm-c"].verified
            wb.close(), wc.close()
        n2.close(), n3.close()

    run(scenario())


def test_refusals_are_reported_on_both_sides(host: FakeTdxHost, coll: Path) -> None:
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    z = vm("vm-z", "127.0.0.4", config_hash=OTHER_CONFIG_HASH)
    p_unknown, p_down = free_port("127.0.0.2"), free_port("127.0.0.2")
    closed_port = free_port()

    async def scenario() -> None:
        plan_a = a.plan(host, coll, peers=[{"name": "vm-b", "address": b.address, "forward": [
            {"listen": f"127.0.0.2:{p_unknown}", "target": "nope"},
            {"listen": f"127.0.0.2:{p_down}", "target": "down"}]}])  # fmt: skip
        plan_b = b.plan(host, coll, targets={"down": f"127.0.0.1:{closed_port}"},
                        peers=[{"name": "vm-a", "address": a.address}])  # fmt: skip
        # vm-z is not in vm-b's plan and runs another configuration
        plan_z = z.plan(host, coll, peers=[{"name": "vm-b", "address": b.address}])
        async with stopping(a, b, z):
            for v, p in ((a, plan_a), (b, plan_b), (z, plan_z)):
                await v.start(host, p)
            assert a.svc and b.svc and z.svc
            for port in (p_unknown, p_down):
                r, w = await asyncio.open_connection("127.0.0.2", port)
                assert await asyncio.wait_for(r.read(), 10) == b""  # closed, nothing leaked
                w.close()
            await eventually(lambda: failures(b, "vm-a").get("target_unreachable", 0) >= 1, "b")
            assert failures(b, "vm-a").get("unknown_target", 0) >= 1
            last = a.svc.peers["vm-b"].last_failure
            assert last is not None and last["reason"] == "refused_by_peer"
            assert failures(a, "vm-b")["refused_by_peer"] >= 2
            assert a.svc.peers["vm-b"].verified  # refusing us is not a reason to distrust it
            # vm-z: vm-b is not its peer's configuration -> z refuses b (config_hash); b counts
            # z's attempts as an unknown VM
            await eventually(lambda: failures(z, "vm-b").get("config_hash", 0) >= 1, "z refuses b")
            assert not z.svc.peers["vm-b"].verified
            unknown = b.svc.registry.get_sample_value(
                "sealfeed_link_peer_failures_total", {"peer": "unknown", "reason": "unknown_peer"}
            )
            assert unknown is not None
            assert (
                b.svc.registry.get_sample_value("sealfeed_link_peer_verified", {"peer": "unknown"})
                is None
            )

    run(scenario())


def test_replayed_quotes_are_refused(host: FakeTdxHost, coll: Path) -> None:
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    evil_port = free_port("127.0.0.5")

    async def scenario() -> None:
        evil = await evil_server(host, "127.0.0.5", evil_port)
        plan_a = a.plan(host, coll, peers=[{"name": "vm-x", "address": f"127.0.0.5:{evil_port}"}])
        plan_b = b.plan(host, coll, peers=[{"name": "vm-a", "address": a.address}])
        async with stopping(a, b):
            await a.start(host, plan_a)
            await b.start(host, plan_b)
            assert a.svc and b.svc
            # we dial the replayer: its quote does not bind its TLS key
            await eventually(lambda: failures(a, "vm-x").get("binding", 0) >= 1, "a refuses vm-x")
            assert not a.svc.peers["vm-x"].verified
            # the replayer dials us, claiming vm-a
            addr = ("127.0.0.3", b.port)
            assert await evil_client(host, addr, sign_with_k1=False) == "binding"
            assert await evil_client(host, addr, sign_with_k1=True) == "proof"
            assert failures(b, "vm-a").get("binding", 0) >= 1
            assert failures(b, "vm-a").get("proof", 0) >= 1
        evil.close()

    run(scenario())


def test_metrics_are_pushed(
    host: FakeTdxHost, coll: Path, metrics_pushgateway: Pushgateway
) -> None:
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    push = MetricsPushConfig(enabled=True, url=metrics_pushgateway.url, interval_ms=100)

    async def scenario() -> None:
        plan_a = a.plan(host, coll, peers=[{"name": "vm-b", "address": b.address}])
        plan_b = b.plan(host, coll, peers=[{"name": "vm-a", "address": a.address}])
        async with stopping(a, b):
            await a.start(host, plan_a, pushes=(push,), labels=MonitoringLabels("tee", "test"))
            await b.start(host, plan_b)

            def pushed() -> bool:
                return any(
                    lbl.get("peer") == "vm-b" and lbl.get("vm") == "vm-a" and v == 1
                    for lbl, v in metrics_pushgateway.series("sealfeed_link_peer_verified")
                )

            await asyncio.to_thread(lambda: None)
            await eventually(pushed, "vm-a pushes vm-b verified", 20)
        series = metrics_pushgateway.series("sealfeed_link_peer_failures_total")
        assert {"peer", "reason", "job", "instance", "vm"} <= set(series[0][0])
        assert series[0][0]["job"] == "sealfeed-link"

    run(scenario())


def test_identity_binds_key_and_configuration(host: FakeTdxHost) -> None:
    ident = create_identity("vm-a", CONFIG_HASH, now=time.time(), lifetime_seconds=60,
                            quoter=direct_quoter(host.quote, CONFIG_HASH))  # fmt: skip
    from sealfeed.attest import parse_quote

    rd = parse_quote(ident.quote).report.report_data
    assert rd == peer_report_data(hashlib.sha256(ident.spki).digest(), CONFIG_HASH, ident.issued_at)
    assert P.certificate_spki(ident.cert_der) == ident.spki
    assert ident.session_id == hashlib.sha256(ident.cert_der).digest()
    assert "PrivateKey" not in repr(ident) and "key=" not in repr(ident)


def test_collateral_from_a_pccs_and_its_refresh(host: FakeTdxHost, tmp_path: Path) -> None:
    """PCCS mode: collateral fetched per FMSPC/CA (cached on disk); a refresh that brings a
    revocation closes the revoked peer's tunnels."""
    from tests.fakes.pcs import FakePcs, serve_fake_pcs

    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    pb = free_port("127.0.0.2")
    fmspc = host.base.pck_fmspc.hex().upper()
    with serve_fake_pcs(FakePcs()) as pcs:
        pcs.add("tdx", fmspc, "platform", host.collateral())

        async def scenario() -> None:
            n2 = await Node("node-2").start()
            coll_a = {"pccs_url": pcs.url, "cache_dir": str(tmp_path / "cache"),
                      "trust_roots": [host.root_fingerprint]}  # fmt: skip
            plan_a = a.plan(host, coll_a, peers=[{"name": "vm-b", "address": b.address,
                            "forward": [{"listen": f"127.0.0.2:{pb}", "target": "node-2"}]}])  # fmt: skip
            plan_b = b.plan(host, host.collateral_file(tmp_path / "c.json"),
                            targets={"node-2": f"127.0.0.1:{n2.port}"},
                            peers=[{"name": "vm-a", "address": a.address}])  # fmt: skip
            async with stopping(a, b):
                await a.start(host, plan_a)
                await b.start(host, plan_b)
                assert a.svc is not None
                r, w = await asyncio.open_connection("127.0.0.2", pb)
                assert await r.readline() == b"node-2\n"
                assert any("tcb?fmspc=" + fmspc in q for q in pcs.requests)
                assert (tmp_path / "cache" / f"tdx-{fmspc}-platform.json").is_file()
                pcs.add("tdx", fmspc, "platform", host.collateral(revoke_platforms=(0,)))
                a.svc.refresh_now.set()
                await eventually(lambda: not a.svc.tunnels, "tunnel closed after the refresh")  # type: ignore[union-attr]
                assert await r.read() == b""
                assert failures(a, "vm-b").get("revoked", 0) >= 1
                w.close()
            n2.close()

        run(scenario())
