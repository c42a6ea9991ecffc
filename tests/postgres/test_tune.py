"""Table-driven tuning: 512 MB ... 64 GB, 1 ... 32 CPUs, node count and pool size."""

from __future__ import annotations

import itertools
import re

import pytest

from sealfeed.errors import InputError
from sealfeed.postgres.tune import TuneInputs, max_connections_for, per_node_connections, tune

MiB = 1024 * 1024
GiB = 1024 * MiB
MEMORY_MB = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
CPUS = [1, 2, 4, 8, 16, 32]
_UNIT = {"kB": 1024, "MB": MiB, "GB": GiB}


def to_bytes(value: object) -> int:
    m = re.fullmatch(r"(\d+)(kB|MB|GB)", str(value))
    assert m, value
    return int(m[1]) * _UNIT[m[2]]


def run(memory_mb: int, cpus: float, nodes: int = 5, pool: int = 20) -> dict[str, object]:
    return tune(TuneInputs(memory_mb * MiB, cpus, nodes, pool)).as_dict()


# memory -> shared_buffers, effective_cache_size, work_mem, maintenance_work_mem (5 x 20 pool)
@pytest.mark.parametrize(
    ("memory_mb", "sb", "ecs", "wm", "mwm"),
    [
        (512, "76MB", "256MB", "1MB", "16MB"),
        (1024, "153MB", "512MB", "1MB", "32MB"),
        (2048, "307MB", "1GB", "1MB", "64MB"),
        (4096, "614MB", "2GB", "3MB", "128MB"),
        (8192, "1228MB", "4GB", "6MB", "256MB"),
        (16384, "2457MB", "8GB", "13MB", "512MB"),
        (32768, "4915MB", "16GB", "27MB", "1GB"),
        (65536, "8GB", "32GB", "56MB", "1GB"),
    ],
)
def test_memory_table(memory_mb: int, sb: str, ecs: str, wm: str, mwm: str) -> None:
    s = run(memory_mb, 2)
    assert (s["shared_buffers"], s["effective_cache_size"], s["work_mem"],
            s["maintenance_work_mem"]) == (sb, ecs, wm, mwm)  # fmt: skip


# cpus -> max_worker_processes, max_parallel_workers, per_gather, maintenance, autovacuum
@pytest.mark.parametrize(
    ("cpus", "mwp", "mpw", "per_gather", "maint", "av"),
    [
        (1, 4, 1, 0, 0, 1),
        (1.5, 4, 1, 0, 0, 1),
        (2, 4, 2, 1, 1, 2),
        (4, 6, 4, 2, 2, 3),
        (8, 10, 8, 4, 4, 3),
        (16, 18, 16, 4, 4, 3),
        (32, 34, 32, 4, 4, 3),
    ],
)
def test_cpu_table(cpus: float, mwp: int, mpw: int, per_gather: int, maint: int, av: int) -> None:
    s = run(4096, cpus)
    assert (s["max_worker_processes"], s["max_parallel_workers"],
            s["max_parallel_workers_per_gather"], s["max_parallel_maintenance_workers"],
            s["autovacuum_max_workers"]) == (mwp, mpw, per_gather, maint, av)  # fmt: skip


@pytest.mark.parametrize(("memory_mb", "cpus"), list(itertools.product(MEMORY_MB, CPUS)))
def test_invariants_over_the_grid(memory_mb: int, cpus: int) -> None:
    mem = memory_mb * MiB
    s = run(memory_mb, cpus)
    sb = to_bytes(s["shared_buffers"])
    assert 32 * MiB <= sb <= min(8 * GiB, mem // 4)
    assert sb <= to_bytes(s["effective_cache_size"]) <= mem
    # worst case: every connection runs two work_mem steps -- still below the machine
    assert sb + to_bytes(s["work_mem"]) * int(s["max_connections"]) * 2 <= mem  # type: ignore[call-overload]
    assert 16 * MiB <= to_bytes(s["maintenance_work_mem"]) <= GiB
    assert s["max_parallel_workers"] <= s["max_worker_processes"]  # type: ignore[operator]
    assert s["max_parallel_workers_per_gather"] <= s["max_parallel_workers"]  # type: ignore[operator]
    # crash safety and WAL bounds never depend on the machine
    for key in ("fsync", "full_page_writes", "synchronous_commit", "autovacuum"):
        assert s[key] is True
    assert (s["max_wal_size"], s["min_wal_size"], s["wal_keep_size"]) == ("256MB", "64MB", 0)
    assert (s["max_wal_senders"], s["max_replication_slots"]) == (0, 0)
    assert s["checkpoint_completion_target"] == 0.9
    assert s["listen_addresses"] == ""


@pytest.mark.parametrize(("nodes", "pool"), [(1, 10), (3, 20), (5, 20), (5, 100), (10, 30)])
def test_max_connections_sized_to_nodes_and_pool(nodes: int, pool: int) -> None:
    s = run(4096, 2, nodes=nodes, pool=pool)
    assert s["max_connections"] == nodes * (pool + 3) + 10 + 3 == max_connections_for(nodes, pool)
    assert per_node_connections(pool) == pool + 3
    assert s["max_connections"] < 1000 or nodes * pool > 900  # not the reference's blind 1000


def test_tcp_listen_only_when_configured() -> None:
    r = tune(TuneInputs(GiB, 2, 5, 20, listen_tcp=True, host="127.0.0.1", port=6543))
    assert r.get("listen_addresses") == "127.0.0.1"
    assert r.get("port") == 6543


def test_unknown_settings_are_skipped_with_the_version() -> None:
    full = tune(TuneInputs(GiB, 2, 5, 20))
    known = frozenset(s.name.lower() for s in full.settings) - {"scram_iterations", "jit"}
    r = tune(TuneInputs(GiB, 2, 5, 20, major=15, known_settings=known))
    assert {s.name for s in r.skipped} == {"scram_iterations", "jit"}
    assert all(s.reason == "not known to PostgreSQL 15" for s in r.skipped)
    assert "scram_iterations" not in r.as_dict()
    assert len(r.settings) == len(full.settings) - 2


def test_guc_names_match_case_insensitively() -> None:
    full = tune(TuneInputs(GiB, 2, 5, 20))
    known = frozenset(s.name.lower() for s in full.settings)
    r = tune(TuneInputs(GiB, 2, 5, 20, known_settings=known))
    assert "timezone" in r.as_dict() and not r.skipped


def test_every_setting_has_a_reason() -> None:
    for s in tune(TuneInputs(GiB, 2, 5, 20)).settings:
        assert s.reason.strip(), s.name


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"memory_bytes": 0}, "memory"),
        ({"cpus": 0}, "cpus"),
        ({"cpus": float("inf")}, "cpus"),
        ({"nodes": 0}, "nodes"),
        ({"pool_per_node": 0}, "postgres.max_open_conns_per_node"),
    ],
)
def test_bad_inputs_are_precise_errors(kwargs: dict[str, float], where: str) -> None:
    base = {"memory_bytes": GiB, "cpus": 2.0, "nodes": 5, "pool_per_node": 20}
    base.update(kwargs)
    with pytest.raises(InputError) as err:
        tune(TuneInputs(**base))  # type: ignore[arg-type]
    assert err.value.location == where
