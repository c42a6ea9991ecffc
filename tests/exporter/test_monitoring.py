"""monitoring/: promtool checks and unit tests of the alerts; every alert and dashboard query
parses and names only metrics (and labels) the code really exports -- collected from the
aggregator's registry as the app wires it (with the stream manager and the pusher), and from
the exporter's collector over the frozen procfs tree -- and docs/monitoring.md lists exactly
those."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from sealfeed.config.model import MetricsPushConfig, MonitoringLabels, StreamConfig
from sealfeed.exporter.collector import ProcessCollector, exposed_names
from sealfeed.exporter.sampler import Sampler
from tests.aggregator.helpers import agg_config, source_config
from tests.exporter.procfs_tree import NOW, build_tree
from tests.fixtures.metrics_backends import VictoriaMetrics

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
DASHBOARDS = sorted((MON / "dashboards").glob("*.json"))

# design §7.5, critical and warning
DESIGN_ALERTS = {
    "S6ServiceRestarting",
    "ProcessExporterNotReporting",
    "PriceAggregatorNotReporting",
    "NodeProcessCpuHigh",
    "NodeProcessMemoryHigh",
    "CacheHitRatioLow",
    "DataSourceUnavailable",
    "WebSocketReconnecting",
    "DatabaseConnectionErrors",
}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("SKIPPED LOUDLY: promtool not installed (apt-get install prometheus)")
    return path


#: labels every pushed series carries (sealfeed.push: job + grouping key, ttl per sample)
PUSH_LABELS = {"job", "instance", "environment", "ttl"}
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def _wire(families: list[Metric], labels: dict[int, set[str]]) -> dict[str, set[str]]:
    """Wire sample name -> label names, for collected families (samples or not)."""
    out: dict[str, set[str]] = {}
    for i, fam in enumerate(families):
        names = {k for smp in fam.samples for k in smp.labels} | labels.get(i, set())
        names |= set(getattr(fam, "_labelnames", ()))  # *MetricFamily(labels=...) of collectors
        for suffix in _SUFFIXES.get(fam.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            out.setdefault(fam.name + suffix, set()).update(names - {"le"} | extra)
    return out


def _registry_families(registry: CollectorRegistry) -> tuple[list[Metric], dict[int, set[str]]]:
    """Families of every collector in the registry; label names of metric objects that have
    no child yet come from their declaration (prometheus_client's ``_labelnames``, also set
    on the ``GaugeMetricFamily(labels=...)`` a custom collector yields)."""
    families: list[Metric] = []
    labels: dict[int, set[str]] = {}
    for collector in list(registry._collector_to_names):  # no public iterator
        declared = set(getattr(collector, "_labelnames", ()))
        for fam in collector.collect():
            labels[len(families)] = declared
            families.append(fam)
    return families, labels


def _aggregator_exports() -> dict[str, set[str]]:
    """What the aggregator pushes: its registry as create_app builds it, plus the stream
    manager registered by the app's own load_streams (not started), plus the pusher's metrics
    (MetricsPusher registers them into the pushed registry at construction)."""
    from sealfeed.aggregator.app import create_app, load_streams
    from sealfeed.push import MetricsPusher

    stream = StreamConfig(enabled=True)
    cfg = agg_config(
        {
            n: source_config(n, "http://127.0.0.1:9", stream=stream)
            for n in ("binance", "okx", "coingecko")
        }
    )
    app = create_app(cfg, MonitoringLabels(), streams=False)
    manager = load_streams(app.aggregator, None)
    assert manager is not None, "sealfeed.aggregator.streams is part of the package"
    registry = app.state.registry
    push_cfg = MetricsPushConfig(enabled=True, url="http://127.0.0.1:9")
    MetricsPusher(registry, push_cfg, MonitoringLabels())
    return _wire(*_registry_families(registry))


def _exporter_exports(tmp: Path) -> dict[str, set[str]]:
    """The exporter's collector output over the frozen procfs/scandir/cgroup tree, plus the
    pusher's metrics."""
    from sealfeed.push import MetricsPusher

    tree = build_tree(tmp)
    sampler = Sampler(
        proc_root=tree.proc,
        scandir=tree.scandir,
        source_dir=tree.source,
        cgroup_root=tree.cgroup,
        clock=lambda: NOW,
    )
    registry = CollectorRegistry()
    collector = ProcessCollector(sampler, max_age=1e9)
    registry.register(collector)
    collector.sample()
    push_cfg = MetricsPushConfig(enabled=True, url="http://127.0.0.1:9")
    MetricsPusher(registry, push_cfg, MonitoringLabels())
    return _wire(*_registry_families(registry))


def _link_exports() -> dict[str, set[str]]:
    """What ``sealfeed link serve`` pushes: its metrics for a planned peer, the pusher's, and
    the grouping labels its push configuration adds (``vm``)."""
    from sealfeed.link.metrics import LinkMetrics
    from sealfeed.link.service import push_config
    from sealfeed.push import MetricsPusher

    registry = CollectorRegistry()
    LinkMetrics(registry, ["vm-b"])
    cfg = push_config(MetricsPushConfig(enabled=True, url="http://127.0.0.1:9"), "vm-a")
    MetricsPusher(registry, cfg, MonitoringLabels())
    return {
        k: v | set(cfg.grouping_labels) for k, v in _wire(*_registry_families(registry)).items()
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every metric name sealfeed really exports -> its label names (push labels added)."""
    out: dict[str, set[str]] = {}
    parts = (_aggregator_exports(), _exporter_exports(tmp_path_factory.mktemp("procfs")))
    for part in (*parts, _link_exports()):
        for name, labels in part.items():
            out.setdefault(name, set()).update(labels | PUSH_LABELS)
    return out


def _documented() -> set[str]:
    """Metric names in the tables of docs/monitoring.md (first column, backticked)."""
    text = (ROOT / "docs" / "monitoring.md").read_text()
    return set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \|", text, flags=re.M))


def _doc_wire(exported: dict[str, set[str]]) -> set[str]:
    """Exported names as the docs list them: histograms once, by their base name."""
    out = set()
    for name in exported:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        out.add(base if base + "_bucket" in exported else name)
    return out


def _alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MON / "alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_check_and_unit_tests() -> None:
    promtool = _promtool()
    check = subprocess.run(
        [promtool, "check", "rules", str(MON / "alerts.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted(str(p) for p in (MON / "tests").glob("*.yml"))
    run = subprocess.run([promtool, "test", "rules", *tests], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_fires_and_stays_silent_in_unit_tests() -> None:
    names = {r["alert"] for r in _alerts()}
    assert names >= DESIGN_ALERTS
    severities = {r["alert"]: r["labels"]["severity"] for r in _alerts()}
    assert {severities[a] for a in DESIGN_ALERTS} == {"critical", "warning"}
    fired: set[str] = set()
    silent: set[str] = set()
    for path in (MON / "tests").glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for t in case.get("alert_rule_test", []):
                (fired if t.get("exp_alerts") else silent).add(t["alertname"])
    assert names <= fired, f"alerts never tested firing: {names - fired}"
    # an empty expectation (and the non-triggering series next to every firing case, since
    # exp_alerts must match exactly) proves each alert stays silent
    assert names <= silent, f"alerts never tested silent: {names - silent}"


def test_exported_names_are_collected(exported: dict[str, set[str]]) -> None:
    # the guard is only as good as what it collects: spot-check every source of names
    for name in (
        "sealfeed_aggregator_requests_total",
        "sealfeed_aggregator_upstream_latency_seconds_bucket",
        "sealfeed_aggregator_source_up",
        "sealfeed_aggregator_stream_reconnects_total",
        "sealfeed_aggregator_stream_connected",
        "sealfeed_push_timestamp_seconds",
        "chainlink_s6_service_restart_count",
        "sealfeed_exporter_postgres_backends",
    ):
        assert name in exported, name
    assert {"source", "result"} <= exported["sealfeed_aggregator_cache_lookups_total"]
    assert {"database", "user"} <= exported["sealfeed_exporter_postgres_backends"]
    # the frozen tree makes the collector emit every family it declares
    assert exposed_names() <= set(exported)


def test_docs_list_exactly_the_exported_metrics(exported: dict[str, set[str]]) -> None:
    documented = _documented()
    wire = _doc_wire(exported)
    assert wire - documented == set(), (
        f"exported but not in docs/monitoring.md: {wire - documented}"
    )
    assert documented - wire == set(), f"documented but not exported: {documented - wire}"


# ---- dashboards ------------------------------------------------------------------------------
_GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$instance": "tee-1",
    "$environment": "production",
    "$service": "postgres",
}
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan", "atan2",
}  # fmt: skip


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def _queries() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for p in _panels(board["panels"]):
            for t in p.get("targets", []):
                out.append((path.name, p["title"], t["expr"]))
        for v in board["templating"]["list"]:
            q = v.get("query")
            if isinstance(q, dict):
                m = re.match(r"label_values\((.*),\s*\w+\)$", q["query"])
                assert m, q
                out.append((path.name, f"variable {v['name']}", m.group(1)))
    return out


def _expand(expr: str) -> str:
    for k in sorted(_GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, _GRAFANA_VARS[k])
    assert "$" not in expr, expr
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (strings, label matchers, grouping
    lists and durations removed; identifiers followed by '(' are functions)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"(?<![\w.])\d[\w.]*", " ", s)  # numbers and durations (offset 5m)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        word = m.group(0)
        rest = s[m.end() :].lstrip()
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def test_metric_name_extraction() -> None:
    assert metric_names(
        'sum by (le) (rate(a_bucket{x="y(z)"}[5m])) / on (i) group_left () b offset 5m > bool 0'
    ) == {"a_bucket", "b"}


def test_dashboards_cover_design() -> None:
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARDS}
    assert titles == {
        "sealfeed / Overview",
        "sealfeed / Price Aggregator",
        "sealfeed / Process Metrics",
        "sealfeed / Oracle Nodes",
    }
    for p in DASHBOARDS:
        uids = json.loads(p.read_text())["uid"]
        assert uids.startswith("sealfeed-")


_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_LABEL_REPLACE = re.compile(r'label_replace\(.*?,\s*"([a-zA-Z_][a-zA-Z0-9_]*)"', re.S)


def contract_problems(expr: str, exported: dict[str, set[str]]) -> list[str]:
    """Metric names the code does not export, label matchers a metric does not carry, and
    grouping labels no metric of the expression carries (label_replace targets count)."""
    names = metric_names(expr)
    problems = [f"metric {n} is not exported" for n in sorted(names - set(exported))]
    for m in _SELECTOR.finditer(expr):
        name, body = m.group(1), m.group(2)
        if name in exported:
            for label in _MATCHER.findall(body):
                if label not in exported[name] and label != "__name__":
                    problems.append(f"{name} has no label {label!r}")
    known = set().union(*(exported.get(n, set()) for n in names)) if names else set()
    known |= set(_LABEL_REPLACE.findall(expr))
    for m in _GROUPING.finditer(expr):
        for label in filter(None, (x.strip() for x in m.group(1).split(","))):
            if label not in known:
                problems.append(f"grouping label {label!r} is on none of {sorted(names)}")
    return problems


def test_contract_check_catches_drift() -> None:
    exported = {"a_total": {"source", "job"}, "b_bucket": {"le", "source"}}
    assert contract_problems('sum by (source) (rate(a_total{job="x"}[5m]))', exported) == []
    assert contract_problems("histogram_quantile(0.9, sum by (le) (b_bucket))", exported) == []
    assert contract_problems("a_hits_total", exported) == ["metric a_hits_total is not exported"]
    assert contract_problems('a_total{endpoint="/"}', exported) == [
        "a_total has no label 'endpoint'"
    ]
    assert contract_problems("sum by (type) (a_total)", exported) == [
        "grouping label 'type' is on none of ['a_total']"
    ]
    replaced = 'label_replace(a_total, "db", "$1", "source", "(.*)") unless on (db) b_bucket'
    assert contract_problems(replaced, exported) == []


def test_alerts_use_only_exported_metrics(exported: dict[str, set[str]]) -> None:
    bad = {r["alert"]: p for r in _alerts() if (p := contract_problems(r["expr"], exported))}
    assert not bad, bad


def test_dashboard_queries_use_only_exported_metrics(exported: dict[str, set[str]]) -> None:
    bad = []
    for board, panel, expr in _queries():
        expanded = _expand(expr)
        assert metric_names(expanded), f"{board} / {panel}: no metric in {expr!r}"
        bad += [(board, panel, p) for p in contract_problems(expanded, exported)]
    assert not bad, bad


def test_dashboard_queries_parse_promtool(tmp_path: Path) -> None:
    promtool = _promtool()
    queries = _queries()
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dash:q{i}", "expr": _expand(q)}
                    for i, (_, _, q) in enumerate(queries)
                ],
            }
        ]
    }
    f = tmp_path / "dash_rules.yml"
    f.write_text(yaml.safe_dump(rules))
    out = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_and_alert_queries_parse_victoria(metrics_victoria: VictoriaMetrics) -> None:
    exprs = [_expand(q) for _, _, q in _queries()] + [r["expr"] for r in _alerts()]
    for expr in exprs:
        status, body = metrics_victoria.query_status(expr)
        assert status == 200, (expr, body)


def test_dashboards_are_generated_and_well_formed() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", MON / "dashboards" / "generate.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    rendered = gen.render_all()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for name, text in rendered.items():
        assert (MON / "dashboards" / name).read_text() == text, f"{name}: re-run generate.py"
        board = json.loads(text)
        panels = list(_panels(board["panels"]))
        assert len({p["id"] for p in panels}) == len(panels)
        for p in panels:
            pos = p["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, p["title"])
            if p["type"] not in ("row", "text", "alertlist"):
                assert p["targets"], (name, p["title"])
