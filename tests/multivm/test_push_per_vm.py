"""VMs of one DON push with one configuration: the VM name (a grouping label added by each
VM's view) keeps their groups apart on a real Pushgateway, and their series apart on
VictoriaMetrics (``extra_label``)."""

from __future__ import annotations

import asyncio
import dataclasses

from prometheus_client import CollectorRegistry, Gauge

from sealfeed.config.placement import local_view
from sealfeed.push import MetricsPusher, build_target
from tests.fixtures.metrics_backends import Pushgateway
from tests.multivm.solution import multi_vm_solution, parse


def test_vms_do_not_overwrite_each_others_series(metrics_pushgateway: Pushgateway) -> None:
    sol = multi_vm_solution()
    sol["sealfeed"]["exporter"] = {"metricsPush": {"enabled": True, "url": metrics_pushgateway.url}}
    cfg = parse(sol)

    async def push(vm: str, value: float) -> None:
        view = local_view(cfg, vm)
        reg = CollectorRegistry()
        Gauge("sealfeed_test_vm_marker", "which VM pushed", registry=reg).set(value)
        pusher = MetricsPusher(reg, view.exporter.push, view.monitoring)
        try:
            await pusher.push_once()
        finally:
            await pusher.aclose()

    for i, vm in enumerate(("vm-a", "vm-b", "vm-c"), 1):
        asyncio.run(push(vm, i))
    got = {labels["vm"]: v for labels, v in metrics_pushgateway.series("sealfeed_test_vm_marker")}
    assert got == {"vm-a": 1, "vm-b": 2, "vm-c": 3}
    # the whole-DON view (no VM name) has one grouping key for all: the label is what helps
    whole = build_target(cfg.exporter.push, cfg.monitoring)
    one = build_target(local_view(cfg, "vm-b").exporter.push, cfg.monitoring)
    assert "vm" not in whole.grouping and one.grouping["vm"] == "vm-b"
    assert "/vm/vm-b" in one.url


def test_victoriametrics_gets_the_vm_as_extra_label() -> None:
    sol = multi_vm_solution()
    url = "http://127.0.0.1:8428/api/v1/import/prometheus"
    sol["priceAggregatorConfig"]["metricsPush"] = {"enabled": True, "url": url}
    view = local_view(parse(sol), "vm-c")
    push = view.aggregator.metrics_push
    assert push.kind == "victoriametrics"
    target = build_target(dataclasses.replace(push), view.monitoring)
    assert "extra_label=vm%3Dvm-c" in target.url or "extra_label=vm=vm-c" in target.url
