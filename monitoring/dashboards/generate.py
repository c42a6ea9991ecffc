"""Generate the Grafana dashboards of design §7.4 (run: python monitoring/dashboards/generate.py).

The JSON files next to this script are its output and are what operators import; every panel
query is parsed by promtool and VictoriaMetrics and checked against the metric names the code
really exports by tests/exporter/test_monitoring.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
I = 'instance=~"$instance", environment=~"$environment"'  # noqa: E741 - label filter shorthand
NODES = 'service=~"chainlink-node-[0-9]+"'
AGG = f'job="price-aggregator", {I}'


class Board:
    def __init__(self, uid: str, title: str, description: str, extra_vars: list[dict[str, Any]] | None = None) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict[str, Any]] = []
        self.extra_vars = extra_vars or []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self._x + w > 24:
            self._x, self._y = 0, self._y + self._row_h
            self._row_h = 0
        pos = {"x": self._x, "y": self._y, "w": w, "h": h}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        self._x, self._y = 0, self._y + self._row_h
        self._row_h = 1
        self.panels.append(
            {"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
             "gridPos": self._place(24, 1), "panels": []}
        )
        self._x, self._y, self._row_h = 0, self._y + 1, 0

    def panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        w: int = 12,
        h: int = 8,
        unit: str | None = None,
        description: str = "",
        thresholds: list[tuple[float | None, str]] | None = None,
        instant: bool = False,
        options: dict[str, Any] | None = None,
    ) -> None:
        defaults: dict[str, Any] = {}
        if unit:
            defaults["unit"] = unit
        if thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": v, "color": c} for v, c in thresholds],
            }
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": kind,
                "title": title,
                "description": description,
                "datasource": DS,
                "gridPos": self._place(w, h),
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": options or {},
                "targets": [
                    {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr,
                     "legendFormat": legend, "instant": instant, "range": not instant}
                    for i, (expr, legend) in enumerate(targets)
                ],
            }
        )

    def text(self, title: str, content: str, *, w: int = 24, h: int = 3) -> None:
        self.panels.append(
            {"id": len(self.panels) + 1, "type": "text", "title": title,
             "gridPos": self._place(w, h), "options": {"mode": "markdown", "content": content}}
        )

    def json(self) -> dict[str, Any]:
        def var(name: str, query: str, *, include_all: bool = True) -> dict[str, Any]:
            return {
                "name": name, "label": name, "type": "query", "datasource": DS,
                "query": {"query": query, "refId": f"var-{name}"},
                "definition": query, "refresh": 2, "multi": True, "includeAll": include_all,
                "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1,
            }

        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["sealfeed", "chainlink"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "editable": True,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["sealfeed"], "asDropdown": True, "title": "sealfeed"}],
            "templating": {
                "list": [
                    {"name": "datasource", "label": "datasource", "type": "datasource",
                     "query": "prometheus", "current": {}},
                    var("environment", "label_values(chainlink_s6_service_up, environment)"),
                    var("instance", 'label_values(chainlink_s6_service_up{environment=~"$environment"}, instance)'),
                    *[var(v["name"], v["query"]) for v in self.extra_vars],
                ]
            },
            "panels": self.panels,
        }


GREEN_RED = [(None, "green"), (1, "red")]


def overview() -> Board:
    b = Board("sealfeed-overview", "sealfeed / Overview", "Container health summary (design §7.4 dashboard 1)")
    b.row("Health")
    b.panel("stat", "Services up", [(f"sum(chainlink_s6_service_up{{{I}}})", "up")], w=4, h=4)
    b.panel("stat", "Services down (wanted up)", [
        (f"count((chainlink_s6_service_up{{{I}}} == 0) and (chainlink_s6_service_want_up{{{I}}} == 1)) or vector(0)", "down")
    ], w=4, h=4, thresholds=GREEN_RED)
    b.panel("stat", "Restarts (range)", [(f"sum(increase(chainlink_s6_service_restart_count{{{I}}}[$__range]))", "restarts")],
            w=4, h=4, thresholds=[(None, "green"), (1, "orange"), (3, "red")])
    b.panel("stat", "Container memory / limit", [
        (f"max(sealfeed_exporter_cgroup_memory_current_bytes{{{I}}}) / max(sealfeed_exporter_memory_limit_bytes{{{I}}})", "memory")
    ], w=4, h=4, unit="percentunit", thresholds=[(None, "green"), (0.7, "orange"), (0.8, "red")])
    b.panel("stat", "Exporter report age", [
        (f"time() - max(sealfeed_exporter_last_sample_timestamp_seconds{{{I}}})", "age")
    ], w=4, h=4, unit="s", thresholds=[(None, "green"), (30, "orange"), (60, "red")])
    b.panel("stat", "Aggregator push age", [
        (f"time() - max(sealfeed_push_timestamp_seconds{{{AGG}}})", "age")
    ], w=4, h=4, unit="s", thresholds=[(None, "green"), (30, "orange"), (60, "red")])
    b.panel("stat", "Price sources down", [
        (f"count(max by (source) (sealfeed_aggregator_source_up{{{AGG}}}) == 0) or vector(0)", "down")
    ], w=4, h=4, thresholds=GREEN_RED)
    b.row("Services")
    b.panel("table", "Service status", [
        (f"max by (service) (chainlink_s6_service_up{{{I}}})", "up"),
        (f"max by (service) (chainlink_s6_service_ready{{{I}}})", "ready"),
        (f"max by (service) (chainlink_s6_service_uptime_seconds{{{I}}})", "uptime"),
        (f"max by (service) (chainlink_s6_service_restart_count{{{I}}})", "restarts"),
        (f"max by (service) (chainlink_s6_service_last_exit_code{{{I}}})", "last exit"),
    ], w=24, h=9, instant=True, options={"showHeader": True})
    b.row("Resources")
    b.panel("timeseries", "CPU by service (% of one CPU)", [
        (f"sum by (service) (chainlink_s6_service_cpu_percent{{{I}}})", "{{service}}")
    ], unit="percent")
    b.panel("timeseries", "Memory (RSS) by service", [
        (f"sum by (service) (chainlink_s6_service_memory_rss_kb{{{I}}}) * 1024", "{{service}}")
    ], unit="bytes")
    b.panel("timeseries", "Container CPU (cores)", [
        (f"sum(rate(sealfeed_exporter_cgroup_cpu_usage_seconds_total{{{I}}}[$__rate_interval]))", "used"),
        (f"max(sealfeed_exporter_cgroup_cpu_limit_cores{{{I}}})", "limit"),
    ])
    b.panel("timeseries", "Container memory", [
        (f"max(sealfeed_exporter_cgroup_memory_current_bytes{{{I}}})", "current"),
        (f"max(sealfeed_exporter_memory_limit_bytes{{{I}}})", "limit"),
    ], unit="bytes")
    b.row("Alerts")
    b.panel("alertlist", "Firing alerts", [], w=24, h=6, options={"stateFilter": {"firing": True, "pending": True}, "dashboardFilter": "", "tags": []})
    return b


def aggregator() -> Board:
    b = Board("sealfeed-aggregator", "sealfeed / Price Aggregator",
              "Price aggregator (design §7.4 dashboard 2; metric names: docs/monitoring.md)")
    L = "sealfeed_aggregator_cache_lookups_total"
    b.row("Requests")
    b.panel("timeseries", "Request rate by route and status", [
        (f"sum by (route, status) (rate(sealfeed_aggregator_requests_total{{{AGG}}}[$__rate_interval]))", "{{route}} {{status}}")
    ], unit="reqps")
    b.panel("timeseries", "Error rate (5xx share)", [
        (f'sum(rate(sealfeed_aggregator_requests_total{{{AGG}, status=~"5.."}}[$__rate_interval])) / sum(rate(sealfeed_aggregator_requests_total{{{AGG}}}[$__rate_interval]))', "5xx")
    ], w=8, unit="percentunit")
    b.panel("timeseries", "Upstream latency p50 / p95 / p99", [
        (f"histogram_quantile({q}, sum by (le) (rate(sealfeed_aggregator_upstream_latency_seconds_bucket{{{AGG}}}[$__rate_interval])))", f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ], w=8, unit="s", description="the aggregator does not time its own requests: cached answers cost microseconds")
    b.panel("stat", "Push failures (consecutive)", [(f"max(sealfeed_push_consecutive_failures{{{AGG}}})", "failures")], w=8, thresholds=GREEN_RED)
    b.row("Cache")
    b.panel("timeseries", "Cache hit ratio", [
        (f'sum(rate({L}{{{AGG}, result=~"hit|not_found"}}[$__rate_interval])) / sum(rate({L}{{{AGG}}}[$__rate_interval]))', "hit ratio"),
    ], w=8, unit="percentunit", thresholds=[(None, "red"), (0.7, "green")],
       description="answered from the cache (fresh value or remembered unknown pair) / all lookups")
    b.panel("timeseries", "Cache lookups by result", [
        (f"sum by (result) (rate({L}{{{AGG}}}[$__rate_interval]))", "{{result}}")
    ], w=8, unit="ops")
    b.panel("timeseries", "Tracked pairs by source", [
        (f"sum by (source) (sealfeed_aggregator_tracked_pairs{{{AGG}}})", "{{source}}")
    ], w=8)
    b.panel("timeseries", "Background refresh lag p95", [
        (f"histogram_quantile(0.95, sum by (le, source) (rate(sealfeed_aggregator_refresh_lag_seconds_bucket{{{AGG}}}[$__rate_interval])))", "{{source}}"),
    ], w=12, unit="s", description="how late a refresh started after its pair became due")
    b.panel("timeseries", "Background refreshes", [
        (f"sum by (source) (rate(sealfeed_aggregator_refresh_lag_seconds_count{{{AGG}}}[$__rate_interval]))", "{{source}}"),
    ], w=12, unit="ops")
    b.row("Sources")
    b.panel("status-history", "Source up", [
        (f"max by (source) (sealfeed_aggregator_source_up{{{AGG}}})", "{{source}}")
    ], w=24, h=7, thresholds=[(None, "red"), (1, "green")],
       description="0 after a failed upstream call, 1 after a successful one or a stream quote")
    b.panel("timeseries", "Upstream latency p95 by source", [
        (f"histogram_quantile(0.95, sum by (le, source) (rate(sealfeed_aggregator_upstream_latency_seconds_bucket{{{AGG}}}[$__rate_interval])))", "{{source}}")
    ], w=8, unit="s")
    b.panel("timeseries", "Upstream calls by outcome", [
        (f"sum by (source, outcome) (rate(sealfeed_aggregator_upstream_calls_total{{{AGG}}}[$__rate_interval]))", "{{source}} {{outcome}}")
    ], w=8, unit="reqps")
    b.panel("timeseries", "Upstream errors by kind", [
        (f"sum by (source, kind) (rate(sealfeed_aggregator_upstream_errors_total{{{AGG}}}[$__rate_interval]))", "{{source}} {{kind}}")
    ], w=8)
    b.row("WebSocket streams")
    b.panel("status-history", "Stream connected", [
        (f"max by (source) (sealfeed_aggregator_stream_connected{{{AGG}}})", "{{source}}")
    ], w=12, thresholds=[(None, "red"), (1, "green")],
       description="0 also while a source has no pairs to stream (idle: desired pairs 0)")
    b.panel("timeseries", "Stream reconnects (10m)", [
        (f"sum by (source) (increase(sealfeed_aggregator_stream_reconnects_total{{{AGG}}}[10m]))", "{{source}}")
    ], w=12, thresholds=[(None, "green"), (3, "red")])
    b.panel("timeseries", "Stream messages and quotes", [
        (f"sum by (source) (rate(sealfeed_aggregator_stream_messages_total{{{AGG}}}[$__rate_interval]))", "{{source}} messages"),
        (f"sum by (source) (rate(sealfeed_aggregator_stream_quotes_total{{{AGG}}}[$__rate_interval]))", "{{source}} quotes"),
    ], w=8, unit="ops")
    b.panel("timeseries", "Stream pairs: subscribed / desired", [
        (f"max by (source) (sealfeed_aggregator_stream_subscribed_pairs{{{AGG}}})", "{{source}} subscribed"),
        (f"max by (source) (sealfeed_aggregator_stream_desired_pairs{{{AGG}}})", "{{source}} desired"),
    ], w=8)
    b.panel("timeseries", "Stream last message age / backoff", [
        (f"max by (source) (sealfeed_aggregator_stream_last_message_age_seconds{{{AGG}}})", "{{source}} age"),
        (f"max by (source) (sealfeed_aggregator_stream_backoff_seconds{{{AGG}}})", "{{source}} backoff"),
    ], w=8, unit="s")
    b.panel("timeseries", "Stream errors by kind", [
        (f"sum by (source, kind) (rate(sealfeed_aggregator_stream_errors_total{{{AGG}}}[$__rate_interval]))", "{{source}} {{kind}}")
    ], w=24)
    b.row("Process")
    b.panel("timeseries", "Aggregator CPU and memory", [
        (f'sum(chainlink_s6_service_cpu_percent{{{I}, service="price-aggregator"}})', "cpu %"),
        (f'sum(chainlink_s6_service_memory_rss_kb{{{I}, service="price-aggregator"}}) / 1024', "rss MiB"),
    ], w=24)
    return b


SVC_VAR = [{"name": "service", "query": 'label_values(chainlink_s6_service_up{instance=~"$instance"}, service)'}]
S = f'{I}, service=~"$service"'


def processes() -> Board:
    b = Board("sealfeed-processes", "sealfeed / Process Metrics", "Per-process resources (design §7.4 dashboard 3, §7.3)", SVC_VAR)
    b.row("Processes")
    b.panel("timeseries", "Per-process CPU (% of one CPU)", [
        (f"chainlink_process_cpu_percent{{{S}}}", "{{service}} {{process}} {{pid}}")
    ], unit="percent")
    b.panel("timeseries", "Per-process memory (RSS)", [
        (f"chainlink_process_memory_rss_kb{{{S}}} * 1024", "{{service}} {{process}} {{pid}}")
    ], unit="bytes")
    b.panel("table", "Process list", [
        (f"max by (service, process, pid) (chainlink_process_list{{{S}}})", ""),
        (f"max by (service, process, pid) (chainlink_process_threads{{{S}}})", "threads"),
        (f"max by (service, process, pid) (chainlink_process_open_fds{{{S}}})", "fds"),
        (f"max by (service, process, pid) (time() - chainlink_process_start_time_seconds{{{S}}})", "age"),
    ], w=24, instant=True)
    b.row("Services")
    b.panel("timeseries", "Process count by service", [
        (f"max by (service) (chainlink_s6_service_processes{{{S}}})", "{{service}}")
    ], w=8)
    b.panel("timeseries", "Open fds by service", [
        (f"max by (service) (chainlink_s6_service_open_fds{{{S}}})", "{{service}}")
    ], w=8)
    b.panel("timeseries", "Threads by service", [
        (f"max by (service) (chainlink_s6_service_threads{{{S}}})", "{{service}}")
    ], w=8)
    b.panel("timeseries", "Service restart timeline", [
        (f"max by (service) (increase(chainlink_s6_service_restart_count{{{S}}}[$__rate_interval]))", "{{service}}")
    ], description="restarts counted by the finish scripts (restart-count)")
    b.panel("table", "Last restart", [
        (f"max by (service) (chainlink_s6_service_last_restart_ts{{{S}}}) * 1000", "last restart"),
        (f"max by (service) (chainlink_s6_service_last_exit_code{{{S}}})", "last exit code"),
        (f"max by (service) (chainlink_s6_service_last_exit_signal{{{S}}})", "last signal"),
    ], instant=True)
    b.panel("timeseries", "Disk I/O by service", [
        (f"sum by (service) (rate(chainlink_process_read_bytes_total{{{S}}}[$__rate_interval]))", "{{service}} read"),
        (f"sum by (service) (rate(chainlink_process_write_bytes_total{{{S}}}[$__rate_interval]))", "{{service}} write"),
    ], unit="Bps")
    b.panel("timeseries", "CPU seconds by service", [
        (f"sum by (service) (rate(chainlink_process_cpu_seconds_total{{{S}}}[$__rate_interval]))", "{{service}}")
    ], unit="short")
    b.row("Container and exporter")
    b.panel("timeseries", "CPU throttling", [
        (f"sum(rate(sealfeed_exporter_cgroup_cpu_throttled_seconds_total{{{I}}}[$__rate_interval]))", "throttled s/s"),
        (f"sum(rate(sealfeed_exporter_cgroup_cpu_throttled_periods_total{{{I}}}[$__rate_interval]))", "throttled periods/s"),
        (f"sum(rate(sealfeed_exporter_cgroup_cpu_user_seconds_total{{{I}}}[$__rate_interval]))", "user"),
        (f"sum(rate(sealfeed_exporter_cgroup_cpu_system_seconds_total{{{I}}}[$__rate_interval]))", "system"),
    ], w=8)
    b.panel("timeseries", "Memory: cgroup vs host", [
        (f"max(sealfeed_exporter_cgroup_memory_current_bytes{{{I}}})", "current"),
        (f"max(sealfeed_exporter_cgroup_memory_max_bytes{{{I}}})", "memory.max"),
        (f"max(sealfeed_exporter_memory_total_bytes{{{I}}})", "MemTotal"),
    ], w=8, unit="bytes")
    b.panel("timeseries", "Exporter health", [
        (f"max(sealfeed_exporter_sample_duration_seconds{{{I}}})", "sample wall s"),
        (f"max(sealfeed_exporter_sample_cpu_seconds{{{I}}})", "sample cpu s"),
        (f"max(sealfeed_exporter_consecutive_failures{{{I}}})", "consecutive failures"),
        (f'sum(rate(sealfeed_exporter_samples_total{{{I}, outcome="error"}}[$__rate_interval]))', "failed samples/s"),
        (f"max(sealfeed_exporter_services{{{I}}})", "services"),
        (f'sum by (outcome) (rate(sealfeed_push_requests_total{{job="process-metrics", {I}}}[$__rate_interval]))', "push {{outcome}}"),
        (f'max(sealfeed_push_duration_seconds{{job="process-metrics", {I}}})', "push s"),
        (f'time() - max(sealfeed_push_last_success_timestamp_seconds{{job="process-metrics", {I}}})', "since last push"),
    ], w=8)
    return b


def nodes() -> Board:
    b = Board("sealfeed-nodes", "sealfeed / Oracle Nodes", "Chainlink node health (design §7.4 dashboard 4)")
    N = f"{I}, {NODES}"
    b.row("Node process status")
    b.panel("status-history", "Node up", [(f"max by (service) (chainlink_s6_service_up{{{N}}})", "{{service}}")],
            w=12, thresholds=[(None, "red"), (1, "green")])
    b.panel("status-history", "Node ready", [(f"max by (service) (chainlink_s6_service_ready{{{N}}})", "{{service}}")],
            w=12, thresholds=[(None, "red"), (1, "green")])
    b.panel("table", "Nodes", [
        (f"max by (service) (chainlink_s6_service_uptime_seconds{{{N}}})", "uptime"),
        (f"max by (service) (chainlink_s6_service_restart_count{{{N}}})", "restarts"),
        (f"max by (service) (chainlink_s6_service_last_exit_code{{{N}}})", "last exit"),
        (f"max by (service) (chainlink_s6_service_processes{{{N}}})", "processes"),
    ], w=24, h=7, instant=True)
    b.row("Resources per node")
    b.panel("timeseries", "CPU per node (% of one CPU)", [
        (f"max by (service) (chainlink_s6_service_cpu_percent{{{N}}})", "{{service}}")
    ], unit="percent", thresholds=[(None, "green"), (90, "red")])
    b.panel("timeseries", "Memory per node vs limit", [
        (f"max by (service) (chainlink_s6_service_memory_rss_kb{{{N}}}) * 1024", "{{service}}"),
        (f"0.8 * max(sealfeed_exporter_memory_limit_bytes{{{I}}})", "80% of limit"),
    ], unit="bytes")
    b.panel("timeseries", "Open fds per node", [(f"max by (service) (chainlink_s6_service_open_fds{{{N}}})", "{{service}}")], w=8)
    b.panel("timeseries", "Threads per node", [(f"max by (service) (chainlink_s6_service_threads{{{N}}})", "{{service}}")], w=8)
    b.panel("timeseries", "Restarts per node", [
        (f"max by (service) (increase(chainlink_s6_service_restart_count{{{N}}}[$__rate_interval]))", "{{service}}")
    ], w=8)
    b.row("Database")
    b.panel("timeseries", "PostgreSQL connections per node database", [
        (f"sum by (database) (sealfeed_exporter_postgres_backends{{{I}}})", "{{database}}")
    ], description="client backends counted from PostgreSQL process titles")
    b.panel("stat", "PostgreSQL", [
        (f'max(chainlink_s6_service_up{{{I}, service="postgres"}})', "up"),
        (f'max(chainlink_s6_service_ready{{{I}, service="postgres"}})', "ready"),
        (f'sum(chainlink_s6_service_memory_rss_kb{{{I}, service="postgres"}}) * 1024', "rss"),
    ], thresholds=[(None, "red"), (1, "green")])
    b.text("Job execution", "Chainlink job execution and OCR metrics are not pushed out of the TEE "
           "(design §7.4 \"if available from Chainlink\"); see docs/monitoring.md.")
    return b


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    boards = (
        (overview(), "overview"),
        (aggregator(), "price-aggregator"),
        (processes(), "process-metrics"),
        (nodes(), "oracle-nodes"),
    )
    return {f"{name}.json": json.dumps(b.json(), indent=2) + "\n" for b, name in boards}


def main() -> None:
    for name, text in render_all().items():
        (HERE / name).write_text(text)


if __name__ == "__main__":
    main()
