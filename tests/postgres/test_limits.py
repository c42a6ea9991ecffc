"""Effective memory/CPU limits: pure parsers and fixture trees (cgroup v2, v1, hybrid)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealfeed.errors import InputError
from sealfeed.postgres.limits import (
    effective_cpu_count,
    parse_cpu_list,
    parse_cpu_max,
    parse_meminfo_total,
    parse_memory_max,
    parse_mountinfo,
    parse_proc_cgroup,
    parse_v1_cfs,
    parse_v1_memory_limit,
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max\n", None), ("1073741824\n", 1073741824), ("0", 0)],
)
def test_parse_memory_max(text: str, expected: int | None) -> None:
    assert parse_memory_max(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "12k", "max max"])
def test_parse_memory_max_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_memory_max(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max 100000\n", None), ("200000 100000", 2.0), ("50000 100000", 0.5), ("150000", 1.5)],
)
def test_parse_cpu_max(text: str, expected: float | None) -> None:
    assert parse_cpu_max(text) == expected


@pytest.mark.parametrize("text", ["", "a b", "0 100000", "1 2 3", "100000 0"])
def test_parse_cpu_max_rejects(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_cpu_max(text, where="x/cpu.max")
    assert err.value.location == "x/cpu.max"


def test_parse_v1() -> None:
    assert parse_v1_memory_limit("9223372036854771712\n") is None
    assert parse_v1_memory_limit("536870912") == 512 * MiB
    assert parse_v1_cfs("-1", "100000") is None
    assert parse_v1_cfs("250000", "100000") == 2.5
    with pytest.raises(InputError):
        parse_v1_memory_limit("unlimited")
    with pytest.raises(InputError):
        parse_v1_cfs("x", "100000")


@pytest.mark.parametrize(
    ("text", "n"), [("0", 1), ("0-3", 4), ("0-1,4", 3), ("0-3,8-11\n", 8), ("2,4,6", 3)]
)
def test_parse_cpu_list(text: str, n: int) -> None:
    assert parse_cpu_list(text) == n


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-", ","])
def test_parse_cpu_list_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_cpu_list(text)


def test_parse_meminfo() -> None:
    assert parse_meminfo_total("MemTotal:  1024 kB\nMemFree: 1 kB\n") == 1024 * 1024
    with pytest.raises(InputError):
        parse_meminfo_total("MemFree: 1 kB\n")
    with pytest.raises(InputError):
        parse_meminfo_total("MemTotal: lots kB\n")


def test_parse_proc_cgroup_and_mountinfo() -> None:
    m = parse_proc_cgroup("12:memory:/a\n11:cpu,cpuacct:/b\n0::/c\ngarbage\n")
    assert m.v2 == "/c"
    assert m.v1 == {"memory": "/a", "cpu": "/b", "cpuacct": "/b"}
    mounts = parse_mountinfo(
        "41 31 0:38 / /sys/fs/cgroup/my\\040dir rw - cgroup2 cgroup2 rw\n"
        "22 30 0:5 / /proc rw - proc proc rw\nshort line\n"
    )
    assert [(x.mountpoint, x.fstype) for x in mounts] == [("/sys/fs/cgroup/my dir", "cgroup2")]


@pytest.mark.parametrize(("cpus", "n"), [(0.5, 1), (1.0, 1), (1.5, 1), (2.0, 2), (31.99, 31)])
def test_effective_cpu_count(cpus: float, n: int) -> None:
    assert effective_cpu_count(cpus) == n
