"""The running server really uses the tuned file: every value as SHOW reports it."""

from __future__ import annotations

from sealfeed.postgres.bootstrap import tune_for
from sealfeed.postgres.control import known_settings
from tests.fixtures.postgres import FIXTURE_LIMITS, PgServer


def test_server_runs_with_every_tuned_value(pg_server: PgServer) -> None:
    result = tune_for(
        pg_server.config, pg_server.nodes(), FIXTURE_LIMITS, pg_server.bins,
        known_settings(pg_server.bins),
    )  # fmt: skip
    mismatches = []
    with pg_server.connect() as conn:
        for s in result.settings:
            shown = conn.execute(f'SHOW "{s.name}"').fetchone()[0]  # type: ignore[index]
            expected = s.rendered().strip("'")
            if shown != expected:
                mismatches.append((s.name, expected, shown))
        version = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
        checksums = conn.execute("SHOW data_checksums").fetchone()[0]  # type: ignore[index]
        encoding = conn.execute("SHOW server_encoding").fetchone()[0]  # type: ignore[index]
    assert mismatches == []
    assert version == pg_server.bins.major
    assert (checksums, encoding) == ("on", "UTF8")
    # the skipped ones really are unknown to this server
    with pg_server.connect() as conn:
        for s in result.skipped:
            row = conn.execute("SELECT 1 FROM pg_settings WHERE name = %s", (s.name,)).fetchone()
            assert row is None, s.name
