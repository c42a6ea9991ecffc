"""``sealfeed pg serve``: exec the server in the foreground (s6 longrun) with readiness."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable

from tests.fixtures.postgres import PgServer


def test_serve_execs_postgres_and_notifies_readiness(
    pg_server_factory: Callable[..., PgServer],
) -> None:
    server = pg_server_factory(nodes=1, start=False)
    r, w = os.pipe()
    args = [arg for arg in server.cli_args()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealfeed", "pg", "serve", *args, "--notify-fd", str(w)],
        pass_fds=(w,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 30)
        assert ready, "no readiness notification within 30 s"
        assert os.read(r, 16) == b"\n"
        # exec, not a child: the supervised pid is the postmaster itself
        assert (server.data_dir / "postmaster.pid").read_text().splitlines()[0] == str(proc.pid)
        assert os.stat(f"/proc/{proc.pid}").st_uid == server.user.uid
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        environ = open(f"/proc/{proc.pid}/environ", "rb").read().split(b"\0")  # noqa: SIM115
        assert sorted(e.split(b"=")[0] for e in environ if e) == [
            b"LANG",
            b"LC_ALL",
            b"PATH",
            b"TZ",
        ]
    finally:
        os.close(r)
        proc.send_signal(signal.SIGTERM)  # smart shutdown: s6-svc -d
        assert proc.wait(timeout=20) == 0
        proc.stderr.close()  # type: ignore[union-attr]
