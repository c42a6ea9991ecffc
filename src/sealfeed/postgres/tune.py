"""``postgresql.conf`` settings derived from the machine, the node count and the pool size.

Pure: :func:`tune` takes :class:`TuneInputs` and returns every setting with the reason for
its value. Nothing here reads files or runs PostgreSQL; the caller passes the effective
limits (:mod:`sealfeed.postgres.limits`) and the names the installed server knows
(``postgres --describe-config``), and settings the server does not know are returned as
``skipped`` instead of being written (a PostgreSQL 15 test machine, a 17 image).

The sizing rules (and why they differ from a dedicated database server) are in
docs/postgres.md "Tuning" and ADR 0041.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from sealfeed.postgres.limits import effective_cpu_count

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Connections a Chainlink node holds beyond ``Database.MaxOpenConns``: the lease lock and
#: the LISTEN/NOTIFY event listener each keep a dedicated connection (Chainlink
#: ``docs/CONFIG.md`` [Database.Lock], [Database.Listener]); one more for migrations/backups.
PER_NODE_EXTRA_CONNECTIONS = 3
#: provision, readiness probes, ``sealfeed status`` and an operator's psql.
ADMIN_HEADROOM_CONNECTIONS = 10
#: PostgreSQL's default ``superuser_reserved_connections``; those slots sit inside
#: ``max_connections``, so they are added on top of what the nodes need.
SUPERUSER_RESERVED_CONNECTIONS = 3

#: PostgreSQL's dedicated-server guidance is 25% of RAM for shared_buffers (docs "Resource
#: Consumption"); this machine also runs N Chainlink nodes, the aggregator and the exporter,
#: so PostgreSQL takes 15% (ADR 0041).
SHARED_BUFFERS_FRACTION = 0.15
SHARED_BUFFERS_MIN = 32 * MiB
SHARED_BUFFERS_MAX = 8 * GiB
#: planner hint only (no allocation): the page cache is shared with the node processes.
EFFECTIVE_CACHE_FRACTION = 0.50
#: VACUUM before PostgreSQL 17 never uses more than 1GB of maintenance_work_mem for dead
#: tuples (docs "maintenance_work_mem"), so more is wasted.
MAINTENANCE_WORK_MEM_MIN = 16 * MiB
MAINTENANCE_WORK_MEM_MAX = 1 * GiB
WORK_MEM_MIN = 1 * MiB
WORK_MEM_MAX = 64 * MiB


SettingValue = str | int | float | bool


@dataclass(frozen=True)
class Setting:
    """One ``name = value`` line with the reason for the value."""

    name: str
    value: SettingValue
    reason: str

    def rendered(self) -> str:
        """The value as postgresql.conf syntax (strings single-quoted, quotes doubled)."""
        v = self.value
        if isinstance(v, bool):
            return "on" if v else "off"
        if isinstance(v, (int, float)):
            return str(v)
        return "'" + v.replace("'", "''") + "'"


@dataclass(frozen=True)
class TuneInputs:
    memory_bytes: int
    cpus: float
    nodes: int
    pool_per_node: int
    listen_tcp: bool = False
    host: str = "127.0.0.1"
    port: int = 5432
    socket_dir: str = "/run/postgresql"
    memory_source: str = "given"
    cpu_source: str = "given"
    #: major version of the server the file is for (None = unknown, emit everything)
    major: int | None = None
    #: setting names the server knows (``postgres --describe-config``); None = no filter
    known_settings: frozenset[str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TuneResult:
    inputs: TuneInputs
    settings: tuple[Setting, ...]
    #: settings the target server does not know (left out of the file)
    skipped: tuple[Setting, ...] = ()

    def as_dict(self) -> dict[str, SettingValue]:
        return {s.name: s.value for s in self.settings}

    def get(self, name: str) -> SettingValue:
        for s in self.settings:
            if s.name == name:
                return s.value
        raise KeyError(name)


def per_node_connections(pool_per_node: int) -> int:
    """Connection slots one node may use (also its role's CONNECTION LIMIT)."""
    return pool_per_node + PER_NODE_EXTRA_CONNECTIONS


def max_connections_for(nodes: int, pool_per_node: int) -> int:
    return (
        nodes * per_node_connections(pool_per_node)
        + ADMIN_HEADROOM_CONNECTIONS
        + SUPERUSER_RESERVED_CONNECTIONS
    )


def format_bytes(n: int) -> str:
    """Whole MB, or GB when exact (postgresql.conf memory units, 1024-based)."""
    mb = max(1, n // MiB)
    if mb >= 1024 and mb % 1024 == 0:
        return f"{mb // 1024}GB"
    return f"{mb}MB"


def _human(n: int) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n // MiB} MiB"


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def _mb_floor(n: int) -> int:
    return max(MiB, (n // MiB) * MiB)


def tune(inp: TuneInputs) -> TuneResult:
    """Every setting sealfeed writes, with its reason (docs/postgres.md "Tuning")."""
    from sealfeed.errors import InputError

    if inp.memory_bytes <= 0:
        raise InputError(f"memory must be positive, got {inp.memory_bytes}", location="memory")
    if inp.cpus <= 0 or not math.isfinite(inp.cpus):
        raise InputError(f"cpus must be positive, got {inp.cpus}", location="cpus")
    if inp.nodes < 1:
        raise InputError(f"need at least one node, got {inp.nodes}", location="nodes")
    if inp.pool_per_node < 1:
        raise InputError(
            f"pool per node must be >= 1, got {inp.pool_per_node}",
            location="postgres.max_open_conns_per_node",
        )

    mem = inp.memory_bytes
    mem_h = f"{_human(mem)} effective memory ({inp.memory_source})"
    cpus = effective_cpu_count(inp.cpus)
    cpu_h = f"{inp.cpus:g} CPUs ({inp.cpu_source})"
    out: list[Setting] = []

    def add(name: str, value: SettingValue, reason: str) -> None:
        out.append(Setting(name, value, reason))

    # ---- connections and listening
    per_node = per_node_connections(inp.pool_per_node)
    max_conn = max_connections_for(inp.nodes, inp.pool_per_node)
    add(
        "listen_addresses",
        inp.host if inp.listen_tcp else "",
        f"TCP on {inp.host} only (configured)"
        if inp.listen_tcp
        else "unix socket only: no TCP listener unless postgres.listen_tcp is set",
    )
    add("port", inp.port, "postgres.port (also names the socket file .s.PGSQL.<port>)")
    add("unix_socket_directories", inp.socket_dir, "postgres.socket_dir")
    add(
        "unix_socket_permissions",
        "0777",
        "every node OS user must reach the socket; access is decided by pg_hba.conf + SCRAM",
    )
    add(
        "max_connections",
        max_conn,
        f"{inp.nodes} nodes x ({inp.pool_per_node} pool + {PER_NODE_EXTRA_CONNECTIONS} lock/"
        f"listener/spare) + {ADMIN_HEADROOM_CONNECTIONS} admin + "
        f"{SUPERUSER_RESERVED_CONNECTIONS} superuser-reserved (each role is capped at "
        f"{per_node} by CONNECTION LIMIT)",
    )
    add(
        "superuser_reserved_connections",
        SUPERUSER_RESERVED_CONNECTIONS,
        "PostgreSQL default, counted in max_connections above",
    )
    add("password_encryption", "scram-sha-256", "pg_hba.conf accepts SCRAM only")
    add(
        "scram_iterations",
        4096,
        "RFC 7677 / PostgreSQL default; pinned because provision computes SCRAM verifiers "
        "client-side so no plaintext password reaches the server",
    )

    # ---- memory
    sb = _clamp(
        _mb_floor(int(mem * SHARED_BUFFERS_FRACTION)), SHARED_BUFFERS_MIN, SHARED_BUFFERS_MAX
    )
    add(
        "shared_buffers",
        format_bytes(sb),
        f"{SHARED_BUFFERS_FRACTION:.0%} of {mem_h}, within "
        f"[{format_bytes(SHARED_BUFFERS_MIN)}, {format_bytes(SHARED_BUFFERS_MAX)}]; the "
        f"rest is for {inp.nodes} Chainlink nodes and the OS",
    )
    ecs = max(sb, _mb_floor(int(mem * EFFECTIVE_CACHE_FRACTION)))
    add(
        "effective_cache_size",
        format_bytes(ecs),
        f"{EFFECTIVE_CACHE_FRACTION:.0%} of {mem_h} (planner hint, allocates nothing)",
    )
    wm = _clamp(_mb_floor((mem - sb) // 4 // (max_conn * 2)), WORK_MEM_MIN, WORK_MEM_MAX)
    add(
        "work_mem",
        format_bytes(wm),
        f"a quarter of the memory outside shared_buffers over max_connections x 2 sort/hash "
        f"steps, within [{format_bytes(WORK_MEM_MIN)}, {format_bytes(WORK_MEM_MAX)}]",
    )
    mwm = _clamp(_mb_floor(mem // 32), MAINTENANCE_WORK_MEM_MIN, MAINTENANCE_WORK_MEM_MAX)
    add(
        "maintenance_work_mem",
        format_bytes(mwm),
        f"1/32 of {mem_h}, within [{format_bytes(MAINTENANCE_WORK_MEM_MIN)}, "
        f"{format_bytes(MAINTENANCE_WORK_MEM_MAX)}] (VACUUM uses at most 1GB before PG 17)",
    )

    # ---- CPU
    par = min(4, cpus // 2)
    add(
        "max_worker_processes",
        max(4, cpus + 2),
        f"{cpu_h}: parallel workers + logical-replication launcher + 1 spare, at least 4",
    )
    add("max_parallel_workers", cpus, f"one per whole CPU ({cpu_h})")
    add(
        "max_parallel_workers_per_gather",
        par,
        f"half the CPUs, at most 4: Chainlink's queries are short OLTP ({cpu_h})"
        + ("; 0 = no parallel query on one CPU" if par == 0 else ""),
    )
    add("max_parallel_maintenance_workers", par, f"as per-gather ({cpu_h})")
    add(
        "autovacuum_max_workers",
        _clamp(cpus, 1, 3),
        f"one per CPU up to PostgreSQL's default of 3 ({cpu_h})",
    )

    # ---- WAL on an overlay filesystem (architecture §3.2 "Configuration Optimizations")
    add("wal_level", "replica", "architecture §3.2 (no physical replicas are attached)")
    add("max_wal_senders", 0, "architecture §3.2: no replication")
    add("max_replication_slots", 0, "architecture §3.2: no replication slots retain WAL")
    add("archive_mode", False, "architecture §3.2: no WAL archiving")
    add("wal_keep_size", 0, "architecture §3.2: keep no extra WAL for standbys")
    add("max_wal_size", "256MB", "architecture §3.2: bounded WAL on the overlay filesystem")
    add("min_wal_size", "64MB", "architecture §3.2")
    add("checkpoint_timeout", "5min", "architecture §3.2 (PostgreSQL default)")
    add("checkpoint_completion_target", 0.9, "architecture §3.2: spread checkpoint I/O")

    # ---- crash safety stays on
    add("fsync", True, "crash safety kept on (never trade durability for speed)")
    add("full_page_writes", True, "crash safety kept on (torn pages after a crash)")
    add("synchronous_commit", True, "crash safety kept on (a committed tx survives a crash)")
    add("autovacuum", True, "architecture §3.2")

    # ---- behaviour and logs
    add("jit", False, "short OLTP queries: JIT compile time exceeds the gain")
    add("logging_collector", False, "s6-log collects stderr")
    add("log_destination", "stderr", "s6-log collects stderr")
    add("log_line_prefix", "%m [%p] %q%u@%d ", "timestamp, pid, role@database")
    add("lc_messages", "C", "untranslated server messages (parsed by tools, grep-able)")
    add("timezone", "UTC", "one clock for every log line and timestamp")
    add("log_timezone", "UTC", "one clock for every log line and timestamp")

    settings = tuple(out)
    skipped: tuple[Setting, ...] = ()
    if inp.known_settings is not None:
        known = inp.known_settings
        ver = f"PostgreSQL {inp.major}" if inp.major is not None else "the installed server"
        skipped = tuple(
            replace(s, reason=f"not known to {ver}")
            for s in settings
            if s.name.lower() not in known
        )
        settings = tuple(s for s in settings if s.name.lower() in known)
    return TuneResult(inputs=inp, settings=settings, skipped=skipped)


__all__ = [
    "ADMIN_HEADROOM_CONNECTIONS",
    "PER_NODE_EXTRA_CONNECTIONS",
    "SUPERUSER_RESERVED_CONNECTIONS",
    "Setting",
    "TuneInputs",
    "TuneResult",
    "format_bytes",
    "max_connections_for",
    "per_node_connections",
    "tune",
]
