"""Collector over a frozen procfs/scandir/cgroup tree (tests/exporter/procfs_tree.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from sealfeed.exporter.collector import ProcessCollector, exposed_names
from sealfeed.exporter.procfs import (
    ProcParseError,
    parse_pg_backend,
    parse_pid_stat,
)
from sealfeed.exporter.sampler import SampleError, Sampler
from tests.exporter.procfs_tree import NOW, PAGE_KB, Tree, build_tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return build_tree(tmp_path)


def _setup(tree: Tree, use_children: bool) -> tuple[CollectorRegistry, ProcessCollector]:
    sampler = Sampler(
        proc_root=tree.proc,
        scandir=tree.scandir,
        source_dir=tree.source,
        cgroup_root=tree.cgroup,
        clock=lambda: NOW,
        use_children=use_children,
    )
    reg = CollectorRegistry()
    col = ProcessCollector(sampler, max_age=1e9)
    reg.register(col)
    return reg, col


def v(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


@pytest.mark.parametrize("use_children", [True, False], ids=["children-files", "ppid-scan"])
def test_whole_tree_and_service_state(tree: Tree, use_children: bool) -> None:
    reg, col = _setup(tree, use_children)
    col.sample()
    # the grandchild's RSS appears under its service (comm with spaces and parens)
    assert (
        v(
            reg,
            "chainlink_process_memory_rss_kb",
            service="chainlink-node-1",
            process="node (worker) 1",
            pid="202",
        )
        == 20_000
    )
    assert v(reg, "chainlink_process_list", service="postgres", process="postgres", pid="103") == 1
    assert (
        v(reg, "chainlink_process_list", service="postgres", process="unrelated", pid="999") is None
    )
    assert v(reg, "chainlink_s6_service_processes", service="postgres") == 5
    assert v(reg, "chainlink_s6_service_processes", service="chainlink-node-1") == 3
    assert v(reg, "chainlink_s6_service_memory_rss_kb", service="chainlink-node-1") == 323_000
    assert v(reg, "chainlink_s6_service_open_fds", service="chainlink-node-1") == 46
    assert v(reg, "chainlink_s6_service_threads", service="chainlink-node-1") == 15
    assert (
        v(reg, "chainlink_process_open_fds", service="postgres", process="postgres", pid="100")
        == 10
    )
    assert (
        v(
            reg,
            "chainlink_process_read_bytes_total",
            service="postgres",
            process="postgres",
            pid="100",
        )
        == 4096
    )
    assert (
        v(
            reg,
            "chainlink_process_start_time_seconds",
            service="postgres",
            process="postgres",
            pid="100",
        )
        == 1_700_000_100
    )
    # first sight: lifetime average like ps: chainlink 50 cpu-s over 500 s alive
    assert v(
        reg,
        "chainlink_process_cpu_percent",
        service="chainlink-node-1",
        process="chainlink",
        pid="201",
    ) == pytest.approx(10, abs=0.1)
    assert v(
        reg,
        "chainlink_process_cpu_seconds_total",
        service="chainlink-node-1",
        process="chainlink",
        pid="201",
    ) == pytest.approx(50)
    # s6 state
    assert v(reg, "chainlink_s6_service_up", service="postgres") == 1
    assert v(reg, "chainlink_s6_service_ready", service="postgres") == 1
    assert v(reg, "chainlink_s6_service_ready", service="chainlink-node-1") == 0
    assert v(reg, "chainlink_s6_service_uptime_seconds", service="postgres") == pytest.approx(900)
    assert v(reg, "chainlink_s6_service_up", service="price-aggregator") == 0
    assert v(reg, "chainlink_s6_service_uptime_seconds", service="price-aggregator") == 0
    assert v(reg, "chainlink_s6_service_last_exit_code", service="price-aggregator") == 1
    assert v(reg, "chainlink_s6_service_last_exit_code", service="chainlink-node-1") == 137
    assert v(reg, "chainlink_s6_service_last_exit_signal", service="chainlink-node-1") == 9
    assert v(reg, "chainlink_s6_service_restart_count", service="chainlink-node-1") == 2
    assert (
        v(reg, "chainlink_s6_service_last_restart_ts", service="chainlink-node-1") == 1_700_000_500
    )
    # malformed restart-count: reported as 0 and a warning, not a crash
    assert v(reg, "chainlink_s6_service_restart_count", service="price-aggregator") == 0
    assert col.snapshot is not None and any("restart-count" in w for w in col.snapshot.warnings)
    # declared longrun that is not live: known, not up
    assert v(reg, "chainlink_s6_service_up", service="chainlink-node-2") == 0
    assert v(reg, "chainlink_s6_service_up", service="postgres-init") is None
    # postgres backends from process titles (aux processes ignored)
    assert (
        v(
            reg,
            "sealfeed_exporter_postgres_backends",
            database="chainlink_node_1",
            user="chainlink_node_1",
        )
        == 1
    )
    assert (
        v(
            reg,
            "sealfeed_exporter_postgres_backends",
            database="chainlink_node_2",
            user="chainlink_node_2",
        )
        == 1
    )
    assert v(reg, "sealfeed_exporter_services") == 5


def test_cgroup_and_memory_limit(tree: Tree) -> None:
    reg, col = _setup(tree, True)
    col.sample()
    assert v(reg, "sealfeed_exporter_cgroup_memory_current_bytes") == 1_048_576_000
    assert v(reg, "sealfeed_exporter_cgroup_memory_max_bytes") == 2_147_483_648
    assert v(reg, "sealfeed_exporter_memory_total_bytes") == 4_096_000_000
    assert v(reg, "sealfeed_exporter_memory_limit_bytes") == 2_147_483_648
    assert v(reg, "sealfeed_exporter_cgroup_cpu_usage_seconds_total") == 5.0
    assert v(reg, "sealfeed_exporter_cgroup_cpu_throttled_periods_total") == 2
    assert v(reg, "sealfeed_exporter_cgroup_cpu_limit_cores") == 2.0
    # no limit: memory.max 'max' -> no max series, limit falls back to MemTotal
    (tree.cgroup / "memory.max").write_text("max\n")
    col.sampler._cgroup_resolved = False
    col.sample()
    assert v(reg, "sealfeed_exporter_cgroup_memory_max_bytes") is None
    assert v(reg, "sealfeed_exporter_memory_limit_bytes") == 4_096_000_000


def test_cgroup_cpu_max_semantics_are_the_kernels(tree: Tree) -> None:
    """The exporter reads cpu.max through sealfeed.cgroup, as `pg tune` does (issue #17)."""
    reg, col = _setup(tree, True)
    # a lone $MAX: the period keeps its default, 100000 us (cgroup-v2.rst)
    (tree.cgroup / "cpu.max").write_text("150000\n")
    col.sample()
    assert v(reg, "sealfeed_exporter_cgroup_cpu_limit_cores") == 1.5
    (tree.cgroup / "cpu.max").write_text("max 100000\n")
    col.sample()
    assert v(reg, "sealfeed_exporter_cgroup_cpu_limit_cores") is None
    # a negative quota is not v2 syntax: the cgroup sample is dropped, never a negative limit
    (tree.cgroup / "cpu.max").write_text("-1 100000\n")
    col.sample()
    assert v(reg, "sealfeed_exporter_cgroup_cpu_limit_cores") is None
    assert v(reg, "sealfeed_exporter_cgroup_memory_max_bytes") is None


def test_cpu_percent_over_interval_and_stale_pids_removed(tree: Tree) -> None:
    from tests.exporter.procfs_tree import PROCS

    reg, col = _setup(tree, False)
    col.sample()
    node = next(p for p in PROCS if p.pid == 201)
    node.cpu += 5  # 5 cpu-seconds in 10 s -> 50 %
    tree.write_proc(node)
    tree.set_uptime(1010)
    tree.remove_proc(202)
    col.sample()
    node.cpu -= 5
    assert v(
        reg,
        "chainlink_process_cpu_percent",
        service="chainlink-node-1",
        process="chainlink",
        pid="201",
    ) == pytest.approx(50, abs=0.5)
    assert (
        v(
            reg,
            "chainlink_process_memory_rss_kb",
            service="chainlink-node-1",
            process="node (worker) 1",
            pid="202",
        )
        is None
    )
    assert v(reg, "chainlink_s6_service_processes", service="chainlink-node-1") == 2
    text = generate_latest(reg).decode()
    assert 'pid="202"' not in text


def test_exposition_names_match_contract(tree: Tree) -> None:
    reg, col = _setup(tree, True)
    col.sample()
    seen = {s.name for m in reg.collect() for s in m.samples}
    assert seen <= exposed_names()
    # every family but the ones that only exist without a cgroup limit is present
    assert exposed_names() - seen == set()


def test_sample_failures(tree: Tree, tmp_path: Path) -> None:
    reg, col = _setup(tree, True)
    (tree.proc / "uptime").unlink()
    with pytest.raises(SampleError) as exc:
        col.sample()
    assert exc.value.exit_code == 3 and "uptime" in str(exc.value)
    assert col.consecutive_failures == 1
    tree.set_uptime(1000)
    empty = tmp_path / "empty"
    empty.mkdir()
    s = Sampler(proc_root=tree.proc, scandir=empty, cgroup_root=None)
    with pytest.raises(SampleError, match="no s6 services"):
        s.sample()
    s2 = Sampler(proc_root=tree.proc, scandir=tmp_path / "missing", cgroup_root=None)
    with pytest.raises(SampleError, match="scandir"):
        s2.sample()
    # with no fresh snapshot, a scrape samples (here successfully) and resets the count
    assert v(reg, "sealfeed_exporter_consecutive_failures") == 0
    assert v(reg, "sealfeed_exporter_samples_total", outcome="error") == 1


def test_parsers_reject_garbage() -> None:
    st = parse_pid_stat(
        "7 (a) b) c) R 1 7 7 0 -1 0 0 0 0 0 10 5 0 0 20 0 4 0 99 1 " + str(3) + " 0\n"
    )
    assert st.comm == "a) b) c" and st.cpu_ticks == 15 and st.rss_pages == 3 and st.num_threads == 4
    with pytest.raises(ProcParseError):
        parse_pid_stat("garbage")
    assert parse_pg_backend(b"postgres: app db [local] SELECT\0") == ("db", "app")
    assert parse_pg_backend(b"postgres: main: app db 10.0.0.1(5432) idle\0") == ("db", "app")
    assert parse_pg_backend(b"postgres: autovacuum launcher \0") is None
    assert parse_pg_backend(b"/usr/lib/postgresql/15/bin/postgres\0-D\0/data\0") is None


def test_rss_unit(tree: Tree) -> None:
    assert PAGE_KB >= 1


def test_discovery_is_cached_until_the_interval(tree: Tree) -> None:
    sampler = Sampler(
        proc_root=tree.proc,
        scandir=tree.scandir,
        source_dir=None,
        cgroup_root=None,
        clock=lambda: NOW,
        discovery_interval=3600,
    )
    assert "late" not in {s.name for s in sampler.sample().services}
    (tree.scandir / "late").mkdir()
    assert "late" not in {s.name for s in sampler.sample().services}  # cached (design: 60 s)
    sampler.discovery_interval = 0
    late = next(s for s in sampler.sample().services if s.name == "late")
    assert not late.supervised and not late.up
