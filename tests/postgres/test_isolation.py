"""Against a real server: each node role reaches its own database and nothing else."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from tests.postgres.conftest import Provisioned


def test_first_provision_created_everything(pg_provisioned: Provisioned) -> None:
    report = pg_provisioned.first_report
    assert report.changed
    assert [n.role for n in report.nodes] == [f"chainlink_node_{i}" for i in range(1, 6)]
    for n in report.nodes:
        assert f"created role {n.role} (connection limit 23)" in n.actions
        assert f"created database {n.database} owned by {n.role}" in n.actions
        assert n.password_generated
        assert Path(n.password_file).stat().st_mode & 0o777 == 0o600
        assert ":***@/" in n.url


def test_node_uses_its_own_database(pg_provisioned: Provisioned) -> None:
    with pg_provisioned.connect_as(2) as conn:  # type: ignore[attr-defined]
        conn.execute("CREATE TABLE IF NOT EXISTS mine (v int)")
        conn.execute("INSERT INTO mine VALUES (1)")
        assert conn.execute("SELECT count(*) FROM mine").fetchone()[0] >= 1
        conn.execute("CREATE SCHEMA IF NOT EXISTS evm")  # Chainlink migrations do this
        # trusted extensions (PG 13+) need only the database owner, not a superuser
        available = {
            r[0] for r in conn.execute("SELECT name FROM pg_available_extensions").fetchall()
        }
        for ext in ("pgcrypto", "pg_trgm", "uuid-ossp"):
            if ext in available:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{ext}"')


@pytest.mark.parametrize("dbname", ["chainlink_node_3", "postgres", "template1"])
def test_node_2_cannot_connect_elsewhere(pg_provisioned: Provisioned, dbname: str) -> None:
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        pg_provisioned.connect_as(2, dbname)


def test_node_3_role_cannot_log_in_with_node_2_password(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        s.connect("chainlink_node_3", user="chainlink_node_3", password=pg_provisioned.password(2))


def test_wrong_password_rejected(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        s.connect("chainlink_node_2", user="chainlink_node_2", password="not-the-password-at-all")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        s.connect(password="not-the-superuser-password")


def test_node_cannot_create_databases_or_roles(pg_provisioned: Provisioned) -> None:
    with pg_provisioned.connect_as(2) as conn:  # type: ignore[attr-defined]
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE sneaky")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE sneaky LOGIN")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE chainlink_node_2 CREATEDB")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE chainlink_node_3 PASSWORD 'x-x-x-x-x-x-x-x'")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SET ROLE chainlink_node_3")


def test_tcp_closed_by_default(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    with s.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", s.port))


def test_no_table_access_even_with_connect_granted(pg_provisioned: Provisioned) -> None:
    """Defence in depth: a mistaken GRANT CONNECT + a permissive pg_hba.conf still reads
    nothing of node 3 -- and the next provision run takes the grant back."""
    s = pg_provisioned.server
    hba = s.data_dir / "pg_hba.conf"
    original = hba.read_text()
    with s.connect() as su:
        su.execute("GRANT CONNECT, TEMPORARY ON DATABASE chainlink_node_3 TO chainlink_node_2")
    try:
        # someone also "fixed" pg_hba.conf to let everybody in with a password
        hba.write_text("local all all scram-sha-256\n")
        s.reload()
        with pg_provisioned.connect_as(2, "chainlink_node_3") as conn:  # type: ignore[attr-defined]
            with pytest.raises(errors.InsufficientPrivilege, match="schema public"):
                conn.execute("SELECT * FROM public.keys")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE public.planted (x int)")
            # not even a privilege lookup can resolve names in node 3's schema
            with pytest.raises(errors.InsufficientPrivilege, match="schema public"):
                conn.execute("SELECT has_table_privilege('public.keys', 'SELECT')")
    finally:
        hba.write_text(original)
        s.reload()
    report = pg_provisioned.provision()
    node3 = next(n for n in report.nodes if n.index == 3)
    assert node3.actions == ("revoked all privileges on database chainlink_node_3 from "
                             "chainlink_node_2",)  # fmt: skip
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        pg_provisioned.connect_as(2, "chainlink_node_3")


def test_privileges_checked_with_set_role(pg_provisioned: Provisioned) -> None:
    """The SQL privilege layer alone (no pg_hba.conf involved): node 2's rights in node 3's DB."""
    s = pg_provisioned.server
    with s.connect("chainlink_node_3") as conn:
        conn.execute("SET ROLE chainlink_node_2")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM public.keys")
        conn.execute("RESET ROLE")
        assert conn.execute("SELECT k FROM public.keys").fetchone()[0] == "node-3-private"
