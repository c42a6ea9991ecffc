"""Edge module: psycopg connections over the unix socket (or TCP when asked)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sealfeed.config.model import PostgresConfig
from sealfeed.errors import ExternalError
from sealfeed.secret import Secret

if TYPE_CHECKING:
    import psycopg


def connect(
    pg: PostgresConfig,
    *,
    user: str,
    password: Secret,
    dbname: str,
    timeout: float = 5,
    tcp: bool = False,
) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection; the password goes to libpq as a keyword, never a string."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ExternalError("psycopg must be installed to use sealfeed pg") from None
    return psycopg.connect(
        host=pg.host if tcp else pg.socket_dir,
        port=pg.port,
        user=user,
        password=password.reveal(),
        dbname=dbname,
        connect_timeout=max(1, int(timeout)),
        sslmode="disable",
        application_name="sealfeed",
        autocommit=True,
    )


def describe_error(exc: BaseException) -> str:
    """One line from a psycopg error (libpq messages carry no password)."""
    from sealfeed.log import redact

    text = " ".join(str(exc).split())
    return redact(text) or exc.__class__.__name__


def connect_superuser(
    pg: PostgresConfig, password: Secret, *, dbname: str = "postgres", wait: float = 0
) -> psycopg.Connection[tuple[object, ...]]:
    """Connect as the superuser, retrying for up to ``wait`` seconds while the server starts."""
    import psycopg

    deadline = time.monotonic() + wait
    while True:
        try:
            return connect(pg, user=pg.superuser, password=password, dbname=dbname)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise ExternalError(
                    f"cannot connect as {pg.superuser}: {describe_error(exc)}",
                    location=f"{pg.socket_dir}/.s.PGSQL.{pg.port}",
                ) from None
            time.sleep(0.2)


__all__ = ["connect", "connect_superuser", "describe_error"]
