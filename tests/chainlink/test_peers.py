"""Node public keys across VMs (ADR 0143): the ``node-keys`` document, what a VM may claim in
it, waiting for the bootstrap node's peer id, and the rendered bootstrapper list."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import eth_abi
import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from eth_utils import function_signature_to_4byte_selector, keccak

from sealfeed.chainlink.keys import key_path, load_public_keys
from sealfeed.chainlink.keystore import OCR1KeyBundle
from sealfeed.chainlink.ocr1_config import DON_CONFIG, ENCODED_COMPONENTS
from sealfeed.chainlink.oracle_set import oracle_set
from sealfeed.chainlink.peers import (
    fetched_path,
    node_keys_document,
    parse_node_keys,
    published_path,
    remote_peer_ids,
)
from sealfeed.chainlink.render import bootstrap_nodes, bootstrappers
from sealfeed.cli import main
from sealfeed.config.model import ApplianceConfig, FeedConfig, PlacementEntry
from sealfeed.config.placement import local_view
from sealfeed.errors import ExternalError, InputError
from sealfeed.link.placement import NODE_KEYS, derive_plan
from sealfeed.secret import write_secret_file
from tests.chainlink.conftest import FEEDS, MIXED_FEEDS, make_config, make_keys
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
    with pytest.raises(ExternalError, match=r"vm-a \(node 1\): not verified: debug: a debug TD"):
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


# --- oracle-set for a DON across VMs (ADR 0147) ----------------------------------------------


def _vms(tmp: Path, feeds: tuple[FeedConfig, ...] = MIXED_FEEDS) -> dict[str, ApplianceConfig]:
    """Each VM's own view of one signed configuration, with its own secrets dir and keys."""
    views = {}
    for entry in PLACEMENT:
        cfg = replace(make_config(tmp / entry.name, feeds=feeds), placement=PLACEMENT)
        views[entry.name] = local_view(cfg, entry.name)
        make_keys(views[entry.name])
    return views


def _link_dir(tmp: Path, vm: str, views: dict[str, ApplianceConfig], *, peers: list[str]) -> Path:
    """``vm``'s link dir holding what its link fetched from ``peers`` (their own documents)."""
    link = tmp / f"link-{vm}"
    link.mkdir(exist_ok=True)
    for peer in peers:
        keys = {n.index: load_public_keys(views[peer].secrets_dir, n.index)
                for n in views[peer].nodes.specs()}  # fmt: skip
        path = fetched_path(link, peer)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(node_keys_document(peer, keys))
    return link


def _oracle_set_cli(
    cfg: ApplianceConfig, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["chainlink", "oracle-set", *args], load_config=lambda _: cfg)
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def _without_secrets(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what is drawn afresh on every run (OCR1 shared secrets)."""
    doc = json.loads(json.dumps(doc))
    for feed in doc.get("ocr1", {}).get("feeds", []):
        del feed["set_config"]
    return doc


def test_oracle_set_of_a_don_across_three_vms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every VM prints the whole DON's oracle set -- its own keys plus the other VMs'
    documents -- identical on every VM, identical to the set computed from all keys at once,
    ordered by node index; the OCR1 and OCR2 encodings carry exactly those keys and every
    oracle, on its own VM, decrypts the OCR1 shared secret with its own key file."""
    views = _vms(tmp_path)
    names = [e.name for e in PLACEMENT]
    home = {n: vm for vm, cfg in views.items() for n in (s.index for s in cfg.nodes.specs())}
    every = {n: load_public_keys(views[vm].secrets_dir, n) for n, vm in home.items()}
    don = replace(make_config(tmp_path / "don", feeds=MIXED_FEEDS), placement=PLACEMENT)
    expected = _without_secrets(oracle_set(don, every))
    docs = {}
    for vm in names:
        link = _link_dir(tmp_path, vm, views, peers=[p for p in names if p != vm])
        code, doc, err = _oracle_set_cli(views[vm], capsys, "--link-dir", str(link))
        assert code == 0 and doc is not None, err
        docs[vm] = doc
        assert _without_secrets(doc) == expected, vm
    assert [o["node"] for o in expected["oracles"]] == [2, 3, 4, 5]  # node 1 bootstraps
    assert expected["f"] == 1
    o2 = expected["ocr2"]
    assert o2["signers"] == [every[i].ocr2_onchain_address for i in (2, 3, 4, 5)]
    assert o2["transmitters"] == [every[i].evm_address for i in (2, 3, 4, 5)]
    assert o2["peer_ids"] == [every[i].peer_id for i in (2, 3, 4, 5)]
    assert o2["offchain_public_keys"] == ["0x" + every[i].ocr2_offchain_public_key
                                          for i in (2, 3, 4, 5)]  # fmt: skip
    assert o2["config_public_keys"] == ["0x" + every[i].ocr2_config_public_key
                                        for i in (2, 3, 4, 5)]  # fmt: skip
    # vm-c's OCR1 call data, checked as the single-VM test does (tests/chainlink/
    # test_oracle_set.py): decoded with eth-abi, the shared secret decrypted by each oracle
    o1 = docs["vm-c"]["ocr1"]
    assert o1["signers"] == [every[i].ocr1_onchain_signing_address for i in (2, 3, 4, 5)]
    (feed,) = o1["feeds"]
    sc = feed["set_config"]
    encoded = bytes.fromhex(sc["encoded"][2:])
    (components,) = eth_abi.decode([ENCODED_COMPONENTS], encoded)
    offkeys, peers, sse = components[9:]
    assert ["0x" + k.hex() for k in offkeys] == o1["offchain_public_keys"]
    assert peers == ",".join(o1["peer_ids"]) == ",".join(o2["peer_ids"])
    data = bytes.fromhex(sc["calldata"][2:])
    assert data[:4] == function_signature_to_4byte_selector(
        "setConfig(address[],address[],uint8,uint64,bytes)"
    )
    signers, transmitters, threshold, version, blob = eth_abi.decode(
        ["address[]", "address[]", "uint8", "uint64", "bytes"], data[4:]
    )
    assert [a.lower() for a in signers] == [a.lower() for a in o1["signers"]]
    assert [a.lower() for a in transmitters] == [a.lower() for a in o1["transmitters"]]
    assert (threshold, version, blob) == (1, 1, encoded)
    data = bytes.fromhex(sc["superProtocolCalldata"][2:])
    assert data[:4] == function_signature_to_4byte_selector(f"setConfig({DON_CONFIG})")
    ((s2, t2, th2, _, keys2, peers2, sse2),) = eth_abi.decode([DON_CONFIG], data[4:])
    assert (s2, t2, th2, keys2, peers2, sse2) == (signers, transmitters, 1, offkeys, peers, sse)
    point = x25519.X25519PublicKey.from_public_bytes(sse[0])
    secrets = set()
    for k, node in enumerate((2, 3, 4, 5)):
        cfg = views[home[node]]  # the oracle's own VM: its key file never left it
        bundle = OCR1KeyBundle.from_export(
            json.loads(key_path(cfg.secrets_dir, node, "ocr").read_text()),
            cfg.chainlink.keystore_password,
        )
        dh = x25519.X25519PrivateKey.from_private_bytes(bundle.encryption_scalar).exchange(point)
        dec = Cipher(algorithms.AES(keccak(dh)[:16]), modes.ECB()).decryptor()
        secret = dec.update(sse[2][k]) + dec.finalize()
        assert keccak(secret) == sse[1]
        secrets.add(secret)
    assert len(secrets) == 1


def test_oracle_set_names_the_vms_whose_keys_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    views = _vms(tmp_path, feeds=FEEDS)
    a = views["vm-a"]
    link = _link_dir(tmp_path, "vm-a", views, peers=["vm-b"])
    (link / "status.json").write_text(json.dumps({"peers": [{"name": "vm-c", "verified": False,
        "last_failure": {"reason": "measurements", "detail": "differs in MRTD"}}]}))  # fmt: skip
    code, _, err = _oracle_set_cli(a, capsys, "--link-dir", str(link))
    assert code == 3, err
    assert (
        "no node keys yet from vm-c (node 4, 5): not verified: measurements: differs in MRTD" in err
    )
    assert "vm-b" not in err

    # waiting: the document arrives while oracle-set waits, with progress until then
    def arrive() -> None:
        time.sleep(0.5)
        _link_dir(tmp_path, "vm-a", views, peers=["vm-c"])

    t = threading.Thread(target=arrive)
    t.start()
    code, doc, err = _oracle_set_cli(a, capsys, "--link-dir", str(link), "--wait-seconds", "30")
    t.join()
    assert code == 0 and doc is not None, err
    assert [o["node"] for o in doc["oracles"]] == [2, 3, 4, 5]
    assert "waiting for the node keys of vm-c (node 4, 5) through the attested link" in err
    # the whole DON's configuration read outside any VM holds nobody's keys: say so
    whole = replace(make_config(tmp_path / "x"), placement=PLACEMENT)
    code, _, err = _oracle_set_cli(whole, capsys, "--link-dir", str(link))
    assert code == 2 and "tell this VM its name" in err


def test_oracle_set_refuses_a_document_without_the_ocr1_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A VM's document published before a feed used OCR1 lacks the OCR1 bundle: the error
    names that document, not a key file this VM does not have."""
    views = _vms(tmp_path, feeds=FEEDS)  # keys (and documents) for OCR2 only
    mixed = {vm: replace(cfg, chainlink=replace(cfg.chainlink, feeds=MIXED_FEEDS))
             for vm, cfg in views.items()}  # fmt: skip
    make_keys(mixed["vm-a"])  # vm-a itself has its OCR1 bundle now
    link = _link_dir(tmp_path, "vm-a", views, peers=["vm-b", "vm-c"])
    code, _, err = _oracle_set_cli(mixed["vm-a"], capsys, "--link-dir", str(link))
    assert code == 2, err
    assert f"{fetched_path(link, 'vm-b')}: node 2 has no OCR1 key bundle in its VM's" in err
