"""sealfeed.cgroup: the one cgroup parser, from real kernel file contents.

The file contents below are what kernels print (cgroup-v2.rst, sched-bwc.rst,
cgroup-v1/memory.rst, cgroups(7), proc(5)); ``test_this_hosts_cgroup_files_parse`` also reads
whatever cgroup hierarchy the machine running the tests has.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealfeed.cgroup import (
    DEFAULT_CFS_PERIOD_US,
    CgroupParseError,
    parse_cpu_list,
    parse_cpu_max,
    parse_flat_keyed,
    parse_memory_max,
    parse_mountinfo,
    parse_proc_cgroup,
    parse_single_value,
    parse_v1_cfs,
    parse_v1_memory_limit,
)
from sealfeed.errors import InputError

# ---------------------------------------------------------------- cgroup v2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max\n", None),  # the default
        ("2147483648\n", 2_147_483_648),
        ("0\n", 0),  # a valid (if cruel) limit
    ],
)
def test_memory_max(text: str, expected: int | None) -> None:
    assert parse_memory_max(text) == expected


@pytest.mark.parametrize("text", ["", "-1\n", "12k", "max max", "unlimited"])
def test_memory_max_rejects(text: str) -> None:
    with pytest.raises(CgroupParseError) as err:
        parse_memory_max(text, location="/sys/fs/cgroup/memory.max")
    assert err.value.location == "/sys/fs/cgroup/memory.max"
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max 100000\n", None),  # the default
        ("max 50000\n", None),
        ("200000 100000\n", 2.0),
        ("50000 100000\n", 0.5),
        ("150000 1000000\n", 0.15),
        # "If only one number is written, $MAX is updated": the period stays 100000
        ("150000\n", 1.5),
        ("max\n", None),
    ],
)
def test_cpu_max(text: str, expected: float | None) -> None:
    assert parse_cpu_max(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "a b", "0 100000", "-1 100000", "100000 0", "100000 -5", "max 0", "1 2 3", "max x"],
)
def test_cpu_max_rejects(text: str) -> None:
    # the kernel prints "max" for no limit; a negative or zero quota is not v2 syntax
    with pytest.raises(CgroupParseError) as err:
        parse_cpu_max(text, location="x/cpu.max")
    assert err.value.location == "x/cpu.max"


def test_default_period_is_the_kernels() -> None:
    assert DEFAULT_CFS_PERIOD_US == 100_000
    assert parse_cpu_max("100000") == parse_v1_cfs("100000") == 1.0


# a cgroup v2 cpu.stat as a 6.x kernel prints it (nr_bursts/burst_usec since 5.14)
CPU_STAT = """usage_usec 5000000
user_usec 3000000
system_usec 2000000
core_sched.force_idle_usec 0
nr_periods 40
nr_throttled 2
throttled_usec 7000
nr_bursts 0
burst_usec 0
"""


def test_flat_keyed_cpu_stat() -> None:
    cs = parse_flat_keyed(CPU_STAT, location="cpu.stat")
    assert cs["usage_usec"] == 5_000_000
    assert cs["nr_throttled"] == 2
    assert cs["core_sched.force_idle_usec"] == 0
    assert len(cs) == 9


@pytest.mark.parametrize("text", ["usage_usec\n", "usage_usec x\n", "a 1 2\n"])
def test_flat_keyed_rejects(text: str) -> None:
    with pytest.raises(CgroupParseError, match="line 1"):
        parse_flat_keyed(text, location="cpu.stat")


def test_single_value() -> None:
    assert parse_single_value("1048576000\n", location="memory.current") == 1_048_576_000
    for bad in ("", "x", "-3"):
        with pytest.raises(CgroupParseError):
            parse_single_value(bad, location="memory.current")


# ---------------------------------------------------------------- cgroup v1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9223372036854771712\n", None),  # unlimited, as read back (LONG_MAX, 4 KiB pages)
        ("9223372036854710272\n", None),  # unlimited with 64 KiB pages
        ("-1\n", None),  # what one writes to reset it
        ("536870912\n", 536_870_912),
    ],
)
def test_v1_memory_limit(text: str, expected: int | None) -> None:
    assert parse_v1_memory_limit(text) == expected


@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [
        ("-1\n", "100000\n", None),  # the default: no bandwidth restriction
        ("-2\n", "100000\n", None),  # any negative value removes the limit (sched-bwc.rst)
        ("250000\n", "100000\n", 2.5),
        ("50000\n", "1000000\n", 0.05),
        ("150000\n", None, 1.5),  # no period file to read: the default 100 ms
        ("-1\n", None, None),
    ],
)
def test_v1_cfs(quota: str, period: str | None, expected: float | None) -> None:
    assert parse_v1_cfs(quota, period) == expected


@pytest.mark.parametrize(
    ("quota", "period"), [("x", "100000"), ("0", "100000"), ("100000", "0"), ("-1", "-1")]
)
def test_v1_cfs_rejects(quota: str, period: str) -> None:
    with pytest.raises(CgroupParseError) as err:
        parse_v1_cfs(quota, period, location="cpu/cpu.cfs_quota_us")
    assert err.value.location == "cpu/cpu.cfs_quota_us"


def test_v1_memory_limit_rejects() -> None:
    with pytest.raises(CgroupParseError):
        parse_v1_memory_limit("unlimited")


# ---------------------------------------------------------------- cpu lists, membership, mounts


@pytest.mark.parametrize(
    ("text", "n"), [("0", 1), ("0-3", 4), ("0-1,4", 3), ("0-3,8-11\n", 8), ("2,4,6", 3)]
)
def test_cpu_list(text: str, n: int) -> None:
    assert parse_cpu_list(text) == n


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-", ",", "-1"])
def test_cpu_list_rejects(text: str) -> None:
    with pytest.raises(CgroupParseError):
        parse_cpu_list(text)


# /proc/self/cgroup and mountinfo of a systemd "hybrid" host (v1 controllers + unified v2)
HYBRID_CGROUP = """9:name=systemd:/
4:memory:/process_api/x1
2:cpu,cpuacct:/
0::/
"""
HYBRID_MOUNTINFO = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
22 30 0:5 / /proc rw - proc proc rw
"""


def test_membership_and_mounts() -> None:
    m = parse_proc_cgroup(HYBRID_CGROUP + "garbage\n")
    assert m.v2 == "/"
    assert m.v1 == {"name=systemd": "/", "memory": "/process_api/x1", "cpu": "/", "cpuacct": "/"}
    mounts = parse_mountinfo(HYBRID_MOUNTINFO + "short line\n")
    assert [(x.mountpoint, x.fstype) for x in mounts] == [
        ("/sys/fs/cgroup/cpu,cpuacct", "cgroup"),
        ("/sys/fs/cgroup/memory", "cgroup"),
        ("/sys/fs/cgroup/unified", "cgroup2"),
    ]
    assert {"cpu", "cpuacct"} <= mounts[0].options
    assert "nsdelegate" in mounts[2].options  # an optional field (shared:9) before the "-"


def test_mountinfo_unescapes_paths() -> None:
    (m,) = parse_mountinfo("41 31 0:38 /a\\134b /sys/fs/cgroup/my\\040dir rw - cgroup2 c rw\n")
    assert (m.mountpoint, m.root) == ("/sys/fs/cgroup/my dir", "/a\\b")


# ---------------------------------------------------------------- never a traceback

PARSERS: list[Callable[[str], Any]] = [
    parse_memory_max,
    parse_cpu_max,
    parse_v1_memory_limit,
    parse_v1_cfs,
    lambda t: parse_v1_cfs(t, t),
    parse_cpu_list,
    lambda t: parse_flat_keyed(t, location="x"),
    lambda t: parse_single_value(t, location="x"),
    parse_proc_cgroup,
    parse_mountinfo,
]


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_parsers_raise_only_parse_errors(parser: Callable[[str], Any], text: str) -> None:
    try:
        parser(text)
    except CgroupParseError as err:
        assert isinstance(err, InputError) and err.exit_code == 2


# ---------------------------------------------------------------- the machine's own files


def _host_files() -> list[tuple[str, Path]]:
    """(kind, path) of every cgroup limit/stat file this host exposes to this process."""
    try:
        membership = parse_proc_cgroup(Path("/proc/self/cgroup").read_text())
        mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    except OSError:
        return []
    found: list[tuple[str, Path]] = []
    for m in mounts:
        if m.fstype == "cgroup2":
            names = ["memory.max", "cpu.max", "cpu.stat", "memory.current"]
            rel = (membership.v2 or "/").lstrip("/")
        else:
            names = ["memory.limit_in_bytes", "cpu.cfs_quota_us", "cpuset.cpus"]
            ctl = next((c for c in sorted(m.options) if c in membership.v1), None)
            rel = membership.v1.get(ctl, "/").lstrip("/") if ctl else ""
        for d in {Path(m.mountpoint), Path(m.mountpoint) / rel}:
            found += [(n, d / n) for n in names if (d / n).is_file()]
    return found


def test_this_hosts_cgroup_files_parse() -> None:
    files = _host_files()
    if not files:
        pytest.skip("no cgroup filesystem visible to this process (/proc/self/mountinfo)")
    parse: dict[str, Callable[[str, str], object]] = {
        "memory.max": lambda t, p: parse_memory_max(t, location=p),
        "cpu.max": lambda t, p: parse_cpu_max(t, location=p),
        "cpu.stat": lambda t, p: parse_flat_keyed(t, location=p),
        "memory.current": lambda t, p: parse_single_value(t, location=p),
        "memory.limit_in_bytes": lambda t, p: parse_v1_memory_limit(t, location=p),
        "cpu.cfs_quota_us": lambda t, p: parse_v1_cfs(
            t, (Path(p).parent / "cpu.cfs_period_us").read_text(), location=p
        ),
        "cpuset.cpus": lambda t, p: parse_cpu_list(t, location=p) if t.strip() else None,
    }
    for kind, path in files:
        parse[kind](path.read_text(), str(path))  # raises on anything the kernel printed
