"""Bootstrap against real initdb/postgres: create, keep, refuse (and leave untouched)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sealfeed.config.model import NodesConfig, PostgresConfig
from sealfeed.errors import InputError
from sealfeed.postgres import bootstrap, inspect_data_dir, provision
from sealfeed.postgres.control import server_user
from tests.fixtures.postgres import (
    FIXTURE_LIMITS,
    PgServer,
    destroy_pg_server,
    make_pg_server,
)


def tree_digest(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under ``root`` with mode, owner and content hash."""
    out: dict[str, tuple[int, int, str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in [".", *files]:
            p = Path(dirpath) / name
            st = p.stat()
            digest = "" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, digest)
    return out


@pytest.fixture(scope="module")
def pristine() -> Iterator[PgServer]:
    """A bootstrapped, never-started cluster; tests work on ``cp -a`` copies of it."""
    server = make_pg_server(nodes=2, start=False)
    try:
        yield server
    finally:
        destroy_pg_server(server)


@pytest.fixture
def cluster_copy(pristine: PgServer) -> Iterator[Path]:
    dest = pristine.base / f"copy-{os.urandom(4).hex()}"
    subprocess.run(["cp", "-a", str(pristine.data_dir), str(dest)], check=True)
    try:
        yield dest
    finally:
        subprocess.run(["rm", "-rf", str(dest)], check=True)


def run_bootstrap(server: PgServer, data_dir: Path, **cfg: object) -> object:
    pg = PostgresConfig(
        data_dir=str(data_dir),
        socket_dir=str(server.socket_dir),
        port=server.port,
        **cfg,  # type: ignore[arg-type]
    )
    return bootstrap(
        pg,
        NodesConfig(total=2).specs(),
        secrets_dir=server.secrets_dir,
        limits=FIXTURE_LIMITS,
        bins=server.bins,
    )


def refuses(server: PgServer, data_dir: Path, match: str) -> InputError:
    before = tree_digest(data_dir)
    with pytest.raises(InputError, match=match) as err:
        run_bootstrap(server, data_dir)
    assert tree_digest(data_dir) == before, "bootstrap changed a directory it refused"
    return err.value


def test_fresh_cluster_has_checksums_utf8_and_scram(pristine: PgServer) -> None:
    control = subprocess.run(
        [pristine.bins.path("pg_controldata"), str(pristine.data_dir)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Data page checksum version:           1" in control
    assert inspect_data_dir(pristine.data_dir).kind == "cluster"
    assert (pristine.data_dir / "PG_VERSION").read_text().strip() == str(pristine.bins.major)
    st = pristine.data_dir.stat()
    assert st.st_mode & 0o777 == 0o700 and st.st_uid == server_user().uid
    conf = (pristine.data_dir / "postgresql.conf").read_text()
    assert "password_encryption              = 'scram-sha-256'" in conf
    assert "data_checksums" not in conf  # an initdb property, not a setting
    pw = pristine.superuser_password_file
    assert pw.stat().st_mode & 0o777 == 0o600
    assert pw.read_text().strip() not in conf


def test_kept_cluster_is_a_no_op(pg_server: PgServer) -> None:
    """Bootstrap on the running session server with the same inputs changes nothing."""
    before = tree_digest(pg_server.data_dir / "global")
    conf = (pg_server.data_dir / "postgresql.conf").read_text()
    report = bootstrap(
        pg_server.config, pg_server.nodes(), secrets_dir=pg_server.secrets_dir,
        limits=FIXTURE_LIMITS, bins=pg_server.bins,
    )  # fmt: skip
    assert report.action == "kept"
    assert (report.conf_changed, report.hba_changed) == (False, False)
    assert not report.superuser_password_generated and not report.superuser_password_reset
    assert report.checksums and report.server_running
    assert (pg_server.data_dir / "postgresql.conf").read_text() == conf
    assert tree_digest(pg_server.data_dir / "global").keys() == before.keys()


def test_foreign_directory_refused_untouched(pristine: PgServer) -> None:
    d = pristine.base / "foreign"
    d.mkdir()
    (d / "family-photos").write_bytes(b"\x89PNG precious")
    (d / "notes.txt").write_text("do not delete")
    err = refuses(pristine, d, "not a PostgreSQL cluster")
    assert err.location == str(d)
    assert "family-photos" in err.message


def test_corrupt_pg_version_refused(cluster_copy: Path, pristine: PgServer) -> None:
    (cluster_copy / "PG_VERSION").write_bytes(b"\x00\xffgarbage")
    err = refuses(pristine, cluster_copy, "PG_VERSION is corrupt")
    assert err.location == str(cluster_copy / "PG_VERSION")


def test_corrupt_pg_control_refused(cluster_copy: Path, pristine: PgServer) -> None:
    ctl = cluster_copy / "global" / "pg_control"
    raw = bytearray(ctl.read_bytes())
    raw[16:32] = b"\xde\xad\xbe\xef" * 4  # inside the CRC-protected ControlFileData
    ctl.write_bytes(bytes(raw))
    err = refuses(pristine, cluster_copy, "pg_control is unreadable or corrupt")
    assert err.location == str(ctl)


def test_missing_pg_control_refused(cluster_copy: Path, pristine: PgServer) -> None:
    (cluster_copy / "global" / "pg_control").unlink()
    refuses(pristine, cluster_copy, "no global/pg_control")


def test_other_major_version_refused(cluster_copy: Path, pristine: PgServer) -> None:
    other = pristine.bins.major - 1
    (cluster_copy / "PG_VERSION").write_text(f"{other}\n")
    err = refuses(pristine, cluster_copy, f"cluster is PostgreSQL {other}")
    assert "pg_upgrade" in err.message


def test_data_dir_that_is_a_file_refused(pristine: PgServer) -> None:
    f = pristine.base / "a-file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        run_bootstrap(pristine, f)
    assert f.read_text() == "x"


def test_empty_directory_is_initialised_in_place(pristine: PgServer) -> None:
    d = pristine.base / "empty-volume"
    d.mkdir()
    try:
        report = run_bootstrap(pristine, d)
        assert report.action == "initialized"  # type: ignore[attr-defined]
        assert (d / "PG_VERSION").is_file()
        assert not any(p.name.startswith(".sealfeed") for p in pristine.base.iterdir())
    finally:
        subprocess.run(["rm", "-rf", str(d)], check=True)


def test_lost_superuser_password_is_reset(pg_server_factory: Callable[..., PgServer]) -> None:
    server = pg_server_factory(nodes=1, start=False)
    server.superuser_password_file.unlink()
    report = run_bootstrap(server, server.data_dir)
    assert report.action == "kept"  # type: ignore[attr-defined]
    assert report.superuser_password_generated and report.superuser_password_reset  # type: ignore[attr-defined]
    server.start()
    with server.connect() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "postgres"


def test_tcp_when_configured(pg_server_factory: Callable[..., PgServer]) -> None:
    server = pg_server_factory(nodes=2, listen_tcp=True)
    provision(server.config, server.nodes(), secrets_dir=server.secrets_dir,
              superuser_password=server.superuser_password)  # fmt: skip
    from sealfeed.postgres.secrets import node_password_path
    from sealfeed.secret import read_secret_file

    n1 = server.nodes()[0]
    pw1 = read_secret_file(node_password_path(server.secrets_dir, n1))
    with server.connect(n1.database, user=n1.db_role, password=pw1, tcp=True) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        server.connect("chainlink_node_2", user=n1.db_role, password=pw1, tcp=True)
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        server.connect(tcp=True)  # the superuser: local socket only


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership repair needs root")
def test_kept_cluster_with_wrong_owner_is_chowned(cluster_copy: Path, pristine: PgServer) -> None:
    subprocess.run(["chown", "-R", "root:root", str(cluster_copy)], check=True)
    report = run_bootstrap(pristine, cluster_copy)
    assert report.action == "kept"  # type: ignore[attr-defined]
    uid = server_user().uid
    assert all(p.stat().st_uid == uid for p in [cluster_copy, *cluster_copy.rglob("*")])


def test_refused_directory_creates_no_secret(pristine: PgServer, tmp_path: Path) -> None:
    d = pristine.base / "foreign2"
    d.mkdir()
    (d / "x").write_text("x")
    secrets = tmp_path / "secrets"
    with pytest.raises(InputError):
        bootstrap(
            PostgresConfig(data_dir=str(d)), NodesConfig(total=1).specs(),
            secrets_dir=secrets, limits=FIXTURE_LIMITS, bins=pristine.bins,
        )  # fmt: skip
    assert not secrets.exists()


def test_reset_superuser_password_on_request(pg_server_factory: Callable[..., PgServer]) -> None:
    from sealfeed.secret import Secret, write_secret_file

    server = pg_server_factory(nodes=1, start=False)
    write_secret_file(server.superuser_password_file, Secret("brand-new-superuser-pw"),
                      overwrite=True)  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "sealfeed", "pg", "bootstrap", *server.cli_args(),
         "--reset-superuser-password", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["action"] == "kept" and doc["superuser_password_reset"] is True
    assert "brand-new-superuser-pw" not in proc.stdout + proc.stderr
    server.start()
    with server.connect(password="brand-new-superuser-pw") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
