"""SCRAM verifiers: our client-side computation equals what PostgreSQL stores."""

from __future__ import annotations

import pytest

from sealfeed.errors import InputError
from sealfeed.postgres.scram import scram_verifier, verifier_matches
from sealfeed.secret import Secret
from tests.fixtures.postgres import PgServer


def test_roundtrip_and_mismatch() -> None:
    v = scram_verifier(Secret("correct-horse"))
    assert v.startswith("SCRAM-SHA-256$4096:")
    assert verifier_matches(v, Secret("correct-horse"))
    assert not verifier_matches(v, Secret("correct-horsf"))
    assert scram_verifier(Secret("a"), salt=b"0" * 16) == scram_verifier(
        Secret("a"), salt=b"0" * 16
    )
    assert scram_verifier(Secret("a")) != scram_verifier(Secret("a"))  # random salt


@pytest.mark.parametrize(
    "stored", [None, "", "md5abc", "SCRAM-SHA-256$4096:!!$x:y", "SCRAM-SHA-256$x:YQ==$YQ==:YQ=="]
)
def test_unknown_formats_never_match(stored: str | None) -> None:
    assert not verifier_matches(stored, Secret("pw"))


@pytest.mark.parametrize("pw", ["", "with space", "ünïcode", "tab\there"])
def test_non_ascii_passwords_rejected(pw: str) -> None:
    with pytest.raises(InputError):
        scram_verifier(Secret(pw))


def test_matches_server_computed_verifier(pg_server: PgServer) -> None:
    """The server hashes a plaintext password itself; our check must agree with it."""
    from psycopg import sql

    with pg_server.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS scram_probe")
        conn.execute(
            sql.SQL("CREATE ROLE scram_probe PASSWORD {}").format(sql.Literal("Tr0ub4dor&3"))
        )
        try:
            (stored,) = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'"
            ).fetchone()  # type: ignore[misc]
        finally:
            conn.execute("DROP ROLE scram_probe")
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert verifier_matches(stored, Secret("Tr0ub4dor&3"))
    assert not verifier_matches(stored, Secret("Tr0ub4dor&4"))
