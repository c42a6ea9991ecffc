"""Effective memory/CPU limits from fixture trees (cgroup v2, v1, hybrid).

The cgroup file parsers themselves are tested in tests/test_cgroup.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sealfeed.errors import InputError
from sealfeed.postgres.limits import (
    effective_cpu_count,
    parse_meminfo_total,
    read_host_limits,
    read_limits,
)

DATA = Path(__file__).parent / "data" / "cgroup"
MiB = 1024 * 1024
GiB = 1024 * MiB


@pytest.mark.parametrize(
    ("case", "memory", "memory_source", "cpus", "cpu_source"),
    [
        ("v2_limited", 1 * GiB, "cgroup v2 /sys/fs/cgroup/memory.max", 1.5,
         "cgroup v2 /sys/fs/cgroup/cpu.max"),
        ("v2_unlimited", 16 * GiB, "/proc/meminfo MemTotal", 4.0,
         "/sys/devices/system/cpu/online"),
        ("v2_nested", 2 * GiB, "cgroup v2 /sys/fs/cgroup/system.slice/memory.max", 3.0,
         "cpuset /sys/fs/cgroup/system.slice/app.service/cpuset.cpus.effective"),
        ("v1_limited", 512 * MiB, "cgroup v1 /sys/fs/cgroup/memory/memory.limit_in_bytes", 3.0,
         "cgroup v1 /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"),
        ("v1_unlimited", 4 * GiB, "/proc/meminfo MemTotal", 2.0,
         "/sys/devices/system/cpu/online"),
        ("hybrid", 768 * MiB,
         "cgroup v1 /sys/fs/cgroup/memory/process_api/x1/memory.limit_in_bytes", 2.0,
         "/sys/devices/system/cpu/online"),
    ],
)  # fmt: skip
def test_read_limits_from_fixture_trees(
    case: str, memory: int, memory_source: str, cpus: float, cpu_source: str
) -> None:
    lim = read_limits(DATA / case)
    assert (lim.memory_bytes, lim.memory_source) == (memory, memory_source)
    assert (lim.cpus, lim.cpu_source) == (cpus, cpu_source)


def test_garbage_memory_max_names_the_file() -> None:
    with pytest.raises(InputError) as err:
        read_limits(DATA / "bad_memory")
    assert err.value.location == "/sys/fs/cgroup/memory.max"
    assert "lots" in err.value.message


def test_empty_root_is_a_precise_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot determine memory"):
        read_limits(tmp_path)


def test_host_limits_are_sane() -> None:
    lim = read_host_limits()
    assert lim.memory_bytes > 64 * MiB
    assert lim.cpus >= 1


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_v2_lone_quota_uses_the_default_period(tmp_path: Path) -> None:
    # the one cgroup parser's semantics (cgroup-v2.rst): "150000" = 150000 / 100000 CPUs
    root = _tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/\n",
            "proc/meminfo": "MemTotal: 4194304 kB\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
            "sys/fs/cgroup/cpu.max": "150000\n",
            "sys/devices/system/cpu/online": "0-3\n",
        },
    )
    lim = read_limits(root)
    assert (lim.cpus, lim.cpu_source) == (1.5, "cgroup v2 /sys/fs/cgroup/cpu.max")


def test_v1_negative_quota_is_unlimited_and_period_defaults(tmp_path: Path) -> None:
    files = {
        "proc/self/cgroup": "4:memory:/\n2:cpu:/\n",
        "proc/meminfo": "MemTotal: 4194304 kB\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": "-1\n",
        "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-5\n",
        "sys/devices/system/cpu/online": "0-3\n",
    }
    lim = read_limits(_tree(tmp_path / "a", files))
    assert (lim.memory_bytes, lim.memory_source) == (4 * GiB, "/proc/meminfo MemTotal")
    assert (lim.cpus, lim.cpu_source) == (4.0, "/sys/devices/system/cpu/online")
    # no cpu.cfs_period_us beside the quota: the kernel's default period, 100 ms
    files["sys/fs/cgroup/cpu/cpu.cfs_quota_us"] = "250000\n"
    lim = read_limits(_tree(tmp_path / "b", files))
    assert (lim.cpus, lim.cpu_source) == (2.5, "cgroup v1 /sys/fs/cgroup/cpu/cpu.cfs_quota_us")


def test_negative_v2_cpu_max_names_the_file(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/\n",
            "proc/meminfo": "MemTotal: 4194304 kB\n",
            "sys/fs/cgroup/cgroup.controllers": "cpu\n",
            "sys/fs/cgroup/cpu.max": "-1 100000\n",
        },
    )
    with pytest.raises(InputError) as err:
        read_limits(root)
    assert err.value.location == "/sys/fs/cgroup/cpu.max"


def test_parse_meminfo() -> None:
    assert parse_meminfo_total("MemTotal:  1024 kB\nMemFree: 1 kB\n") == 1024 * 1024
    with pytest.raises(InputError):
        parse_meminfo_total("MemFree: 1 kB\n")
    with pytest.raises(InputError):
        parse_meminfo_total("MemTotal: lots kB\n")


@pytest.mark.parametrize(("cpus", "n"), [(0.5, 1), (1.0, 1), (1.5, 1), (2.0, 2), (31.99, 31)])
def test_effective_cpu_count(cpus: float, n: int) -> None:
    assert effective_cpu_count(cpus) == n
