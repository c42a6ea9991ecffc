"""The shared server with nodes 1..5 provisioned once per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sealfeed.config.model import NodeSpec
from sealfeed.postgres import ProvisionReport, provision
from sealfeed.postgres.secrets import node_password_path
from sealfeed.secret import Secret, read_secret_file
from tests.fixtures.postgres import PgServer


@dataclass
class Provisioned:
    server: PgServer
    first_report: ProvisionReport

    def node(self, index: int) -> NodeSpec:
        return self.server.nodes()[index - 1]

    def password(self, index: int) -> Secret:
        return read_secret_file(node_password_path(self.server.secrets_dir, self.node(index)))

    def connect_as(self, index: int, dbname: str | None = None, **kw: object) -> object:
        node = self.node(index)
        return self.server.connect(
            dbname or node.database, user=node.db_role, password=self.password(index), **kw
        )

    def provision(self) -> ProvisionReport:
        s = self.server
        return provision(
            s.config, s.nodes(), secrets_dir=s.secrets_dir, superuser_password=s.superuser_password
        )


@pytest.fixture(scope="session")
def pg_provisioned(pg_server: PgServer) -> Provisioned:
    p = Provisioned(pg_server, ProvisionReport(()))
    p.first_report = p.provision()
    # node 3 keeps something node 2 must never read
    with p.connect_as(3) as conn:  # type: ignore[attr-defined]
        conn.execute("CREATE TABLE IF NOT EXISTS keys (k text)")
        conn.execute("INSERT INTO keys VALUES ('node-3-private')")
    return p
