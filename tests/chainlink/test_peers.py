"""Node public keys across VMs (ADR 0143): the ``node-keys`` document, what a VM may claim in
it, waiting for the bootstrap node's peer id, and the rendered bootstrapper list."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from sealfeed.chainlink.peers import (
    fetched_path,
    node_keys_document,
    parse_node_keys,
    published_path,
    remote_peer_ids,
)
from sealfeed.chainlink.render import bootstrap_nodes, bootstrappers
from sealfeed.cli import main
from sealfeed.config.model import ApplianceConfig, PlacementEntry
from sealfeed.config.placement import local_view
from sealfeed.errors import InputError
from sealfeed.link.placement import NODE_KEYS, derive_plan
from sealfeed.secret import write_secret_file
from tests.chainlink.conftest import make_config, make_keys
from tests.multivm.solution import multi_vm_solution, parse

PLACEMENT = (
    PlacementEntry("vm-a", (1,), "10.9.0.2:7400"),
    PlacementEntry("vm-b", (2, 3), "10.9.0.3:7400"),
    PlacementEntry("vm-c", (4, 5), "10.9.0.4:7400"),
)


def don(tmp: Path) -> ApplianceConfig:
    return replace(make_config(tmp), placement=PLACEMENT)


def test_the_document_round_trips_and_a_vm_speaks_for_its_nodes_only(tmp_path: Path) -> None:
    a = local_view(don(tmp_path / "a"), "vm-a")
    keys = make_keys(a)
    data = node_keys_document("vm-a", keys)
    assert parse_node_keys(data, vm="vm-a", placed=[1], source="x") == keys
    assert b"crypto" not in data and b"ciphertext" not in data  # public parts only
    with pytest.raises(InputError, match="node 1 is not placed on vm-b"):
        parse_node_keys(data.replace(b'"vm-a"', b'"vm-b"'), vm="vm-b", placed=[2, 3],
                        source="x")  # fmt: skip
    with pytest.raises(InputError, match="is 'vm-a''s document, not 'vm-c''s"):
        parse_node_keys(data, vm="vm-c", placed=[1], source="x")
    doc = json.loads(data)
    doc["nodes"]["1"]["peer_id"] = "12D3KooWnot-a-peer-id"
    with pytest.raises(InputError, match="peer id") as exc:
        parse_node_keys(json.dumps(doc).encode(), vm="vm-a", placed=[1], source="f.json")
    assert exc.value.location == "f.json: nodes.1"
    for bad in (b"[]", b"not json", b'{"version": 2}'):
        with pytest.raises(InputError):
            parse_node_keys(bad, vm="vm-a", placed=[1], source="x")


def test_the_layout_is_the_links(tmp_path: Path) -> None:
    """Render writes and reads where the link serves and stores (two modules, one layout)."""
    cfg = local_view(parse(multi_vm_solution()), "vm-b")
    plan = derive_plan(cfg, run_dir=str(tmp_path))
    assert NODE_KEYS in plan.documents
    assert Path(plan.documents[NODE_KEYS]) == published_path(tmp_path)
    assert plan.peers_dir is not None
    assert Path(plan.peers_dir) / "vm-a" / f"{NODE_KEYS}.json" == fetched_path(tmp_path, "vm-a")


def test_waiting_for_the_bootstrap_nodes_peer_id(tmp_path: Path) -> None:
    a_keys = make_keys(local_view(don(tmp_path / "a"), "vm-a"))
    b = local_view(don(tmp_path / "b"), "vm-b")
    link = tmp_path / "link-b"
    assert [n.index for n in bootstrap_nodes(b)] == [1]  # node 1 lives on vm-a
    # nothing yet: the error says what the link knows about vm-a
    link.mkdir()
    (link / "status.json").write_text(json.dumps({"peers": [{"name": "vm-a", "verified": False,
        "last_failure": {"reason": "debug", "detail": "a debug TD"}}]}))  # fmt: skip
    with pytest.raises(InputError, match=r"vm-a \(node 1\): not verified: debug: a debug TD"):
        remote_peer_ids(b, link, nodes=[1], wait_seconds=0)
    # the link fetches it a moment later: the wait ends, with progress until then
    lines: list[str] = []

    def arrive() -> None:
        time.sleep(0.3)
        path = fetched_path(link, "vm-a")
        path.parent.mkdir(parents=True)
        path.write_bytes(node_keys_document("vm-a", a_keys))

    t = threading.Thread(target=arrive)
    t.start()
    got = remote_peer_ids(b, link, nodes=[1], progress=lines.append, poll=0.05)
    t.join()
    assert got == {1: a_keys[1].peer_id}
    assert lines and lines[0].startswith("waiting for the node keys of vm-a (node 1)")
    b_keys = make_keys(b)
    peers = bootstrappers(b, {**got, **{i: k.peer_id for i, k in b_keys.items()}})
    assert peers == [f"{a_keys[1].peer_id}@127.0.0.1:9901"]
    with pytest.raises(InputError, match="no peer id for bootstrap node 1"):
        bootstrappers(b, {i: k.peer_id for i, k in b_keys.items()})


def test_one_vm_without_placement_renders_as_before(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    keys = make_keys(cfg)
    assert [n.index for n in bootstrap_nodes(cfg)] == [1]
    assert bootstrappers(cfg, {i: k.peer_id for i, k in keys.items()}) == [
        f"{keys[1].peer_id}@127.0.0.1:9901"
    ]


def test_render_on_a_vm_without_the_bootstrap_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``chainlink render`` on vm-b: keys for its own nodes only, published for the link;
    the bootstrapper is vm-a's node 1, whose peer id came through the link."""
    a_keys = make_keys(local_view(don(tmp_path / "a"), "vm-a"))
    b = local_view(don(tmp_path / "b"), "vm-b")
    for node in b.nodes.specs():
        path = Path(b.secrets_dir) / "postgres" / f"{node.db_role}.password"
        write_secret_file(path, f"pg-password-{node.index}-0123456789")
    link = tmp_path / "link"
    fetched = fetched_path(link, "vm-a")
    fetched.parent.mkdir(parents=True)
    fetched.write_bytes(node_keys_document("vm-a", a_keys))
    out = tmp_path / "out"
    argv = ["chainlink", "render", "--scrypt-n", "1024", "--no-chown", "--out", str(out),
            "--link-dir", str(link), "--json"]  # fmt: skip
    assert main(argv, load_config=lambda args: b) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert [n["node"] for n in doc["nodes"]] == [2, 3]
    assert not (Path(b.secrets_dir) / "chainlink" / "node-1").exists()  # not vm-b's key
    published = json.loads(published_path(link).read_text())
    assert published["vm"] == "vm-b" and sorted(published["nodes"]) == ["2", "3"]
    config = tomllib.loads((out / "node-2" / "config.toml").read_text())
    p2p = config["P2P"]["V2"]
    assert p2p["DefaultBootstrappers"] == [f"{a_keys[1].peer_id}@127.0.0.1:9901"]
    assert p2p["ListenAddresses"] == p2p["AnnounceAddresses"] == ["127.0.0.1:9902"]
    job = (out / "node-3" / "jobs").glob("*.toml")
    assert all(f"{a_keys[1].peer_id}@127.0.0.1:9901" in j.read_text() for j in job)
    # a wrong document is an error at once, naming the file
    fetched.write_bytes(node_keys_document("vm-c", a_keys))
    assert main([*argv[:-1], "--wait-seconds", "5"], load_config=lambda args: b) == 2
    assert str(fetched) in capsys.readouterr().err
