"""``sealfeed pg provision``: one locked-down role and database per node, idempotently.

For node N: role ``chainlink_node_N`` (LOGIN; no SUPERUSER/CREATEDB/CREATEROLE/REPLICATION/
BYPASSRLS; CONNECTION LIMIT = its share of max_connections; member of no other role; password
= its 0600 secret file) owning database ``chainlink_node_N`` whose ACL grants nothing to
PUBLIC or any other role, and whose ``public`` schema is owned by the node role with nothing
granted to PUBLIC. Every step first reads the catalog and acts only on a difference, so a
second run changes nothing; each action taken is reported. SQL is composed with
``psycopg.sql`` identifiers and literals (utility statements take no bind parameters);
passwords are sent as SCRAM verifiers (:mod:`sealfeed.postgres.scram`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sealfeed.config.model import NodeSpec, PostgresConfig
from sealfeed.postgres.client import connect_superuser
from sealfeed.postgres.render import check_name, node_database_url_redacted
from sealfeed.postgres.scram import scram_verifier, verifier_matches
from sealfeed.postgres.secrets import ensure_node_password, node_password_path
from sealfeed.postgres.tune import per_node_connections
from sealfeed.secret import Secret

_log = logging.getLogger("sealfeed.postgres")


@dataclass(frozen=True)
class NodeProvision:
    index: int
    role: str
    database: str
    actions: tuple[str, ...]
    url: str
    password_file: str
    password_generated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "role": self.role,
            "database": self.database,
            "changed": bool(self.actions),
            "actions": list(self.actions),
            "database_url": self.url,
            "password_file": self.password_file,
            "password_generated": self.password_generated,
        }


@dataclass(frozen=True)
class ProvisionReport:
    nodes: tuple[NodeProvision, ...]

    @property
    def changed(self) -> bool:
        return any(n.actions for n in self.nodes)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": True, "changed": self.changed, "nodes": [n.as_dict() for n in self.nodes]}


def provision(
    pg: PostgresConfig,
    nodes: Sequence[NodeSpec],
    *,
    secrets_dir: str | os.PathLike[str],
    superuser_password: Secret,
    wait: float = 0,
) -> ProvisionReport:
    """Create/repair each node's role and database; report what was done."""
    for node in nodes:
        check_name(node.db_role, where=f"nodes[{node.index}].db_role")
        check_name(node.database, where=f"nodes[{node.index}].database")
    limit = per_node_connections(pg.max_open_conns_per_node)
    results: list[NodeProvision] = []
    with connect_superuser(pg, superuser_password, wait=wait) as conn:
        for node in nodes:
            pw_file = node_password_path(secrets_dir, node)
            generated = not pw_file.exists()
            password = ensure_node_password(secrets_dir, node)
            actions: list[str] = []
            actions += _ensure_role(conn, node.db_role, password, limit)
            actions += _ensure_database(conn, node.database, node.db_role)
            with connect_superuser(pg, superuser_password, dbname=node.database) as dbconn:
                actions += _ensure_public_schema(dbconn, node.db_role)
            for action in actions:
                _log.info(
                    "provision action",
                    extra={"event": "pg_provision", "node": node.index, "action": action},
                )
            results.append(
                NodeProvision(
                    index=node.index,
                    role=node.db_role,
                    database=node.database,
                    actions=tuple(actions),
                    url=node_database_url_redacted(pg, node),
                    password_file=str(pw_file),
                    password_generated=generated,
                )
            )
    return ProvisionReport(tuple(results))


def _ensure_role(conn: Any, role: str, password: Secret, limit: int) -> list[str]:
    from psycopg import sql

    rid = sql.Identifier(role)
    row = conn.execute(
        """
        SELECT oid, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
               rolbypassrls, rolconnlimit, rolpassword,
               (rolvaliduntil IS NULL OR rolvaliduntil = 'infinity') AS valid_forever
        FROM pg_authid WHERE rolname = %s
        """,
        (role,),
    ).fetchone()
    attrs = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT {}"
    ).format(sql.Literal(limit))
    if row is None:
        conn.execute(
            sql.SQL("CREATE ROLE {} WITH {} PASSWORD {}").format(
                rid, attrs, sql.Literal(scram_verifier(password))
            )
        )
        return [f"created role {role} (connection limit {limit})"]
    actions: list[str] = []
    oid, su, createrole, createdb, login, repl, bypass, connlimit, verifier, forever = row
    drift = [
        name
        for name, bad in (
            ("SUPERUSER", su),
            ("CREATEROLE", createrole),
            ("CREATEDB", createdb),
            ("NOLOGIN", not login),
            ("REPLICATION", repl),
            ("BYPASSRLS", bypass),
            (f"CONNECTION LIMIT {connlimit}", connlimit != limit),
            ("VALID UNTIL", not forever),
        )
        if bad
    ]
    if drift:
        conn.execute(sql.SQL("ALTER ROLE {} WITH {} VALID UNTIL 'infinity'").format(rid, attrs))
        actions.append(f"reset role {role} attributes (was: {', '.join(drift)})")
    if not verifier_matches(verifier, password):
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(rid, sql.Literal(scram_verifier(password)))
        )
        actions.append(f"updated password of {role} from its secret file")
    memberships = conn.execute(
        "SELECT pg_get_userbyid(roleid) FROM pg_auth_members WHERE member = %s ORDER BY 1",
        (oid,),
    ).fetchall()
    for (granted,) in memberships:
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), rid))
        actions.append(f"revoked membership of {role} in {granted}")
    return actions


def _ensure_database(conn: Any, db: str, role: str) -> list[str]:
    from psycopg import sql

    did, rid = sql.Identifier(db), sql.Identifier(role)
    row = conn.execute(
        "SELECT pg_get_userbyid(datdba), datacl IS NULL FROM pg_database WHERE datname = %s",
        (db,),
    ).fetchone()
    actions: list[str] = []
    if row is None:
        # template0: nothing anyone added to template1 is copied into a node's database
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'").format(
                did, rid
            )
        )
        actions.append(f"created database {db} owned by {role}")
        default_acl = True
    else:
        owner, default_acl = row
        if owner != role:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(did, rid))
            actions.append(f"changed owner of database {db} from {owner} to {role}")
    # a NULL datacl means the built-in default: PUBLIC may CONNECT and create TEMP tables
    if default_acl:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(did))
        actions.append(f"revoked all privileges on database {db} from PUBLIC")
    grantees = conn.execute(
        """
        SELECT DISTINCT a.grantee, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                        ELSE pg_get_userbyid(a.grantee) END
        FROM pg_database d, aclexplode(d.datacl) a
        WHERE d.datname = %s AND a.grantee <> d.datdba
        ORDER BY 2
        """,
        (db,),
    ).fetchall()
    for grantee_oid, name in grantees:
        target = sql.SQL("PUBLIC") if grantee_oid == 0 else sql.Identifier(name)
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(did, target))
        actions.append(f"revoked all privileges on database {db} from {name}")
    return actions


def _ensure_public_schema(conn: Any, role: str) -> list[str]:
    """The node's ``public`` schema: owned by the node role, nothing for anyone else.

    PostgreSQL 15+ creates it owned by ``pg_database_owner`` with USAGE for PUBLIC (and
    14 and older with CREATE for PUBLIC too); explicit ownership works on every version.
    """
    from psycopg import sql

    rid = sql.Identifier(role)
    actions: list[str] = []
    row = conn.execute(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
    ).fetchone()
    if row is None:
        conn.execute(sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(rid))
        actions.append("created schema public")
    elif row[0] != role:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(rid))
        actions.append(f"changed owner of schema public from {row[0]} to {role}")
    grantees = conn.execute(
        """
        SELECT DISTINCT a.grantee, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                        ELSE pg_get_userbyid(a.grantee) END
        FROM pg_namespace n, aclexplode(n.nspacl) a
        WHERE n.nspname = 'public' AND a.grantee <> n.nspowner
        ORDER BY 2
        """
    ).fetchall()
    for grantee_oid, name in grantees:
        target = sql.SQL("PUBLIC") if grantee_oid == 0 else sql.Identifier(name)
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(target))
        actions.append(f"revoked all privileges on schema public from {name}")
    return actions


__all__ = ["NodeProvision", "ProvisionReport", "provision"]
