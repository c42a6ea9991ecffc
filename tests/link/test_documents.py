"""Attested documents (ADR 0143): a VM serves small files to verified peers only, and fetches
every peer's into ``peers_dir``; a document not published yet is no failure, a refused peer
gets nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sealfeed.link.documents import MAX_DOCUMENT_BYTES
from tests.fakes.tsm import FakeTdxHost, TdKnobs
from tests.link.helpers import Vm, eventually, free_port, run, stopping


def vm(name: str, ip: str, **kw: object) -> Vm:
    return Vm(name, ip, free_port(ip), **kw)  # type: ignore[arg-type]


def test_documents_reach_verified_peers_only(host: FakeTdxHost, tmp_path: Path) -> None:
    coll = host.collateral_file(tmp_path / "collateral.json")
    a, b = vm("vm-a", "127.0.0.2"), vm("vm-b", "127.0.0.3")
    m = vm("vm-m", "127.0.0.4", td=TdKnobs(debug=True))
    keys_a = tmp_path / "a" / "public" / "node-keys.json"
    peers_b, peers_m = tmp_path / "b" / "peers", tmp_path / "m" / "peers"

    def plan(v: Vm, doc: Path, peers_dir: Path, *others: Vm) -> object:
        return v.plan(host, coll, peers=[{"name": o.name, "address": o.address} for o in others],
                      documents={"node-keys": str(doc)}, fetch=["node-keys"],
                      peers_dir=str(peers_dir), reattest_seconds=1, probe_seconds=0.2)  # fmt: skip

    async def scenario() -> None:
        async with stopping(a, b, m):
            await a.start(host, plan(a, keys_a, tmp_path / "a" / "peers", b, m))  # type: ignore[arg-type]
            await b.start(host, plan(b, tmp_path / "b.json", peers_b, a))  # type: ignore[arg-type]
            await m.start(host, plan(m, tmp_path / "m.json", peers_m, a))  # type: ignore[arg-type]
            assert a.svc and b.svc and m.svc
            await eventually(lambda: b.svc.peers["vm-a"].verified, "vm-b verifies vm-a")  # type: ignore[union-attr]
            # not published yet: asked again on every probe, never counted as a failure
            await eventually(lambda: a.svc.peers["vm-b"].last_verified is not None, "probe")  # type: ignore[union-attr]
            assert not (peers_b / "vm-a").exists()
            assert sum(b.svc.peers["vm-a"].failures.values()) == 0
            keys_a.parent.mkdir(parents=True)
            keys_a.write_text(json.dumps({"version": 1, "vm": "vm-a", "nodes": {}}))
            fetched = peers_b / "vm-a" / "node-keys.json"
            await eventually(fetched.exists, "vm-b fetched vm-a's document")
            assert fetched.read_bytes() == keys_a.read_bytes()
            doc = b.svc.status()["peers"][0]["documents"]["node-keys"]
            assert doc["bytes"] == len(keys_a.read_bytes()) and len(doc["sha256"]) == 64
            # a new content is fetched again (once per re-attestation period)
            keys_a.write_text(json.dumps({"version": 1, "vm": "vm-a", "nodes": {"1": {}}}))
            await eventually(lambda: fetched.read_bytes() == keys_a.read_bytes(), "refetched")
            # the debug TD is refused by vm-a: it never gets the document
            await eventually(lambda: m.svc.peers["vm-a"].failures["refused_by_peer"] > 0,  # type: ignore[union-attr]
                             "vm-a refuses the debug TD")  # fmt: skip
            assert not (peers_m / "vm-a").exists()

    run(scenario())


def test_a_document_is_bounded(tmp_path: Path) -> None:
    import asyncio

    from sealfeed.link.documents import read_document

    big = tmp_path / "big"
    big.write_bytes(b"x" * (MAX_DOCUMENT_BYTES + 1))
    small = tmp_path / "small"
    small.write_bytes(b"{}")
    assert asyncio.run(read_document(str(big))) is None
    assert asyncio.run(read_document(str(small))) == b"{}"
    assert asyncio.run(read_document(str(tmp_path / "absent"))) is None
