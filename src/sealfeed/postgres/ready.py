"""Readiness probe: can every node role log into its own database right now?

``sealfeed pg ready`` exits 0 only when all of them can (usable as an s6 readiness check
for the nodes' dependency); ``--server`` only asks whether the server accepts the superuser
(the readiness of the ``postgres`` longrun itself, before any node role exists).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sealfeed.config.model import NodeSpec, PostgresConfig
from sealfeed.errors import SealfeedError
from sealfeed.postgres.client import connect, describe_error
from sealfeed.postgres.secrets import node_password_path
from sealfeed.secret import Secret, read_secret_file


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class ReadyReport:
    probes: tuple[ProbeResult, ...]
    #: how many rounds of probes ran (``--wait`` retries until ready or the deadline)
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return bool(self.probes) and all(p.ok for p in self.probes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "attempts": self.attempts,
            "probes": [p.as_dict() for p in self.probes],
        }


def _probe(
    pg: PostgresConfig, name: str, user: str, password: Secret, db: str, timeout: float
) -> ProbeResult:
    import psycopg

    try:
        with connect(pg, user=user, password=password, dbname=db, timeout=timeout) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        return ProbeResult(name, False, describe_error(exc))
    return ProbeResult(name, True, f"{user} connected to {db}")


def probe_nodes(
    pg: PostgresConfig,
    nodes: Sequence[NodeSpec],
    *,
    secrets_dir: str | os.PathLike[str],
    timeout: float = 3,
) -> ReadyReport:
    probes: list[ProbeResult] = []
    for node in nodes:
        name = f"node {node.index}"
        try:
            password = read_secret_file(
                node_password_path(secrets_dir, node), what=f"{node.db_role} password"
            )
        except SealfeedError as exc:
            probes.append(ProbeResult(name, False, str(exc)))
            continue
        probes.append(_probe(pg, name, node.db_role, password, node.database, timeout))
    return ReadyReport(tuple(probes))


def probe_server(
    pg: PostgresConfig, superuser_password: Secret, *, timeout: float = 3
) -> ReadyReport:
    return ReadyReport(
        (_probe(pg, "server", pg.superuser, superuser_password, "postgres", timeout),)
    )


def wait_ready(
    check: Callable[[], ReadyReport],
    wait: float,
    interval: float = 0.25,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReadyReport:
    """Call ``check()`` until it reports ok or ``wait`` seconds have passed; the report of
    the last round, with ``attempts`` = the number of rounds."""
    deadline = clock() + wait
    attempts = 0
    while True:
        report = check()
        attempts += 1
        if report.ok or clock() >= deadline:
            return dataclasses.replace(report, attempts=attempts)
        sleep(interval)


__all__ = ["ProbeResult", "ReadyReport", "probe_nodes", "probe_server", "wait_ready"]
