"""config.toml / secrets.toml / apicredentials / jobs: golden files, round trip, schema, modes,
and the issue #18 fixes (primary RPC on every node, explicit fixed gas price, CCIP off,
loopback P2P, OCR1/OCR2 switches, job specs on disk)."""

from __future__ import annotations

import os
import pwd
import stat
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from sealfeed.chainlink.jobs import desired_jobs
from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.render import (
    CONFIG_SCHEMA,
    SECRETS_SCHEMA,
    P2PAddresses,
    RenderedFile,
    bootstrappers,
    check_evm_nodes,
    check_p2p,
    check_schema,
    flatten,
    p2p_addresses,
    render_config,
    render_node_files,
    write_node_files,
)
from sealfeed.config.model import ApplianceConfig, FeedConfig, NodesConfig
from sealfeed.errors import InputError
from sealfeed.secret import Secret
from tests.chainlink.conftest import FEEDS, MIXED_FEEDS, assert_golden, make_config, make_keys

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DB_URL = Secret(
    "postgresql://chainlink_node_{n}:pw%2Bfor%2Fnode-{n}-0123456789@/chainlink_node_{n}"
    "?host=/run/postgresql&port=5432&sslmode=disable"
)


NO_P2P = P2PAddresses(listen=("127.0.0.1:9902",), announce=("127.0.0.1:9902",), bootstrappers=())


def render_all(
    cfg: ApplianceConfig, keys: dict[int, NodePublicKeys]
) -> dict[int, dict[str, bytes]]:
    """Every node's files as the CLI renders them (job specs included when feeds exist)."""
    peers = bootstrappers(cfg, {i: k.peer_id for i, k in keys.items()})
    jobs = desired_jobs(cfg, bootstrappers=peers, keys=keys) if cfg.chainlink.feeds else {}
    out = {}
    for node in cfg.nodes.specs():
        url = Secret(DB_URL.reveal().format(n=node.index))
        files = render_node_files(
            cfg,
            node,
            p2p=p2p_addresses(cfg, node, peers),
            database_url=url,
            jobs=jobs.get(node.index, ()),
        )
        out[node.index] = {f.name: f.content for f in files}
    return out


@pytest.mark.parametrize(
    ("layout", "total", "feeds", "gas"),
    [
        ("one-node", 1, FEEDS, None),
        ("bootstrap-plus-4", 5, FEEDS, None),
        # OCR1 + OCR2 feeds side by side, a fixed gas price of 1 gwei
        ("mixed-ocr1-fixed-gas", 5, MIXED_FEEDS, 10**9),
    ],
)
def test_golden(
    tmp_path: Path, layout: str, total: int, feeds: tuple[FeedConfig, ...], gas: int | None
) -> None:
    cfg = make_config(Path("/golden"), total=total, feeds=feeds, gas_price_wei=gas)
    cfg = replace(cfg, secrets_dir=str(tmp_path / "secrets"))
    rendered = render_all(cfg, make_keys(cfg, seed=42))
    assert len(rendered) == total
    for index, files in rendered.items():
        for name, content in files.items():
            assert_golden(f"{layout}/node-{index}/{name}", content.decode(), UPDATE)


def test_round_trip_and_schema(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    for index, files in render_all(cl_config, cl_keys).items():
        config = tomllib.loads(files["config.toml"].decode())
        secrets = tomllib.loads(files["secrets.toml"].decode())
        check_schema(config, CONFIG_SCHEMA)
        check_schema(secrets, SECRETS_SCHEMA)
        node = cl_config.nodes.node(index)
        assert config["WebServer"]["HTTPPort"] == 6600 + index
        assert config["WebServer"]["ListenIP"] == "127.0.0.1"
        assert config["WebServer"]["SecureCookies"] is False
        # every listener on loopback unless configured (issue #18 item 5, ADR 0116)
        assert config["P2P"]["V2"]["ListenAddresses"] == [f"127.0.0.1:{9900 + index}"]
        assert config["P2P"]["V2"]["AnnounceAddresses"] == [f"127.0.0.1:{9900 + index}"]
        assert "PeerID" not in config["P2P"]  # ADR 0071
        assert config["OCR2"]["Enabled"] is True and config["OCR"]["Enabled"] is False
        assert config["Feature"]["CCIP"] is False
        assert config["EVM"][0]["ChainID"] == "5611"
        assert config["EVM"][0]["Nodes"] == [
            {
                "Name": f"evm-{index}-primary",
                "WSURL": cl_config.chain.rpc_ws_url,
                "HTTPURL": cl_config.chain.rpc_http_url,
                "SendOnly": False,
            }
        ]
        assert config["RootDir"] == node.workdir
        boot = config["P2P"]["V2"]["DefaultBootstrappers"]
        if node.role == "bootstrap":
            assert boot == []
        else:
            assert boot == [f"{cl_keys[1].peer_id}@127.0.0.1:9901"]
        assert secrets["Database"]["URL"].startswith(f"postgresql://chainlink_node_{index}:")
        assert secrets["Password"]["Keystore"] == cl_config.chainlink.keystore_password.reveal()
        assert files["apicredentials"].decode().splitlines() == [
            cl_config.chainlink.email,
            cl_config.chainlink.password.reveal(),
        ]


def test_schema_rejects_unknown_keys() -> None:
    with pytest.raises(InputError, match="not in the Chainlink schema"):
        check_schema({"WebServer": {"HTTPPorts": 1}}, CONFIG_SCHEMA)
    with pytest.raises(InputError, match="type"):
        check_schema({"WebServer": {"HTTPPort": "6601"}}, CONFIG_SCHEMA)
    assert flatten({"EVM": [{"Nodes": [{"Name": "x"}]}]}) == {"EVM[].Nodes[].Name": "x"}


def test_nodes_outside_primary_keep_a_primary_rpc(tmp_path: Path) -> None:
    """Issue #18 item 1: the reference gave such nodes one SendOnly node without WSURL, which
    Chainlink refuses ("must have at least one primary node")."""
    cfg = make_config(tmp_path)
    cfg = replace(cfg, nodes=NodesConfig(total=5, primary=(1, 2, 3)))
    for index in (4, 5):
        doc = render_config(cfg, cfg.nodes.node(index), p2p=NO_P2P)
        (node,) = doc["EVM"][0]["Nodes"]
        assert node["SendOnly"] is False and node["WSURL"] == cfg.chain.rpc_ws_url


def test_send_only_nodes_are_never_alone() -> None:
    send_only = {"Name": "a", "HTTPURL": "https://a.example/", "SendOnly": True}
    primary = {"Name": "b", "WSURL": "wss://b/", "HTTPURL": "https://b/", "SendOnly": False}
    with pytest.raises(InputError, match="at least one primary"):
        check_evm_nodes([send_only])
    with pytest.raises(InputError, match="needs a WSURL"):
        check_evm_nodes([{**primary, "WSURL": ""}])
    with pytest.raises(InputError, match="duplicate HTTPURL"):
        check_evm_nodes([primary, {**send_only, "HTTPURL": primary["HTTPURL"]}])
    check_evm_nodes([primary, send_only])


def test_gas_price_block_is_complete(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, chain=replace(cfg.chain, gas_price_wei=3_000_000_000))
    gas = render_config(cfg, cfg.nodes.node(2), p2p=NO_P2P)["EVM"][0]["GasEstimator"]
    assert gas["Mode"] == "FixedPrice" and gas["EIP1559DynamicFees"] is False
    assert gas["PriceDefault"] == gas["PriceMin"] == gas["PriceMax"] == "3000000000 wei"
    assert gas["BumpThreshold"] == 0 and gas["LimitDefault"] == 500_000
    no_price = render_config(make_config(tmp_path), cfg.nodes.node(2), p2p=NO_P2P)
    assert "GasEstimator" not in no_price["EVM"][0]  # nothing configured: chain defaults
    for bad in (-1, 2**256, True):
        broken = replace(cfg, chain=replace(cfg.chain, gas_price_wei=bad))
        with pytest.raises(InputError) as exc:
            render_config(broken, cfg.nodes.node(2), p2p=NO_P2P)
        assert exc.value.location == "chain.gas_price_wei"


@pytest.mark.parametrize(
    ("versions", "ocr", "ocr2"),
    [((2, 2), False, True), ((1, 2), True, True), ((1, 1), True, False), ((), False, True)],
)
def test_ocr_switches_follow_the_feeds(
    tmp_path: Path, versions: tuple[int, ...], ocr: bool, ocr2: bool
) -> None:
    feeds = tuple(replace(f, ocr_version=v) for f, v in zip(FEEDS, versions, strict=False))
    cfg = make_config(tmp_path, feeds=feeds)
    doc = render_config(cfg, cfg.nodes.node(1), p2p=NO_P2P)
    assert (doc["OCR"]["Enabled"], doc["OCR2"]["Enabled"]) == (ocr, ocr2)


def test_p2p_addresses_are_inputs(tmp_path: Path) -> None:
    """A deployment across VMs configures listen/announce hosts; a tunnel layer can pass any
    P2PAddresses (data in, data out)."""
    cfg = make_config(tmp_path)
    cfg = replace(
        cfg,
        nodes=replace(cfg.nodes, p2p_listen_host="0.0.0.0", p2p_announce_host="2001:db8::7"),
    )
    peer = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
    assert bootstrappers(cfg, {1: peer}) == [f"{peer}@[2001:db8::7]:9901"]
    p2p = p2p_addresses(cfg, cfg.nodes.node(3), [f"{peer}@10.0.0.1:9901"])
    assert p2p == P2PAddresses(
        listen=("0.0.0.0:9903",), announce=("[2001:db8::7]:9903",),
        bootstrappers=(f"{peer}@10.0.0.1:9901",),
    )  # fmt: skip
    assert p2p_addresses(cfg, cfg.nodes.node(1), ["x"]).bootstrappers == ()
    tunnel = P2PAddresses(("127.0.0.1:9903",), ("127.0.0.1:19003",), (f"{peer}@127.0.0.1:19001",))
    v2 = render_config(cfg, cfg.nodes.node(3), p2p=tunnel)["P2P"]["V2"]
    assert v2["ListenAddresses"] == ["127.0.0.1:9903"]
    assert v2["AnnounceAddresses"] == ["127.0.0.1:19003"]
    assert v2["DefaultBootstrappers"] == [f"{peer}@127.0.0.1:19001"]
    for bad, location in (
        (replace(tunnel, listen=()), "P2P.V2.ListenAddresses"),
        (replace(tunnel, announce=("127.0.0.1",)), "P2P.V2.AnnounceAddresses"),
        (replace(tunnel, bootstrappers=("nopeer@127.0.0.1:1",)), "P2P.V2.DefaultBootstrappers"),
        (replace(tunnel, bootstrappers=(f"{peer}@host:port",)), "P2P.V2.DefaultBootstrappers"),
    ):
        with pytest.raises(InputError) as exc:
            check_p2p(bad)
        assert exc.value.location == location
    bad_host = replace(cfg, nodes=replace(cfg.nodes, p2p_listen_host="a b"))
    with pytest.raises(InputError) as exc:
        p2p_addresses(bad_host, cfg.nodes.node(2), [])
    assert exc.value.location == "nodes.p2p_listen_host"


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("keystore_password", Secret("short"), "chainlink.keystore_password"),
        ("password", Secret("x" * 51), "chainlink.password"),
        ("password", Secret(" leading-space-password "), "chainlink.password"),
        ("email", "not-an-email", "chainlink.email"),
    ],
)
def test_password_policy(tmp_path: Path, field: str, value: object, location: str) -> None:
    cfg = make_config(tmp_path, **{field: value})
    with pytest.raises(InputError) as exc:
        render_node_files(cfg, cfg.nodes.node(2), p2p=NO_P2P, database_url=Secret("u"))
    assert exc.value.location == location


@pytest.mark.parametrize(
    ("field", "value"),
    [("rpc_http_url", "wss://x"), ("rpc_ws_url", "https://x"), ("rpc_ws_url", ""), ("chain_id", 0)],
)
def test_chain_checks(tmp_path: Path, field: str, value: object) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, chain=replace(cfg.chain, **{field: value}))
    with pytest.raises(InputError) as exc:
        render_node_files(cfg, cfg.nodes.node(2), p2p=NO_P2P, database_url=Secret("u"))
    assert exc.value.location == f"chain.{field}"


def test_write_modes_and_owner(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys], tmp_path: Path
) -> None:
    peers = bootstrappers(cl_config, {i: k.peer_id for i, k in cl_keys.items()})
    jobs = desired_jobs(cl_config, bootstrappers=peers, keys=cl_keys)
    node = cl_config.nodes.node(2)
    files = render_node_files(
        cl_config,
        node,
        p2p=p2p_addresses(cl_config, node, peers),
        database_url=DB_URL,
        jobs=jobs[2],
    )
    assert "pw" not in repr(files)
    owner = "nobody" if os.geteuid() == 0 else None
    written = write_node_files(files, tmp_path / "out", owner=owner)
    modes = {str(p.relative_to(tmp_path / "out")): stat.S_IMODE(p.stat().st_mode) for p in written}
    assert modes == {
        "config.toml": 0o644,
        "secrets.toml": 0o600,
        "apicredentials": 0o600,
        "jobs/btc-usd.toml": 0o644,
        "jobs/eth-usd.toml": 0o644,
    }
    # the files are the exact specs publish sends
    for job in jobs[2]:
        assert (tmp_path / "out" / "jobs" / job.file_name).read_text() == job.toml
    if owner:
        uid = pwd.getpwnam(owner).pw_uid
        assert all(p.stat().st_uid == uid for p in written)
    # a node user that does not exist: files are still written (warning logged)
    write_node_files(files, tmp_path / "out2", owner="no-such-user-sealfeed")
    assert (tmp_path / "out2" / "secrets.toml").exists()


def test_stale_job_files_are_removed(tmp_path: Path) -> None:
    def job(name: str) -> RenderedFile:
        return RenderedFile(f"jobs/{name}", b"x", 0o644, False)

    base = [RenderedFile("config.toml", b"", 0o644, False)]
    out = tmp_path / "node-2"
    write_node_files([*base, job("a.toml"), job("b.toml")], out, owner=None)
    (out / "jobs" / "notes.txt").write_text("operator's")
    write_node_files([*base, job("b.toml")], out, owner=None)
    assert sorted(p.name for p in (out / "jobs").iterdir()) == ["b.toml", "notes.txt"]
    write_node_files(base, out, owner=None)  # no feeds: no specs left behind
    assert sorted(p.name for p in (out / "jobs").iterdir()) == ["notes.txt"]


def test_job_for_another_node_is_a_bug(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    peers = bootstrappers(cl_config, {i: k.peer_id for i, k in cl_keys.items()})
    jobs = desired_jobs(cl_config, bootstrappers=peers, keys=cl_keys)
    with pytest.raises(AssertionError, match="for node 3"):
        render_node_files(
            cl_config, cl_config.nodes.node(2), p2p=NO_P2P, database_url=DB_URL, jobs=jobs[3]
        )
