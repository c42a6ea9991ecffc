"""Provision is idempotent, repairs drift, follows password files; readiness probes."""

from __future__ import annotations

import psycopg
import pytest

from sealfeed.postgres import probe_nodes, probe_server
from sealfeed.postgres.ready import ProbeResult, ReadyReport, wait_ready
from sealfeed.postgres.secrets import node_password_path
from sealfeed.secret import Secret, write_secret_file
from tests.postgres.conftest import Provisioned


def catalog_snapshot(p: Provisioned) -> list[tuple[object, ...]]:
    """Row versions (xmin) of everything provision may touch: any write changes them."""
    s = p.server
    rows: list[tuple[object, ...]] = []
    with s.connect() as conn:
        rows += conn.execute(
            "SELECT rolname, xmin::text, rolpassword FROM pg_authid "
            "WHERE rolname LIKE 'chainlink_node_%' ORDER BY 1"
        ).fetchall()
        rows += conn.execute(
            "SELECT datname, xmin::text, datacl::text FROM pg_database "
            "WHERE datname LIKE 'chainlink_node_%' ORDER BY 1"
        ).fetchall()
        rows += conn.execute("SELECT count(*), max(xmin::text) FROM pg_auth_members").fetchall()
    for node in s.nodes():
        with s.connect(node.database) as conn:
            rows += conn.execute(
                "SELECT nspname, xmin::text, nspacl::text FROM pg_namespace "
                "WHERE nspname = 'public'"
            ).fetchall()
    return rows


def test_second_run_is_a_no_op(pg_provisioned: Provisioned) -> None:
    pg_provisioned.provision()  # converge whatever other tests left behind
    before = catalog_snapshot(pg_provisioned)
    report = pg_provisioned.provision()
    assert not report.changed
    assert all(n.actions == () and not n.password_generated for n in report.nodes)
    assert report.as_dict()["changed"] is False
    assert catalog_snapshot(pg_provisioned) == before


def test_rotating_a_password_file_updates_the_role(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    node = pg_provisioned.node(4)
    old = pg_provisioned.password(4)
    new = Secret("rotated-Password-for-node-4-0123456789")
    write_secret_file(node_password_path(s.secrets_dir, node), new, overwrite=True)
    report = pg_provisioned.provision()
    n4 = next(n for n in report.nodes if n.index == 4)
    assert n4.actions == ("updated password of chainlink_node_4 from its secret file",)
    assert all(not n.actions for n in report.nodes if n.index != 4)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        s.connect(node.database, user=node.db_role, password=old)
    with s.connect(node.database, user=node.db_role, password=new) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "chainlink_node_4"
    # the plaintext never reached the server: only a SCRAM verifier is stored
    with s.connect() as conn:
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'chainlink_node_4'"
        ).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$") and new.reveal() not in stored
    assert new.reveal() not in s.log_tail(500)


def test_drift_is_repaired_and_reported(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    with s.connect() as conn:
        conn.execute("ALTER ROLE chainlink_node_5 CREATEDB CREATEROLE CONNECTION LIMIT 500")
        conn.execute("GRANT pg_read_all_data TO chainlink_node_5")
        conn.execute("GRANT chainlink_node_1 TO chainlink_node_5")
        conn.execute("ALTER DATABASE chainlink_node_5 OWNER TO postgres")
        conn.execute("GRANT CONNECT ON DATABASE chainlink_node_5 TO PUBLIC")
    with s.connect("chainlink_node_5") as conn:
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
    report = pg_provisioned.provision()
    n5 = next(n for n in report.nodes if n.index == 5)
    assert n5.actions == (
        "reset role chainlink_node_5 attributes (was: CREATEROLE, CREATEDB, CONNECTION LIMIT 500)",
        "revoked membership of chainlink_node_5 in chainlink_node_1",
        "revoked membership of chainlink_node_5 in pg_read_all_data",
        "changed owner of database chainlink_node_5 from postgres to chainlink_node_5",
        "revoked all privileges on database chainlink_node_5 from PUBLIC",
        "revoked all privileges on schema public from PUBLIC",
    )
    assert not pg_provisioned.provision().changed


def test_ready_probes(pg_provisioned: Provisioned) -> None:
    s = pg_provisioned.server
    assert probe_server(s.config, s.superuser_password).ok
    report = probe_nodes(s.config, s.nodes(), secrets_dir=s.secrets_dir)
    assert report.ok and len(report.probes) == 5
    with s.connect() as conn:
        conn.execute("ALTER ROLE chainlink_node_3 NOLOGIN")
    try:
        report = probe_nodes(s.config, s.nodes(), secrets_dir=s.secrets_dir)
        assert not report.ok
        bad = [p for p in report.probes if not p.ok]
        assert [p.name for p in bad] == ["node 3"]
        assert "not permitted to log in" in bad[0].detail
    finally:
        pg_provisioned.provision()  # repairs LOGIN
    assert probe_nodes(s.config, s.nodes(), secrets_dir=s.secrets_dir).ok


def test_ready_with_a_missing_password_file(pg_provisioned: Provisioned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = pg_provisioned.server
    report = probe_nodes(s.config, s.nodes(2), secrets_dir=tmp_path)
    assert not report.ok
    assert all("does not exist" in p.detail for p in report.probes)


def test_unusable_password_file_is_named(pg_provisioned: Provisioned, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sealfeed.errors import InputError
    from sealfeed.postgres import provision

    s = pg_provisioned.server
    node = s.nodes(1)[0]
    bad = node_password_path(tmp_path, node)
    bad.parent.mkdir(parents=True)
    write_secret_file(bad, "has a space")
    with pytest.raises(InputError) as err:
        provision(s.config, s.nodes(1), secrets_dir=tmp_path,
                  superuser_password=s.superuser_password)  # fmt: skip
    assert err.value.location == str(bad)


def test_wait_ready_retries_until_the_deadline_then_returns_the_last_report() -> None:
    now = [0.0]
    calls: list[float] = []

    def check() -> ReadyReport:
        calls.append(now[0])
        return ReadyReport((ProbeResult("node-1", False, f"refused at {now[0]}"),))

    def sleep(s: float) -> None:
        now[0] += s

    report = wait_ready(check, 1.0, 0.25, clock=lambda: now[0], sleep=sleep)
    assert calls == [0.0, 0.25, 0.5, 0.75, 1.0]  # every interval, the deadline included
    assert not report.ok and report.attempts == 5
    assert report.probes[0].detail == "refused at 1.0"
    assert report.as_dict()["attempts"] == 5


def test_wait_ready_stops_at_the_first_ready_round() -> None:
    rounds = iter([False, False, True, True])
    clock = iter(range(100))
    report = wait_ready(
        lambda: ReadyReport((ProbeResult("server", next(rounds), ""),)),
        60.0,
        clock=lambda: float(next(clock)),
        sleep=lambda s: None,
    )
    assert report.ok and report.attempts == 3
