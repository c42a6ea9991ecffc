"""Property tests: tuning never breaks its structural rules; URLs and verifiers round-trip."""

from __future__ import annotations

import string
from urllib.parse import unquote, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from sealfeed.config.model import NodesConfig, PostgresConfig
from sealfeed.postgres import TuneInputs, node_database_url, render_postgresql_conf, tune
from sealfeed.postgres.scram import scram_verifier, verifier_matches
from sealfeed.secret import Secret

MiB = 1024 * 1024
PRINTABLE = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation,
                    min_size=1, max_size=60)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    memory=st.integers(min_value=128 * MiB, max_value=1024 * 1024 * MiB),
    cpus=st.floats(min_value=0.1, max_value=256, allow_nan=False),
    nodes=st.integers(min_value=1, max_value=32),
    pool=st.integers(min_value=1, max_value=500),
)
def test_tune_structure(memory: int, cpus: float, nodes: int, pool: int) -> None:
    r = tune(TuneInputs(memory, cpus, nodes, pool))
    s = r.as_dict()
    assert s["max_connections"] == nodes * (pool + 3) + 13
    assert 0 <= s["max_parallel_workers_per_gather"] <= s["max_parallel_workers"]  # type: ignore[operator]
    assert s["max_parallel_workers"] <= s["max_worker_processes"]  # type: ignore[operator]
    assert 1 <= s["autovacuum_max_workers"] <= 3  # type: ignore[operator]
    assert len({x.name for x in r.settings}) == len(r.settings)
    text = render_postgresql_conf(r)
    assert text.count("\n# ") >= len(r.settings) - 1


@settings(max_examples=100, deadline=None)
@given(password=PRINTABLE)
def test_url_password_round_trips(password: str) -> None:
    node = NodesConfig(total=2).specs()[1]
    url = node_database_url(PostgresConfig(), node, Secret(password)).reveal()
    parts = urlsplit(url)
    assert unquote(parts.password or "") == password
    assert parts.path == "/chainlink_node_2"
    assert parts.query == "host=/run/postgresql&port=5432&sslmode=disable"


@settings(max_examples=25, deadline=None)
@given(password=PRINTABLE.filter(lambda p: " " not in p), other=PRINTABLE)
def test_verifier_round_trips(password: str, other: str) -> None:
    v = scram_verifier(Secret(password))
    assert verifier_matches(v, Secret(password))
    if other != password and " " not in other:
        assert not verifier_matches(v, Secret(other))
