"""prometheus-client Collector over :class:`~sealfeed.exporter.sampler.Snapshot` s.

Metric names and labels follow design §3.4/§7.3 (``chainlink_process_*``,
``chainlink_s6_service_*``; labels ``service``, ``process``, ``pid``); ``instance`` and
``environment`` are added by the push (grouping key / ``extra_label``), not per sample, because
Pushgateway rejects pushed series that carry grouping labels themselves. Our own metrics are
``sealfeed_exporter_*``. The full list, with types, is the contract in docs/monitoring.md.

Every ``collect()`` renders the latest snapshot only, so a process that exited is gone from
the next scrape/push (no stale pid series), and per-service aggregates give dashboards series
that survive pid churn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from sealfeed.exporter.sampler import SampleError, Sampler, Snapshot

_log = logging.getLogger("sealfeed.exporter")

PROC_LABELS = ["service", "process", "pid"]

#: every metric family the exporter emits -> (type, help). docs/monitoring.md lists the same.
FAMILIES: dict[str, tuple[str, str]] = {
    # design §3.4 table
    "chainlink_process_list": ("gauge", "Tracked processes (1 = running) by service, process, pid"),
    "chainlink_process_cpu_percent": (
        "gauge",
        "CPU use of the process over the last sampling interval, percent of one CPU",
    ),
    "chainlink_process_memory_rss_kb": ("gauge", "Resident set size of the process in KiB"),
    "chainlink_s6_service_restart_count": (
        "gauge",
        "Restarts recorded by the service's finish script (<scandir>/<svc>/restart-count); "
        "a gauge because the file may be reset (ADR 0060)",
    ),
    "chainlink_s6_service_last_restart_ts": (
        "gauge",
        "Unix time of the last restart (<scandir>/<svc>/last-restart)",
    ),
    # process details
    "chainlink_process_cpu_seconds": ("counter", "User+system CPU seconds of the process"),
    "chainlink_process_threads": ("gauge", "Threads of the process"),
    "chainlink_process_open_fds": ("gauge", "Open file descriptors of the process"),
    "chainlink_process_read_bytes": ("counter", "Bytes the process read from storage"),
    "chainlink_process_write_bytes": ("counter", "Bytes the process wrote to storage"),
    "chainlink_process_start_time_seconds": ("gauge", "Unix start time of the process"),
    # s6 state
    "chainlink_s6_service_up": ("gauge", "1 if s6 reports the service up"),
    "chainlink_s6_service_ready": ("gauge", "1 if the service is up and signalled readiness"),
    "chainlink_s6_service_want_up": ("gauge", "1 if s6 wants the service up"),
    "chainlink_s6_service_uptime_seconds": (
        "gauge",
        "Seconds since the service came up (0 if down)",
    ),
    "chainlink_s6_service_last_exit_code": (
        "gauge",
        "Exit code of the last run (128+signal if killed by a signal)",
    ),
    "chainlink_s6_service_last_exit_signal": ("gauge", "Signal that killed the last run (0: none)"),
    # per-service aggregates over the whole process tree
    "chainlink_s6_service_processes": ("gauge", "Processes in the service's process tree"),
    "chainlink_s6_service_cpu_percent": ("gauge", "CPU percent summed over the service's tree"),
    "chainlink_s6_service_memory_rss_kb": ("gauge", "RSS KiB summed over the service's tree"),
    "chainlink_s6_service_open_fds": ("gauge", "Open fds summed over the service's tree"),
    "chainlink_s6_service_threads": ("gauge", "Threads summed over the service's tree"),
    # container
    "sealfeed_exporter_cgroup_memory_current_bytes": ("gauge", "cgroup v2 memory.current"),
    "sealfeed_exporter_cgroup_memory_max_bytes": (
        "gauge",
        "cgroup v2 memory.max (absent if 'max')",
    ),
    "sealfeed_exporter_memory_limit_bytes": (
        "gauge",
        "Effective memory limit: min(cgroup memory.max, MemTotal)",
    ),
    "sealfeed_exporter_memory_total_bytes": ("gauge", "MemTotal of /proc/meminfo"),
    "sealfeed_exporter_cgroup_cpu_usage_seconds": ("counter", "cgroup v2 cpu.stat usage_usec"),
    "sealfeed_exporter_cgroup_cpu_user_seconds": ("counter", "cgroup v2 cpu.stat user_usec"),
    "sealfeed_exporter_cgroup_cpu_system_seconds": ("counter", "cgroup v2 cpu.stat system_usec"),
    "sealfeed_exporter_cgroup_cpu_throttled_periods": (
        "counter",
        "cgroup v2 cpu.stat nr_throttled",
    ),
    "sealfeed_exporter_cgroup_cpu_throttled_seconds": (
        "counter",
        "cgroup v2 cpu.stat throttled_usec",
    ),
    "sealfeed_exporter_cgroup_cpu_limit_cores": ("gauge", "cgroup v2 cpu.max quota/period"),
    "sealfeed_exporter_postgres_backends": (
        "gauge",
        "PostgreSQL client backends by database and user (from their process titles)",
    ),
    # the exporter itself
    "sealfeed_exporter_last_sample_timestamp_seconds": ("gauge", "Unix time of the last sample"),
    "sealfeed_exporter_sample_duration_seconds": ("gauge", "Wall time of the last sample"),
    "sealfeed_exporter_sample_cpu_seconds": ("gauge", "CPU time the last sample cost"),
    "sealfeed_exporter_consecutive_failures": ("gauge", "Sampling failures since the last success"),
    "sealfeed_exporter_samples": ("counter", "Samples taken, by outcome (ok|error)"),
    "sealfeed_exporter_services": ("gauge", "s6 services discovered"),
}


def exposed_names() -> set[str]:
    """Sample names as they appear on the wire (counters get ``_total``)."""
    return {n + "_total" if t == "counter" else n for n, (t, _) in FAMILIES.items()}


class ProcessCollector:
    """Register on an explicit registry: ``registry.register(ProcessCollector(sampler))``.

    ``sample()`` takes a new snapshot (the serve loop calls it every interval); ``collect()``
    renders the latest one and samples first only if none is fresh (``max_age`` seconds), so
    a bare registry (``collect --once``, tests) still reads /proc at scrape time.
    """

    def __init__(
        self,
        sampler: Sampler,
        *,
        max_age: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sampler = sampler
        self.max_age = max_age
        self._mono = monotonic
        self._lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self._taken_at: float | None = None
        self.consecutive_failures = 0
        self.ok_total = 0
        self.error_total = 0
        self.last_error: str | None = None

    def sample(self) -> Snapshot:
        """Take a snapshot now; raises :class:`SampleError` (and counts it) on failure."""
        with self._lock:
            try:
                snap = self.sampler.sample()
            except SampleError as err:
                self.consecutive_failures += 1
                self.error_total += 1
                self.last_error = str(err)
                raise
            self.snapshot = snap
            self._taken_at = self._mono()
            self.consecutive_failures = 0
            self.ok_total += 1
            self.last_error = None
            return snap

    def describe(self) -> list[Metric]:
        return []  # do not sample at registration time

    def collect(self) -> Iterator[Metric]:
        if self._taken_at is None or self._mono() - self._taken_at > self.max_age:
            try:
                self.sample()
            except SampleError as err:
                _log.warning("sample failed", extra={"event": "sample_failed", "error": str(err)})
        yield from render_snapshot(self.snapshot, self)


def _family(name: str, labels: list[str] | None = None) -> GaugeMetricFamily | CounterMetricFamily:
    kind, doc = FAMILIES[name]
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


def render_snapshot(
    snap: Snapshot | None, state: ProcessCollector | None = None
) -> Iterator[Metric]:
    """Metric families for ``snap`` (pure apart from reading ``state``'s counters)."""
    fam = {
        n: _family(n, PROC_LABELS if n.startswith("chainlink_process_") else None) for n in FAMILIES
    }
    for n in FAMILIES:
        if n.startswith("chainlink_s6_service_"):
            fam[n] = _family(n, ["service"])
    fam["sealfeed_exporter_postgres_backends"] = _family(
        "sealfeed_exporter_postgres_backends", ["database", "user"]
    )
    fam["sealfeed_exporter_samples"] = _family("sealfeed_exporter_samples", ["outcome"])

    def add(name: str, labels: list[str], value: float | None) -> None:
        if value is not None:
            fam[name].add_metric(labels, float(value))

    if snap is not None:
        for svc in snap.services:
            s = [svc.name]
            add("chainlink_s6_service_up", s, int(svc.up))
            add("chainlink_s6_service_ready", s, int(svc.ready))
            add("chainlink_s6_service_want_up", s, int(svc.want_up))
            add("chainlink_s6_service_uptime_seconds", s, round(svc.uptime_seconds, 3))
            add("chainlink_s6_service_last_exit_code", s, svc.last_exit_code)
            add("chainlink_s6_service_last_exit_signal", s, svc.last_exit_signal)
            add("chainlink_s6_service_restart_count", s, svc.restart_count or 0)
            add("chainlink_s6_service_last_restart_ts", s, svc.last_restart_ts or 0)
            add("chainlink_s6_service_processes", s, len(svc.processes))
            add("chainlink_s6_service_cpu_percent", s, round(svc.cpu_percent, 3))
            add("chainlink_s6_service_memory_rss_kb", s, svc.rss_kb)
            add("chainlink_s6_service_open_fds", s, svc.open_fds)
            add("chainlink_s6_service_threads", s, svc.threads)
            for p in svc.processes:
                pl = [svc.name, p.comm, str(p.pid)]
                add("chainlink_process_list", pl, 1)
                add("chainlink_process_cpu_percent", pl, p.cpu_percent)
                add("chainlink_process_memory_rss_kb", pl, p.rss_kb)
                add("chainlink_process_cpu_seconds", pl, p.cpu_seconds)
                add("chainlink_process_threads", pl, p.threads)
                add("chainlink_process_open_fds", pl, p.open_fds)
                add("chainlink_process_read_bytes", pl, p.read_bytes)
                add("chainlink_process_write_bytes", pl, p.write_bytes)
                add("chainlink_process_start_time_seconds", pl, round(p.start_time, 2))
        cg = snap.cgroup
        add("sealfeed_exporter_cgroup_memory_current_bytes", [], cg.memory_current)
        add("sealfeed_exporter_cgroup_memory_max_bytes", [], cg.memory_max)
        limits = [v for v in (cg.memory_max, snap.memory_total_bytes) if v]
        add("sealfeed_exporter_memory_limit_bytes", [], min(limits) if limits else None)
        add("sealfeed_exporter_memory_total_bytes", [], snap.memory_total_bytes)
        us = 1e-6  # cpu.stat counts microseconds (cgroup-v2.rst "cpu.stat")
        for name, v in (
            ("sealfeed_exporter_cgroup_cpu_usage_seconds", cg.cpu_usage_usec),
            ("sealfeed_exporter_cgroup_cpu_user_seconds", cg.cpu_user_usec),
            ("sealfeed_exporter_cgroup_cpu_system_seconds", cg.cpu_system_usec),
            ("sealfeed_exporter_cgroup_cpu_throttled_seconds", cg.throttled_usec),
        ):
            add(name, [], v * us if v is not None else None)
        add("sealfeed_exporter_cgroup_cpu_throttled_periods", [], cg.nr_throttled)
        add("sealfeed_exporter_cgroup_cpu_limit_cores", [], cg.cpu_max_cores)
        for (db, pg_user), count in sorted(snap.pg_backends.items()):
            add("sealfeed_exporter_postgres_backends", [db, pg_user], count)
        add("sealfeed_exporter_last_sample_timestamp_seconds", [], round(snap.timestamp, 3))
        add("sealfeed_exporter_sample_duration_seconds", [], snap.duration_seconds)
        add("sealfeed_exporter_sample_cpu_seconds", [], snap.cpu_seconds)
        add("sealfeed_exporter_services", [], len(snap.services))
    if state is not None:
        add("sealfeed_exporter_consecutive_failures", [], state.consecutive_failures)
        add("sealfeed_exporter_samples", ["ok"], state.ok_total)
        add("sealfeed_exporter_samples", ["error"], state.error_total)
    for f in fam.values():
        if f.samples:
            yield f


__all__ = ["FAMILIES", "PROC_LABELS", "ProcessCollector", "exposed_names", "render_snapshot"]
