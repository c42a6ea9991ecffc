"""A frozen procfs + scandir + s6-rc source dir + cgroup v2 tree for unit tests.

Layout follows proc(5), s6 2.11 ``supervise/status`` (35 bytes, see sealfeed.s6.supervise)
and cgroup-v2.rst; values are chosen so every metric has a known expected value.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
NOW = 1_700_001_000.0  # wall clock of the fixture
UPTIME = 1000.0  # so boot = 1_700_000_000
_TAI = (1 << 62) + 10 + 27  # TAI64 label of unix 0 after the 2017 leap second


def status_bytes(
    *, pid: int, stamp: float, wstat: int = 0, want_up: bool = True, ready: bool = False
) -> bytes:
    flags = (0x04 if want_up else 0) | (0x08 if ready else 0)
    secs = int(stamp) + _TAI
    return struct.pack(">QIQIQHB", secs, 0, secs if ready else 0, 0, pid, wstat, flags)


def stat_line(
    pid: int, comm: str, ppid: int, *, cpu: float, threads: int, start: float, rss_kb: int
) -> str:
    ticks = round(cpu * HZ)
    utime, stime = ticks - ticks // 3, ticks // 3
    return (
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304 0 0 0 0 {utime} {stime} 0 0 20 0 "
        f"{threads} 0 {round(start * HZ)} 123456789 {rss_kb // PAGE_KB} 18446744073709551615 "
        "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    )


@dataclass
class Proc:
    pid: int
    comm: str
    ppid: int
    cpu: float  # cpu seconds so far
    threads: int
    start: float  # seconds after boot
    rss_kb: int
    fds: int = 3
    cmdline: str | None = None
    read_bytes: int = 4096
    write_bytes: int = 8192


PROCS = [
    Proc(100, "postgres", 50, cpu=20, threads=1, start=100, rss_kb=40_000, fds=10),
    Proc(
        101,
        "postgres",
        100,
        cpu=2,
        threads=1,
        start=200,
        rss_kb=8_000,
        cmdline="postgres: chainlink_node_1 chainlink_node_1 [local] idle",
    ),
    Proc(
        102,
        "postgres",
        100,
        cpu=1,
        threads=1,
        start=101,
        rss_kb=4_000,
        cmdline="postgres: checkpointer ",
    ),
    Proc(
        103,
        "postgres",
        100,
        cpu=1,
        threads=1,
        start=300,
        rss_kb=6_000,
        cmdline="postgres: chainlink_node_2 chainlink_node_2 127.0.0.1(45678) idle in transaction",
    ),
    Proc(
        104,
        "postgres",
        100,
        cpu=0.5,
        threads=1,
        start=300,
        rss_kb=6_000,
        cmdline="postgres: logical replication launcher ",
    ),
    Proc(200, "bash", 51, cpu=0.5, threads=1, start=500, rss_kb=3_000),
    Proc(201, "chainlink", 200, cpu=50, threads=12, start=500, rss_kb=300_000, fds=40),
    Proc(202, "node (worker) 1", 201, cpu=5, threads=2, start=600, rss_kb=20_000),
    Proc(300, "sealfeed", 52, cpu=1, threads=3, start=100, rss_kb=30_000),
    Proc(999, "unrelated", 1, cpu=9, threads=1, start=10, rss_kb=1_000),
]

# service -> (pid or 0, stamp, wstat, want_up, ready)
SERVICES = {
    "postgres": (100, NOW - 900, 0, True, True),
    "chainlink-node-1": (200, NOW - 500, 0x0009, True, False),  # up; previous run SIGKILLed
    "price-aggregator": (0, NOW - 30, 0x0100, True, False),  # down, last exit code 1
    "process-metrics": (300, NOW - 900, 0, True, True),
}


@dataclass
class Tree:
    proc: Path
    scandir: Path
    source: Path
    cgroup: Path

    def set_uptime(self, value: float) -> None:
        (self.proc / "uptime").write_text(f"{value:.2f} {value * 1.8:.2f}\n")

    def write_proc(self, p: Proc) -> None:
        d = self.proc / str(p.pid)
        (d / "fd").mkdir(parents=True, exist_ok=True)
        (d / "task" / str(p.pid)).mkdir(parents=True, exist_ok=True)
        (d / "stat").write_text(
            stat_line(
                p.pid, p.comm, p.ppid, cpu=p.cpu, threads=p.threads, start=p.start, rss_kb=p.rss_kb
            )
        )
        (d / "io").write_text(
            f"rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: {p.read_bytes}\n"
            f"write_bytes: {p.write_bytes}\ncancelled_write_bytes: 0\n"
        )
        for i in range(p.fds):
            (d / "fd" / str(i)).touch()
        (d / "cmdline").write_bytes(
            (p.cmdline or p.comm).encode() + b"\0" if p.cmdline else p.comm.encode() + b"\0"
        )
        kids = [q.pid for q in PROCS if q.ppid == p.pid]
        (d / "task" / str(p.pid) / "children").write_text(
            " ".join(map(str, kids)) + (" " if kids else "")
        )

    def remove_proc(self, pid: int) -> None:
        import shutil

        shutil.rmtree(self.proc / str(pid))


def build_tree(base: Path) -> Tree:
    t = Tree(base / "proc", base / "scandir", base / "s6-rc.d", base / "cgroup")
    t.proc.mkdir()
    t.set_uptime(UPTIME)
    (t.proc / "meminfo").write_text("MemTotal:        4000000 kB\nMemFree:  1000 kB\n")
    (t.proc / "self").mkdir()
    (t.proc / "self" / "cgroup").write_text("0::/\n")
    for p in PROCS:
        t.write_proc(p)
    t.scandir.mkdir()
    (t.scandir / ".s6-svscan").mkdir()
    for name, (pid, stamp, wstat, want, ready) in SERVICES.items():
        d = t.scandir / name / "supervise"
        d.mkdir(parents=True)
        (d / "status").write_bytes(
            status_bytes(pid=pid, stamp=stamp, wstat=wstat, want_up=want, ready=ready)
        )
    (t.scandir / "chainlink-node-1" / "restart-count").write_text("2\n")
    (t.scandir / "chainlink-node-1" / "last-restart").write_text("1700000500\n")
    (t.scandir / "price-aggregator" / "restart-count").write_text("not a number\n")
    for name, kind in (
        ("postgres", "longrun"),
        ("postgres-init", "oneshot"),
        ("chainlink-node-2", "longrun"),
        ("user", "bundle"),
    ):
        (t.source / name).mkdir(parents=True)
        (t.source / name / "type").write_text(kind + "\n")
    t.cgroup.mkdir()
    (t.cgroup / "memory.current").write_text("1048576000\n")
    (t.cgroup / "memory.max").write_text("2147483648\n")
    (t.cgroup / "cpu.max").write_text("200000 100000\n")
    (t.cgroup / "cpu.stat").write_text(
        "usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\n"
        "nr_periods 10\nnr_throttled 2\nthrottled_usec 100000\n"
    )
    return t
