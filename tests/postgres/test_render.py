"""Pure renderers: pg_hba.conf, postgresql.conf, the node database URL, name checks."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sealfeed.config.model import NodesConfig, PostgresConfig
from sealfeed.errors import InputError
from sealfeed.postgres import (
    TuneInputs,
    node_database_url,
    node_database_url_redacted,
    render_pg_hba,
    render_postgresql_conf,
    tune,
)
from sealfeed.secret import Secret

NODES = NodesConfig(total=3).specs()


def rules(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line and not line.startswith("#")]


def test_hba_socket_only_by_default() -> None:
    assert rules(render_pg_hba(PostgresConfig(), NODES)) == [
        ["local", "all", "postgres", "scram-sha-256"],
        ["local", "chainlink_node_1", "chainlink_node_1", "scram-sha-256"],
        ["local", "chainlink_node_2", "chainlink_node_2", "scram-sha-256"],
        ["local", "chainlink_node_3", "chainlink_node_3", "scram-sha-256"],
        ["local", "replication", "all", "reject"],
        ["host", "replication", "all", "all", "reject"],
        ["local", "all", "all", "reject"],
        ["host", "all", "all", "all", "reject"],
    ]


def test_hba_tcp_lines_only_for_node_roles_when_configured() -> None:
    r = rules(render_pg_hba(PostgresConfig(listen_tcp=True), NODES))
    host_allow = [x for x in r if x[0] == "host" and x[-1] != "reject"]
    assert host_allow == [
        ["host", f"chainlink_node_{i}", f"chainlink_node_{i}", "127.0.0.1/32", "scram-sha-256"]
        for i in (1, 2, 3)
    ]
    # the superuser never over TCP; methods are SCRAM or reject, nothing else
    assert not any(x[0] == "host" and x[2] == "postgres" for x in r)
    assert {x[-1] for x in r} == {"scram-sha-256", "reject"}
    assert r[-1] == ["host", "all", "all", "all", "reject"]


def test_hba_ipv6_host_and_bad_host() -> None:
    r = rules(render_pg_hba(PostgresConfig(listen_tcp=True, host="::1"), NODES[:1]))
    assert ["host", "chainlink_node_1", "chainlink_node_1", "::1/128", "scram-sha-256"] in r
    with pytest.raises(InputError) as err:
        render_pg_hba(PostgresConfig(listen_tcp=True, host="localhost"), NODES)
    assert err.value.location == "postgres.host"


@pytest.mark.parametrize("prefix", ["Chainlink", "1abc", "pg_node", "a-b", "x" * 70, "a b"])
def test_names_must_be_plain_identifiers(prefix: str) -> None:
    nodes = NodesConfig(total=1, database_prefix=prefix).specs()
    with pytest.raises(InputError) as err:
        render_pg_hba(PostgresConfig(), nodes)
    assert err.value.location == "nodes[1].database"


def test_superuser_name_checked() -> None:
    with pytest.raises(InputError) as err:
        render_pg_hba(PostgresConfig(superuser="all"), NODES)
    assert err.value.location == "postgres.superuser"


def test_database_url_format_and_encoding() -> None:
    pg = PostgresConfig(socket_dir="/run/postgresql", port=5432)
    node = NODES[1]
    pw = Secret("p@ss:w/rd?&%#x")
    url = node_database_url(pg, node, pw)
    assert isinstance(url, Secret) and repr(url) == "Secret('***')"
    raw = url.reveal()
    assert raw == (
        "postgresql://chainlink_node_2:p%40ss%3Aw%2Frd%3F%26%25%23x@/chainlink_node_2"
        "?host=/run/postgresql&port=5432&sslmode=disable"
    )
    parts = urlsplit(raw)
    assert unquote(parts.password or "") == pw.reveal()
    assert parts.username == "chainlink_node_2" and parts.path == "/chainlink_node_2"
    assert parse_qs(parts.query) == {
        "host": ["/run/postgresql"], "port": ["5432"], "sslmode": ["disable"]
    }  # fmt: skip
    redacted = node_database_url_redacted(pg, node)
    assert redacted == raw.replace("p%40ss%3Aw%2Frd%3F%26%25%23x", "***")


def test_postgresql_conf_lists_reasons_and_skips() -> None:
    r = tune(TuneInputs(1 << 30, 2, 3, 20, known_settings=frozenset({"port", "shared_buffers"})))
    text = render_postgresql_conf(r)
    lines = text.splitlines()
    assert "port           = 5432" in lines
    assert "shared_buffers = '153MB'" in lines
    i = lines.index("shared_buffers = '153MB'")
    assert lines[i - 1].startswith("# 15% of 1.0 GiB effective memory")
    assert "#   max_connections = 82" in lines  # skipped, listed as a comment
    assert "listen_addresses" not in "".join(x for x in lines if not x.startswith("#"))


def test_conf_quotes_strings() -> None:
    r = tune(TuneInputs(1 << 30, 2, 3, 20, socket_dir="/tmp/it's"))
    assert "unix_socket_directories          = '/tmp/it''s'" in render_postgresql_conf(r)
