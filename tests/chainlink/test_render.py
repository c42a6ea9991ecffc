"""config.toml / secrets.toml / apicredentials: golden files, round trip, schema, modes."""

from __future__ import annotations

import os
import pwd
import stat
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.render import (
    CONFIG_SCHEMA,
    SECRETS_SCHEMA,
    bootstrappers,
    check_schema,
    flatten,
    render_config,
    render_node_files,
    write_node_files,
)
from sealfeed.config.model import ApplianceConfig, NodesConfig
from sealfeed.errors import InputError
from sealfeed.secret import Secret
from tests.chainlink.conftest import assert_golden, make_config, make_keys

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
DB_URL = Secret(
    "postgresql://chainlink_node_{n}:pw%2Bfor%2Fnode-{n}-0123456789@/chainlink_node_{n}"
    "?host=/run/postgresql&port=5432&sslmode=disable"
)


def _render_all(
    cfg: ApplianceConfig, keys: dict[int, NodePublicKeys]
) -> dict[int, dict[str, bytes]]:
    peers = bootstrappers(cfg, {i: k.peer_id for i, k in keys.items()})
    out = {}
    for node in cfg.nodes.specs():
        url = Secret(DB_URL.reveal().format(n=node.index))
        files = render_node_files(
            cfg,
            node,
            default_bootstrappers=peers,
            database_url=url,
        )
        out[node.index] = {f.name: f.content for f in files}
    return out


@pytest.mark.parametrize(("layout", "total"), [("one-node", 1), ("bootstrap-plus-4", 5)])
def test_golden(tmp_path: Path, layout: str, total: int) -> None:
    cfg = make_config(Path("/golden"), total=total)
    cfg = replace(cfg, secrets_dir=str(tmp_path / "secrets"))
    rendered = _render_all(cfg, make_keys(cfg, seed=42))
    assert len(rendered) == total
    for index, files in rendered.items():
        for name, content in files.items():
            assert_golden(f"{layout}/node-{index}/{name}", content.decode(), UPDATE)


def test_round_trip_and_schema(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys]
) -> None:
    for index, files in _render_all(cl_config, cl_keys).items():
        config = tomllib.loads(files["config.toml"].decode())
        secrets = tomllib.loads(files["secrets.toml"].decode())
        check_schema(config, CONFIG_SCHEMA)
        check_schema(secrets, SECRETS_SCHEMA)
        node = cl_config.nodes.node(index)
        assert config["WebServer"]["HTTPPort"] == 6600 + index
        assert config["WebServer"]["ListenIP"] == "127.0.0.1"
        assert config["WebServer"]["SecureCookies"] is False
        assert config["P2P"]["V2"]["ListenAddresses"] == [f"0.0.0.0:{9900 + index}"]
        assert "PeerID" not in config["P2P"]  # ADR 0071
        assert config["OCR2"]["Enabled"] is True
        assert config["EVM"][0]["ChainID"] == "5611"
        assert config["EVM"][0]["Nodes"][0]["HTTPURL"] == cl_config.chain.rpc_http_url
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


def test_sendonly_nodes_have_no_ws(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, nodes=NodesConfig(total=5, primary=(1, 2, 3)))
    doc = render_config(cfg, cfg.nodes.node(5), default_bootstrappers=[])
    node = doc["EVM"][0]["Nodes"][0]
    assert node["SendOnly"] is True and "WSURL" not in node and node["Name"].endswith("sendonly")


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
        render_node_files(
            cfg, cfg.nodes.node(2), default_bootstrappers=[], database_url=Secret("u")
        )
    assert exc.value.location == location


@pytest.mark.parametrize(
    ("field", "value"),
    [("rpc_http_url", "wss://x"), ("rpc_ws_url", "https://x"), ("rpc_ws_url", ""), ("chain_id", 0)],
)
def test_chain_checks(tmp_path: Path, field: str, value: object) -> None:
    cfg = make_config(tmp_path)
    cfg = replace(cfg, chain=replace(cfg.chain, **{field: value}))
    with pytest.raises(InputError) as exc:
        render_node_files(
            cfg, cfg.nodes.node(2), default_bootstrappers=[], database_url=Secret("u")
        )
    assert exc.value.location == f"chain.{field}"


def test_write_modes_and_owner(
    cl_config: ApplianceConfig, cl_keys: dict[int, NodePublicKeys], tmp_path: Path
) -> None:
    peers = bootstrappers(cl_config, {i: k.peer_id for i, k in cl_keys.items()})
    files = render_node_files(
        cl_config,
        cl_config.nodes.node(2),
        default_bootstrappers=peers,
        database_url=DB_URL,
    )
    assert "pw" not in repr(files)
    owner = "nobody" if os.geteuid() == 0 else None
    written = write_node_files(files, tmp_path / "out", owner=owner)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in written}
    assert modes == {"config.toml": 0o644, "secrets.toml": 0o600, "apicredentials": 0o600}
    if owner:
        uid = pwd.getpwnam(owner).pw_uid
        assert all(p.stat().st_uid == uid for p in written)
    # a node user that does not exist: files are still written (warning logged)
    write_node_files(files, tmp_path / "out2", owner="no-such-user-sealfeed")
    assert (tmp_path / "out2" / "secrets.toml").exists()
