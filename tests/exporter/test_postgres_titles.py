"""PostgreSQL client backends are counted per database from their real process titles.

A real PostgreSQL 15 (Debian) runs as a service under a real s6-svscan; psycopg connections
to two databases must show up as ``sealfeed_exporter_postgres_backends`` -- the input of the
DatabaseConnectionErrors alert (docs/adr/0062).
"""

from __future__ import annotations

import glob
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealfeed.exporter.sampler import Sampler
from tests.fixtures.s6 import Scandir

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_base() -> Iterator[tuple[Path, Path]]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("SKIPPED LOUDLY: PostgreSQL server not installed (apt-get install postgresql)")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("SKIPPED LOUDLY: no 'postgres' OS user to run the server as")
    base = Path(tempfile.mkdtemp(prefix="sealfeed-exporter-pg-", dir="/tmp"))
    base.chmod(0o755)
    (base / "sock").mkdir()
    shutil.chown(base / "sock", pw.pw_uid, pw.pw_gid)
    (base / "data").mkdir(mode=0o700)
    shutil.chown(base / "data", pw.pw_uid, pw.pw_gid)
    subprocess.run(
        ["s6-setuidgid", "postgres", f"{bins[-1]}/initdb", "-D", str(base / "data"),
         "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True, cwd="/",
    )  # fmt: skip
    try:
        yield Path(bins[-1]), base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_backends_per_database(exporter_s6: Scandir, pg_base: tuple[Path, Path]) -> None:
    import psycopg

    bindir, base = pg_base
    run = (
        "#!/bin/sh\ncd /\n"
        f"exec s6-setuidgid postgres {bindir}/postgres -D {base}/data -k {base}/sock "
        "-c listen_addresses= -c fsync=off -c max_connections=20\n"
    )
    exporter_s6.add_service("postgres", run)
    exporter_s6.wait_up("postgres")
    dsn = f"host={base}/sock user=postgres"
    deadline = time.monotonic() + 20
    while True:
        try:
            admin = psycopg.connect(dsn + " dbname=postgres", autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    conns = [admin]
    try:
        admin.execute("CREATE DATABASE chainlink_node_1")
        conns += [psycopg.connect(dsn + " dbname=chainlink_node_1") for _ in range(2)]
        sampler = Sampler(scandir=exporter_s6.path, source_dir=None, cgroup_root=None)
        snap = sampler.sample()
        assert snap.pg_backends.get(("chainlink_node_1", "postgres")) == 2
        assert snap.pg_backends.get(("postgres", "postgres")) == 1
        (svc,) = snap.services
        # the postmaster plus its auxiliary processes and the 3 backends, all under the service
        assert len(svc.processes) >= 6
        assert {p.comm for p in svc.processes} == {"postgres"}
    finally:
        for c in conns:
            c.close()
