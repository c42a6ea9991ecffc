"""sealfeed.push against a real Pushgateway and a real VictoriaMetrics."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from prometheus_client import CollectorRegistry, Gauge

from sealfeed.config.model import BasicAuth, MetricsPushConfig, MonitoringLabels
from sealfeed.errors import ExternalError, InputError
from sealfeed.push import MetricsPusher, auth_headers, build_target, render
from sealfeed.secret import Secret
from tests.fixtures.metrics_backends import Pushgateway, VictoriaMetrics

LABELS = MonitoringLabels(instance="tee-1", environment="test")


def _registry(value: float = 1.0) -> tuple[CollectorRegistry, Gauge]:
    reg = CollectorRegistry()
    g = Gauge("sealfeed_test_value", "test", ["service"], registry=reg)
    g.labels("postgres").set(value)
    return reg, g


def test_pushgateway_path_and_ttl() -> None:
    cfg = MetricsPushConfig(
        enabled=True,
        url="https://gw.example:9091/base/",
        job_name="process-metrics",
        grouping_labels={"region": "eu/west", "empty": "", "service": "x"},
    )
    t = build_target(cfg, LABELS, drop_grouping_labels={"service"})
    b64 = base64.urlsafe_b64encode(b"eu/west").decode()
    assert t.method == "PUT"
    assert t.url == (
        "https://gw.example:9091/base/metrics/job/process-metrics/instance/tee-1"
        f"/environment/test/region@base64/{b64}/empty@base64/=?ttl=3600"
    )
    assert t.delete_url == t.url.split("?")[0]
    assert t.sample_labels == {"ttl": "3600"}
    assert "service" not in t.grouping


def test_victoria_url_extra_labels() -> None:
    cfg = MetricsPushConfig(
        enabled=True, url="http://vm:8428", kind="victoriametrics", job_name="price-aggregator"
    )
    t = build_target(cfg, LABELS, instance="other")
    assert t.method == "POST" and t.delete_url is None
    assert t.url == (
        "http://vm:8428/api/v1/import/prometheus?extra_label=job%3Dprice-aggregator"
        "&extra_label=instance%3Dother&extra_label=environment%3Dtest&ttl=3600"
    )
    # a URL that names the import path is VictoriaMetrics whatever kind says
    t2 = build_target(
        MetricsPushConfig(enabled=True, url="http://vm:8428/api/v1/import/prometheus"), LABELS
    )
    assert t2.kind == "victoriametrics"


@pytest.mark.parametrize(
    ("cfg", "where"),
    [
        (MetricsPushConfig(enabled=True, url=None), "metrics_push.url"),
        (MetricsPushConfig(enabled=True, url="ftp://x"), "metrics_push.url"),
        (MetricsPushConfig(enabled=True, url="http://u:p@x"), "metrics_push.url"),
        (
            MetricsPushConfig(enabled=True, url="http://x", grouping_labels={"bad-name": "v"}),
            "metrics_push.grouping_labels.bad-name",
        ),
        (
            MetricsPushConfig(enabled=True, url="http://x", ttl_seconds=0),
            "metrics_push.ttl_seconds",
        ),
    ],
)
def test_bad_config_is_precise(cfg: MetricsPushConfig, where: str) -> None:
    with pytest.raises(InputError) as exc:
        build_target(cfg, LABELS)
    assert exc.value.location == where
    assert "p@" not in str(exc.value)


def test_auth_headers_and_no_leak() -> None:
    cfg = MetricsPushConfig(
        enabled=True,
        url="http://x",
        basic_auth=BasicAuth("vmagent", Secret("s3cr3t-pass")),
        headers={"X-Org": "1"},
    )
    h = auth_headers(cfg)
    assert h["Authorization"] == "Basic " + base64.b64encode(b"vmagent:s3cr3t-pass").decode()
    assert h["X-Org"] == "1"
    bearer = MetricsPushConfig(enabled=True, url="http://x", bearer_token=Secret("tok-123456"))
    assert auth_headers(bearer)["Authorization"] == "Bearer tok-123456"
    assert "s3cr3t" not in repr(cfg)


def test_render_adds_labels() -> None:
    reg, _ = _registry(2)
    text = render(reg, {"ttl": "60"}).decode()
    assert 'sealfeed_test_value{service="postgres",ttl="60"} 2.0' in text


def test_backoff_is_jittered_and_bounded() -> None:
    reg, _ = _registry()
    cfg = MetricsPushConfig(enabled=True, url="http://127.0.0.1:9", interval_ms=1000)
    p = MetricsPusher(reg, cfg, LABELS, rng=lambda: 1.0)
    assert p.next_delay() == 1.0
    p._failures = 3
    assert p.next_delay() == 4.0
    p._failures = 50
    assert p.next_delay() == 300.0
    p2 = MetricsPusher(CollectorRegistry(), cfg, LABELS, rng=lambda: 0.0)
    p2._failures = 3
    assert p2.next_delay() == 2.0


def test_push_roundtrip_pushgateway(metrics_pushgateway: Pushgateway) -> None:
    reg, g = _registry(7)
    job = f"job-{uuid.uuid4().hex[:8]}"
    cfg = MetricsPushConfig(
        enabled=True,
        url=metrics_pushgateway.url,
        job_name=job,
        grouping_labels={"service": "ignored", "zone": "a/b"},
        ttl_seconds=120,
    )

    async def go() -> None:
        p = MetricsPusher(reg, cfg, LABELS, drop_grouping_labels={"service"})
        try:
            await p.push_once()
            got = [
                s for s in metrics_pushgateway.series("sealfeed_test_value") if s[0]["job"] == job
            ]
            assert got == [
                (
                    {
                        "job": job,
                        "instance": "tee-1",
                        "environment": "test",
                        "zone": "a/b",
                        "service": "postgres",
                        "ttl": "120",
                    },
                    7.0,
                )
            ]
            ok = [
                s
                for s in metrics_pushgateway.series("sealfeed_push_requests_total")
                if s[0]["job"] == job and s[0]["outcome"] == "ok"
            ]
            assert ok and ok[0][1] == 0.0  # counted after the payload was rendered
            # PUT replaces the group: a removed series disappears
            g.remove("postgres")
            g.labels("chainlink-node-1").set(3)
            await p.push_once()
            got = [
                s for s in metrics_pushgateway.series("sealfeed_test_value") if s[0]["job"] == job
            ]
            assert [s[0]["service"] for s in got] == ["chainlink-node-1"]
            await p.delete()
            assert not [
                s for s in metrics_pushgateway.series("sealfeed_test_value") if s[0]["job"] == job
            ]
        finally:
            await p.aclose()

    asyncio.run(go())


def test_push_roundtrip_victoria(metrics_victoria: VictoriaMetrics) -> None:
    reg, _ = _registry(42)
    job = f"job-{uuid.uuid4().hex[:8]}"
    cfg = MetricsPushConfig(
        enabled=True, url=metrics_victoria.url, kind="victoriametrics", job_name=job
    )

    async def go() -> None:
        p = MetricsPusher(reg, cfg, LABELS)
        try:
            await p.push_once()
        finally:
            await p.aclose()

    asyncio.run(go())
    got = metrics_victoria.series("sealfeed_test_value", job=job)
    assert got == [
        (
            {
                "job": job,
                "instance": "tee-1",
                "environment": "test",
                "service": "postgres",
                "ttl": "3600",
            },
            42.0,
        )
    ]


def test_failure_counted_and_run_survives(free_port: object) -> None:
    reg, _ = _registry()
    port = free_port()  # type: ignore[operator]
    cfg = MetricsPushConfig(
        enabled=True, url=f"http://127.0.0.1:{port}", interval_ms=20, timeout_ms=500
    )

    async def go() -> None:
        p = MetricsPusher(reg, cfg, LABELS)
        with pytest.raises(ExternalError) as exc:
            await p.push_once()
        assert exc.value.exit_code == 3
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 2)
        await p.aclose()
        assert p.consecutive_failures >= 2

    asyncio.run(go())
    errors = reg.get_sample_value(
        "sealfeed_push_requests_total", {"target": "pushgateway", "outcome": "error"}
    )
    assert errors is not None and errors >= 2


def test_http_error_status_is_external(metrics_pushgateway: Pushgateway) -> None:
    """A push the gateway rejects (type clash with another group: HTTP 400) is an ExternalError."""
    from prometheus_client import Summary

    name = f"sealfeed_test_clash_{uuid.uuid4().hex[:6]}"
    reg_a = CollectorRegistry()
    Gauge(name, "t", registry=reg_a).set(1)
    reg_b = CollectorRegistry()
    Summary(name, "t", registry=reg_b).observe(1)

    async def go() -> None:
        a = MetricsPusher(
            reg_a,
            MetricsPushConfig(enabled=True, url=metrics_pushgateway.url, job_name="clash-a"),
            LABELS,
        )
        b = MetricsPusher(
            reg_b,
            MetricsPushConfig(enabled=True, url=metrics_pushgateway.url, job_name="clash-b"),
            LABELS,
        )
        try:
            await a.push_once()
            with pytest.raises(ExternalError, match="HTTP 400"):
                await b.push_once()
            await a.delete()
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(go())


def test_errors_never_carry_credentials(free_port: object) -> None:
    reg, _ = _registry()
    port = free_port()  # type: ignore[operator]
    cfg = MetricsPushConfig(
        enabled=True,
        url=f"http://127.0.0.1:{port}",
        basic_auth=BasicAuth("vmagent", Secret("hunter2-secret-pw")),
        timeout_ms=500,
    )

    async def go() -> str:
        p = MetricsPusher(reg, cfg, LABELS)
        try:
            await p.push_once()
        except ExternalError as err:
            return str(err)
        finally:
            await p.aclose()
        return ""

    msg = asyncio.run(go())
    assert msg and "hunter2" not in msg and "dm1hZ2VudDpodW50ZXIy" not in msg
