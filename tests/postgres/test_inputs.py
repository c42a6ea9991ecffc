"""CLI input resolution: the verified config, with flags overriding field by field."""

from __future__ import annotations

import argparse

import pytest

from sealfeed.config.model import (
    AggregatorConfig,
    ApplianceConfig,
    ChainConfig,
    ChainlinkConfig,
    ExporterConfig,
    NodesConfig,
    PostgresConfig,
)
from sealfeed.postgres import cli
from sealfeed.secret import Secret

#: the --config paths the commands asked to load, in order (reset per test by ``loaded``)
LOADED: list[str] = []


def _load(args: argparse.Namespace) -> ApplianceConfig:
    LOADED.append(args.config)
    return fake_config()


def parse(*argv: str) -> argparse.Namespace:
    """``pg hba`` arguments, loading the configuration through the seam (args.load_config)."""
    parser = argparse.ArgumentParser()
    cli.register(parser)
    args = parser.parse_args(["hba", *argv])
    args.load_config = _load
    return args


def fake_config() -> ApplianceConfig:
    return ApplianceConfig(
        nodes=NodesConfig(total=4),
        chain=ChainConfig(chain_id=1, rpc_http_url="http://x", rpc_ws_url="ws://x"),
        postgres=PostgresConfig(
            data_dir="/cfg/data", socket_dir="/cfg/run", port=5433, max_open_conns_per_node=30
        ),
        chainlink=ChainlinkConfig(
            email="a@b", password=Secret("x" * 16), keystore_password=Secret("y" * 16)
        ),
        aggregator=AggregatorConfig(),
        exporter=ExporterConfig(),
        secrets_dir="/cfg/secrets",
    )


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    LOADED.clear()
    monkeypatch.delenv("CONFIGURATION_PATH", raising=False)
    monkeypatch.delenv("PGDATA", raising=False)
    return LOADED


def test_config_mode_uses_the_verified_config(loaded: list[str]) -> None:
    inp = cli._resolve(parse("--config", "/sp/c.json"))
    assert loaded == ["/sp/c.json"]
    assert [n.index for n in inp.nodes] == [1, 2, 3, 4]
    assert (inp.pg.data_dir, inp.pg.port, inp.secrets_dir) == ("/cfg/data", 5433, "/cfg/secrets")
    assert inp.pg.max_open_conns_per_node == 30


def test_default_config_path_when_no_nodes_flag(loaded: list[str]) -> None:
    cli._resolve(parse())
    assert loaded == ["/sp/configurations/configuration.json"]


def test_flags_override_config_fields(loaded: list[str]) -> None:
    inp = cli._resolve(
        parse(
            "--config",
            "/sp/c.json",
            "--nodes",
            "2",
            "--data-dir",
            "/d",
            "--port",
            "7000",
            "--secrets-dir",
            "/s",
            "--listen-tcp",
            "--pool",
            "5",
        )
    )
    assert [n.index for n in inp.nodes] == [1, 2]
    assert (inp.pg.data_dir, inp.pg.port, inp.secrets_dir) == ("/d", 7000, "/s")
    assert inp.pg.listen_tcp and inp.pg.max_open_conns_per_node == 5
    assert inp.pg.socket_dir == "/cfg/run"  # not overridden


def test_explicit_mode_reads_no_config(loaded: list[str]) -> None:
    inp = cli._resolve(parse("--nodes", "3", "--secrets-dir", "/s"))
    assert loaded == []
    assert [n.db_role for n in inp.nodes] == [f"chainlink_node_{i}" for i in (1, 2, 3)]
    assert inp.pg == PostgresConfig()
    assert inp.secrets_dir == "/s"
