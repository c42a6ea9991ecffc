"""Every documented aggregator key changes behaviour (issue #16, "config keys that do nothing").

The keys are read from the schema itself (``priceAggregatorConfig`` and
``sealfeed.aggregator``), so a new key without a probe here fails
:func:`test_every_documented_key_is_probed_or_listed_as_ignored`. Each probe builds two
configurations through the real schema (``parse_solution``) that differ only in that key,
runs the aggregator (fakes for the exchanges, a recording receiver for metrics push), and
asserts that what it observes differs. Keys the documentation calls reference compatibility
(accepted, ignored) are listed in :data:`IGNORED` and excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sealfeed.aggregator.app import AggregatorApp, create_app
from sealfeed.aggregator.service import Aggregator
from sealfeed.aggregator.streams import StreamManager
from sealfeed.config.example import example_solution
from sealfeed.config.model import ApplianceConfig
from sealfeed.config.schema import PRICE_AGGREGATOR, SEALFEED, parse_solution
from sealfeed.config.spec import Node, iter_fields
from sealfeed.secret import Secret
from tests.aggregator.helpers import AsgiClient, lifespan
from tests.aggregator.test_proxy import RecordingProxy
from tests.fakes.exchanges import FakeExchange

#: accepted for reference compatibility and documented as such; nothing reads them
IGNORED = {
    "logger.isPrettyEnabled": "pretty console logs of the reference (NestJS pino)",
    "metricsPush.batchSize": "the reference's remote-write batching; one push carries all",
    "sources.*.stream.autoReconnect": "sealfeed always reconnects (ADR 0030)",
    "sources.*.stream.maxReconnectAttempts": "sealfeed never gives up (ADR 0030)",
    "refetch.failedPairsRetry.enabled": "failed tracked pairs back off 2 s..60 s instead",
    "refetch.failedPairsRetry.maxAttempts": "as above",
    "refetch.failedPairsRetry.retryDelay": "as above",
    "refetch.failedPairsRetry.checkInterval": "as above",
    "marketData.coingeckoGlobal.enabled": "no global market data endpoint",
    "marketData.coingeckoGlobal.refreshIntervalMs": "as above",
    "marketData.coingeckoGlobal.useProxy": "as above",
}


def _leaves(node: Node, prefix: str) -> dict[str, list[Node]]:
    """Documented leaf keys -> the node and its ancestors' nodes (for their docs)."""
    out: dict[str, list[Node]] = {}
    chain: dict[str, Node] = {}
    for path, child in iter_fields(node):
        key = prefix + path
        if "sources.<" in key:
            head, _, rest = key.partition("sources.<")
            key = head + "sources.*" + rest[rest.index(">") + 1 :]
        chain[key] = child
        is_container = child.kind == "object" or (
            child.kind in ("map", "list") and child.item is not None and child.item.kind == "object"
        )
        if not is_container:
            parts = key.split(".")
            out[key] = [chain.get(".".join(parts[:i]), child) for i in range(len(parts), 0, -1)]
    return out


def documented() -> dict[str, list[Node]]:
    return {
        **_leaves(PRICE_AGGREGATOR, ""),
        **_leaves(SEALFEED.fields["aggregator"], "sealfeed.aggregator."),
    }


# ---------------------------------------------------------------------- building blocks
Patch = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Patch:
    """Set ``priceAggregatorConfig.<path>`` (or ``sealfeed.aggregator.<path>`` when the
    path starts with ``sealfeed.``); ``...`` as value deletes the key."""

    def patch(sol: dict[str, Any]) -> None:
        if path.startswith("sealfeed."):
            node = sol.setdefault("sealfeed", {}).setdefault("aggregator", {})
            parts = path.split(".")[2:]
        else:
            node = sol["priceAggregatorConfig"]
            parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is ...:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = copy.deepcopy(value)

    return patch


def _all(*patches: Patch) -> Patch:
    def patch(sol: dict[str, Any]) -> None:
        for p in patches:
            p(sol)

    return patch


def build(patch: Patch) -> ApplianceConfig:
    sol = example_solution()
    sol["priceAggregatorConfig"]["sources"] = {}
    patch(sol)
    return parse_solution(sol, lambda ref, path: Secret("from-file"))


def _run(coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
    async def guarded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(guarded())


@contextlib.asynccontextmanager
async def _fake(name: str, **kw: Any) -> AsyncIterator[FakeExchange]:
    fx = FakeExchange(name, **kw)
    await fx.start()
    try:
        yield fx
    finally:
        await fx.stop()


@contextlib.asynccontextmanager
async def _app(cfg: ApplianceConfig) -> AsyncIterator[tuple[AsgiClient, AggregatorApp]]:
    app = create_app(cfg.aggregator, cfg.monitoring, streams=False)
    async with lifespan(app) as client:
        yield client, app


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


BTC = {("BTC", "USDT"): "67012.34", ("ETH", "USDT"): "3000.5", ("SOL", "USDT"): "151.2"}
CB = {("BTC", "USD"): "67010.1", ("ETH", "USD"): "3000.1", ("SOL", "USD"): "150.1",
      ("XRP", "USD"): "0.5", ("ADA", "USD"): "0.4", ("DOT", "USD"): "7.1"}  # fmt: skip


def _src(name: str, url: str, **extra: Any) -> Patch:
    return _set(f"sources.{name}", {"enabled": True, "baseUrl": url, **extra})


# ---------------------------------------------------------------------- observers
def obs_serve_call(what: str) -> Callable[[Patch], Any]:
    """What ``sealfeed aggregator serve`` would run (port, host, server, log level): the
    handler's pure plan from the verified configuration, no flags, no environment."""

    def observe(patch: Patch) -> Any:
        from sealfeed.aggregator.cli import plan_serve

        ns = argparse.Namespace(log_level=None, host=None, port=None, server=None)
        plan = plan_serve(build(patch), ns, environ={})
        return {
            "port": plan.config.port,
            "host": plan.config.host,
            "server": plan.server,
            "log_level": plan.log_level,
        }[what]

    return observe


def obs_health_environment(patch: Patch) -> Any:
    async def go() -> Any:
        async with _app(build(patch)) as (client, _):
            return (await client.get("/health")).json()["environment"]

    return _run(go())


def obs_pairs_file(patch: Patch) -> Any:
    async def go() -> Any:
        async with _fake("binance", prices=dict(BTC)) as fx:
            cfg = build(_all(_src("binance", fx.base_url), patch))
            async with _app(cfg) as (client, _):
                return [r["pair"] for r in (await client.get("/quote/pairs/all")).json()["pairs"]]

    return _run(go())


def obs_quote(
    source: str,
    pair: tuple[str, str],
    *,
    prices: dict[tuple[str, str], str] | None = None,
    fake_kw: dict[str, Any] | None = None,
    source_kw: dict[str, Any] | None = None,
    after: Callable[[AsgiClient, AggregatorApp, FakeExchange], Coroutine[Any, Any, Any]]
    | None = None,
    base: Patch | None = None,
) -> Callable[[Patch], Any]:
    """GET one quote from a fake source; observe the status (or what ``after`` returns)."""

    def observe(patch: Patch) -> Any:
        async def go() -> Any:
            async with _fake(source, prices=dict(prices or {pair: "1.5"}), **(fake_kw or {})) as fx:
                src = _src(source, fx.base_url, **(source_kw or {}))
                cfg = build(_all(base or (lambda sol: None), src, patch))
                async with _app(cfg) as (client, app):
                    r = await client.get(f"/quote/{source}/{pair[0]}/{pair[1]}")
                    if after is None:
                        return r.status
                    return await after(client, app, fx)

        return _run(go())

    return observe


async def _calls_after_ttl(client: AsgiClient, app: AggregatorApp, fx: FakeExchange) -> int:
    await asyncio.sleep(1.1)
    await client.get("/quote/binance/BTC/USDT")
    return fx.total_calls


def _sleep_then_calls(seconds: float) -> Callable[..., Coroutine[Any, Any, int]]:
    async def after(client: AsgiClient, app: AggregatorApp, fx: FakeExchange) -> int:
        await asyncio.sleep(seconds)
        return fx.total_calls

    return after


def obs_concurrent(
    source: str, pairs: list[tuple[str, str]], what: str, **kw: Any
) -> Callable[[Patch], Any]:
    """Many misses at once on a fake; observe calls so far, max concurrency, or statuses."""

    def observe(patch: Patch) -> Any:
        async def go() -> Any:
            prices = {p: "2.5" for p in pairs}
            async with _fake(source, prices=prices, **kw.get("fake", {})) as fx:
                cfg = build(_all(_src(source, fx.base_url, **kw.get("source", {})), patch))
                async with _app(cfg) as (client, _):
                    tasks = [
                        asyncio.create_task(client.get(f"/quote/{source}/{b}/{q}"))
                        for b, q in pairs
                    ]
                    if what == "calls_soon":
                        await asyncio.sleep(0.3)
                        out: Any = fx.total_calls
                        await asyncio.gather(*tasks)
                        return out
                    await asyncio.gather(*tasks)
                    return fx.max_inflight if what == "max_inflight" else fx.total_calls

        return _run(go())

    return observe


def obs_due(now_offset_ms: int, ttl: int = 10_000) -> Callable[[Patch], Any]:
    """Is a freshly fetched tracked pair due for refresh ``now_offset_ms`` after its fetch?"""

    def observe(patch: Patch) -> Any:
        async def go() -> Any:
            async with _fake("binance", prices=dict(BTC)) as fx:
                cfg = build(_all(_src("binance", fx.base_url, ttl=ttl), patch))
                async with _app(cfg) as (client, app):
                    await client.get("/quote/binance/BTC/USDT")
                    agg: Aggregator = app.aggregator
                    st = agg.sources["binance"]
                    t = st.tracked[("BTC", "USDT")]
                    return agg.due_pairs(st, t.last_fetch_ms + now_offset_ms)

        return _run(go())

    return observe


def obs_cleanup(sleep_s: float | None, now_offset_ms: int | None = None) -> Callable[[Patch], Any]:
    """Tracked pairs left after the cleanup loop ran (``sleep_s``) or after a cleanup pass
    ``now_offset_ms`` after the last request."""

    def observe(patch: Patch) -> Any:
        async def go() -> Any:
            async with _fake("binance", prices=dict(BTC)) as fx:
                cfg = build(_all(_src("binance", fx.base_url), patch))
                async with _app(cfg) as (client, app):
                    await client.get("/quote/binance/BTC/USDT")
                    agg: Aggregator = app.aggregator
                    st = agg.sources["binance"]
                    t = st.tracked[("BTC", "USDT")]
                    if now_offset_ms is not None:
                        agg.cleanup(now=t.last_request_ms + now_offset_ms)
                    if sleep_s is not None:
                        t.last_request_ms -= 700_000  # idle past any inactiveTimeoutMs
                        await asyncio.sleep(sleep_s)
                    return len(st.tracked)

        return _run(go())

    return observe


def obs_ttl_for(source: str = "binance") -> Callable[[Patch], Any]:
    def observe(patch: Patch) -> Any:
        cfg = build(_all(_src(source, _closed_url()), patch))
        agg = Aggregator(cfg.aggregator)
        return agg.ttl_for(agg.sources[source], ("BTC", "USDT"))

    return observe


def obs_stream(attr: str) -> Callable[[Patch], Any]:
    class Sink:
        def on_stream_quote(self, *args: object) -> None: ...

    def observe(patch: Patch) -> Any:
        base = _set("sources.binance", {"enabled": True, "stream": {"heartbeatInterval": 30000}})
        cfg = build(_all(base, patch))
        manager = StreamManager({"binance": cfg.aggregator.sources["binance"]}, Sink())
        stream = manager._streams["binance"]
        return stream.url if attr == "url" else getattr(stream.settings, attr)

    return observe


def obs_proxy(patch: Patch) -> Any:
    async def go() -> Any:
        proxy = RecordingProxy()
        server = await proxy.start()
        try:
            async with _fake("binance", prices=dict(BTC)) as fx:
                p = _all(_src("binance", fx.base_url), _set("proxy", proxy.url), patch)
                cfg = build(p)
                async with _app(cfg) as (client, _):
                    await client.get("/quote/binance/BTC/USDT")
                return (len(proxy.lines), fx.total_calls)
        finally:
            server.close()

    return _run(go())


@dataclass
class Receiver:
    """Records every request a metrics pusher makes (method, path + query, headers)."""

    delay_s: float = 0.0
    url: str = ""

    def __post_init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=200)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def obs_push(what: str, window_s: float = 0.4, delay_s: float = 0.0) -> Callable[[Patch], Any]:
    """Run the app with metrics push to a recording receiver for ``window_s``."""

    def observe(patch: Patch) -> Any:
        async def go() -> Any:
            rec = Receiver(delay_s=delay_s)
            url = await rec.start()
            other = Receiver()
            other_url = await other.start()
            try:
                base = _set("metricsPush", {"enabled": True, "url": url})

                def urls(sol: dict[str, Any]) -> None:
                    mp = sol["priceAggregatorConfig"]["metricsPush"]
                    mp["url"] = {"@rec": url, "@other": other_url}.get(mp["url"], mp["url"])

                cfg = build(_all(base, patch, urls))
                app = create_app(cfg.aggregator, cfg.monitoring, streams=False)
                async with lifespan(app):
                    await asyncio.sleep(window_s)
                    errors = app.state.registry.get_sample_value(
                        "sealfeed_push_requests_total",
                        {"target": "pushgateway", "outcome": "error"},
                    )
                reqs = rec.requests
                if what == "count":
                    return (len(reqs), len(other.requests))
                if what == "paths":
                    return [(m, p) for m, p, _ in reqs]
                if what == "auth":
                    return [h.get("Authorization") for _, _, h in reqs]
                if what == "header":
                    return [h.get("X-Probe") for _, _, h in reqs]
                if what == "errors":
                    return errors
                raise AssertionError(what)
            finally:
                await rec.stop()
                await other.stop()

        return _run(go())

    return observe


@dataclass(frozen=True)
class Probe:
    a: Patch
    b: Patch
    observe: Callable[[Patch], Any]


def _p(key: str, a: Any, b: Any, observe: Callable[[Patch], Any], *, src: str = "binance") -> Probe:
    path = key.replace("sources.*", f"sources.{src}")
    if path.startswith("sources.") and path.count(".") >= 2:
        # a source key is set next to the fake's baseUrl, not instead of it
        name, rest = path.split(".", 2)[1:]

        def setter(value: Any) -> Patch:
            def patch(sol: dict[str, Any]) -> None:
                node = sol["priceAggregatorConfig"]["sources"].setdefault(name, {"enabled": True})
                *heads, last = rest.split(".")
                for h in heads:
                    node = node.setdefault(h, {})
                if value is ...:
                    node.pop(last, None)
                else:
                    node[last] = copy.deepcopy(value)

            return patch

        return Probe(setter(a), setter(b), observe)
    return Probe(_set(path, a), _set(path, b), observe)


def _refetch(**kw: Any) -> Patch:
    return _set("refetch", {"enabled": True, "staleTriggerBeforeExpiry": 900, "batchInterval": 100,
                            "minTimeBetweenRefreshes": 100, **kw})  # fmt: skip


PAIRS3 = [("BTC", "USDT"), ("ETH", "USDT"), ("SOL", "USDT")]
CB6 = list(CB)

PROBES: dict[str, Probe] = {
    "port": _p("port", 3001, 3002, obs_serve_call("port")),
    "sealfeed.aggregator.host": _p("sealfeed.aggregator.host", "127.0.0.1", "127.0.0.2",
                                   obs_serve_call("host")),
    "sealfeed.aggregator.server": _p("sealfeed.aggregator.server", "auto", "uvicorn",
                                     obs_serve_call("server")),
    "logger.level": _p("logger.level", "error", "debug", obs_serve_call("log_level")),
    "environment": _p("environment", "production", "test", obs_health_environment),
    "pairsFilePath": Probe(_set("pairsFilePath", ...), lambda sol: None, obs_pairs_file),
    "proxy": Probe(_set("proxy", ...), lambda sol: None, obs_proxy),
    "sources.*.enabled": _p("sources.*.enabled", True, False, obs_quote("binance", ("BTC", "USDT"))),
    "sources.*.apiKey": _p("sources.*.apiKey", "right-key", "wrong-key",
                           obs_quote("finnhub", ("BTC", "USDT"), fake_kw={"api_key": "right-key"},
                                     source_kw={"maxRetries": 0}), src="finnhub"),
    "sources.*.ttl": _p("sources.*.ttl", 1000, 60_000,
                        obs_quote("binance", ("BTC", "USDT"), after=_calls_after_ttl)),
    "sources.*.maxConcurrent": _p("sources.*.maxConcurrent", 2, 8,
                                  obs_concurrent("coinbase", CB6, "max_inflight",
                                                 fake={"latency_s": 0.2}), src="coinbase"),
    "sources.*.timeoutMs": _p("sources.*.timeoutMs", 1000, 5000,
                              obs_quote("coinbase", ("BTC", "USD"), fake_kw={"latency_s": 1.3},
                                        source_kw={"maxRetries": 0}), src="coinbase"),
    "sources.*.rps": _p("sources.*.rps", None, 1,
                        obs_concurrent("coinbase", CB6[:3], "calls_soon"), src="coinbase"),
    "sources.*.maxRetries": _p("sources.*.maxRetries", 0, 2,
                               obs_concurrent("okx", [("BTC", "USDT")], "calls",
                                              fake={"mode": "502"}), src="okx"),
    "sources.*.useProxy": Probe(
        lambda sol: None,
        lambda sol: sol["priceAggregatorConfig"]["sources"]["binance"].update(useProxy=True),
        obs_proxy,
    ),
    "sources.*.refetch": _p("sources.*.refetch", True, False,
                            obs_quote("binance", ("BTC", "USDT"), source_kw={"ttl": 1000},
                                      after=_sleep_then_calls(0.6), base=_refetch())),
    "sources.*.staleTriggerBeforeExpiry": _p("sources.*.staleTriggerBeforeExpiry", 5000, 1000,
                                             obs_due(6_000)),
    "sources.*.stream.reconnectInterval": _p("sources.*.stream.reconnectInterval", 1000, 9000,
                                             obs_stream("backoff_base_s")),
    "sources.*.stream.heartbeatInterval": _p("sources.*.stream.heartbeatInterval", 5000, 20_000,
                                             obs_stream("heartbeat_s")),
    "sources.*.stream.wsUrl": _p("sources.*.stream.wsUrl", ..., "wss://stream.binance.us:9443/ws",
                                 obs_stream("url")),
    "sources.*.stream.batchSize": _p("sources.*.stream.batchSize", 10, 50, obs_stream("batch")),
    "sources.*.stream.rateLimit": _p("sources.*.stream.rateLimit", 10, 1000,
                                     obs_stream("send_gap_s")),
    "sources.*.baseUrl": Probe(lambda sol: None,
                               lambda sol: sol["priceAggregatorConfig"]["sources"]["binance"]
                               .update(baseUrl=_closed_url()),
                               obs_quote("binance", ("BTC", "USDT"))),
    "sources.*.maxBatchSize": _p("sources.*.maxBatchSize", 1, 500,
                                 obs_concurrent("binance", PAIRS3, "calls")),
    "refetch.enabled": Probe(_refetch(enabled=True), _refetch(enabled=False),
                             obs_quote("binance", ("BTC", "USDT"), source_kw={"ttl": 1000},
                                       after=_sleep_then_calls(0.6))),
    "refetch.staleTriggerBeforeExpiry": _p("refetch.staleTriggerBeforeExpiry", 5000, 1000,
                                           obs_due(6_000)),
    "refetch.batchInterval": Probe(_refetch(batchInterval=100), _refetch(batchInterval=10_000),
                                   obs_quote("binance", ("BTC", "USDT"), source_kw={"ttl": 1000},
                                             after=_sleep_then_calls(0.6))),
    "refetch.minTimeBetweenRefreshes": Probe(_refetch(minTimeBetweenRefreshes=100),
                                             _refetch(minTimeBetweenRefreshes=2000),
                                             obs_due(500, ttl=1000)),
    "quotes.requestTimeoutMs": _p("quotes.requestTimeoutMs", 1000, 5000,
                                  obs_quote("coinbase", ("BTC", "USD"), fake_kw={"latency_s": 1.3})),
    "pairCleanup.enabled": Probe(
        _set("pairCleanup", {"enabled": True, "cleanupIntervalMs": 1000}),
        _set("pairCleanup", {"enabled": False, "cleanupIntervalMs": 1000}),
        obs_cleanup(1.3),
    ),
    "pairCleanup.inactiveTimeoutMs": _p("pairCleanup.inactiveTimeoutMs", 10_000, 20_000,
                                        obs_cleanup(None, 15_000)),
    "pairCleanup.cleanupIntervalMs": _p("pairCleanup.cleanupIntervalMs", 1000, 60_000,
                                        obs_cleanup(1.3)),
    "pairsTtl[].pair": _p("pairsTtl", [{"pair": ["BTC", "USDT"], "ttl": 2000}],
                          [{"pair": ["ETH", "USDT"], "ttl": 2000}], obs_ttl_for()),
    "pairsTtl[].source": _p("pairsTtl", [{"pair": ["BTC", "USDT"], "ttl": 2000, "source": "binance"}],
                            [{"pair": ["BTC", "USDT"], "ttl": 2000, "source": "okx"}],
                            obs_ttl_for()),
    "pairsTtl[].ttl": _p("pairsTtl", [{"pair": ["BTC", "USDT"], "ttl": 2000}],
                         [{"pair": ["BTC", "USDT"], "ttl": 3000}], obs_ttl_for()),
    "metricsPush.enabled": _p("metricsPush.enabled", True, False, obs_push("count")),
    "metricsPush.url": _p("metricsPush.url", "@rec", "@other", obs_push("count")),
    "metricsPush.intervalMs": _p("metricsPush.intervalMs", 1000, 60_000,
                                 obs_push("count", window_s=1.4)),
    "metricsPush.jobName": _p("metricsPush.jobName", "price-aggregator", "other-job",
                              obs_push("paths")),
    "metricsPush.groupingLabels": _p("metricsPush.groupingLabels", {}, {"region": "eu"},
                                     obs_push("paths")),
    "metricsPush.basicAuth.username": _p("metricsPush.basicAuth", {"username": "a", "password": "p"},
                                         {"username": "b", "password": "p"}, obs_push("auth")),
    "metricsPush.basicAuth.password": _p("metricsPush.basicAuth", {"username": "a", "password": "p"},
                                         {"username": "a", "password": "q"}, obs_push("auth")),
    "metricsPush.headers": _p("metricsPush.headers", {}, {"X-Probe": "1"}, obs_push("header")),
    "metricsPush.timeoutMs": _p("metricsPush.timeoutMs", 1000, 5000,
                                obs_push("errors", window_s=1.6, delay_s=1.3)),
    "sealfeed.aggregator.metricsPush.kind": _p("sealfeed.aggregator.metricsPush.kind",
                                               "pushgateway", "victoriametrics", obs_push("paths")),
    "sealfeed.aggregator.metricsPush.ttlSeconds": _p("sealfeed.aggregator.metricsPush.ttlSeconds",
                                                     60, 3600, obs_push("paths")),
    "sealfeed.aggregator.metricsPush.bearerToken": _p(
        "sealfeed.aggregator.metricsPush.bearerToken", "t1", "t2", obs_push("auth")),
    "sealfeed.aggregator.metricsPush.deleteOnShutdown": _p(
        "sealfeed.aggregator.metricsPush.deleteOnShutdown", False, True, obs_push("paths")),
}  # fmt: skip


def test_every_documented_key_is_probed_or_listed_as_ignored() -> None:
    keys = documented()
    assert set(keys) == set(PROBES) | set(IGNORED), (
        f"no probe: {sorted(set(keys) - set(PROBES) - set(IGNORED))}; "
        f"stale: {sorted((set(PROBES) | set(IGNORED)) - set(keys))}"
    )
    assert not set(PROBES) & set(IGNORED)
    # the declarations say which keys are accepted but never read (role "ignored", shown as
    # **Ignored** in docs/config.md): exactly the keys listed here, no more, no fewer
    declared_ignored = {k for k, chain in keys.items() if any(n.role == "ignored" for n in chain)}
    assert declared_ignored == set(IGNORED), (
        f"declared ignored but probed here: {sorted(declared_ignored - set(IGNORED))}; "
        f"listed as ignored but read by the model: {sorted(set(IGNORED) - declared_ignored)}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(PROBES))
def test_documented_key_changes_behaviour(key: str, tmp_path: Path) -> None:
    probe = PROBES[key]
    a, b = probe.a, probe.b
    if key == "pairsFilePath":
        pairs = tmp_path / "pairs.json"
        pairs.write_text(json.dumps({"binance": ["ETH/USDT"]}))
        b = _set("pairsFilePath", str(pairs))
    if key == "proxy":
        b = _mark_proxy(use=True)
        a = _mark_proxy(use=False)
    got_a = probe.observe(a)
    got_b = probe.observe(b)
    assert got_a != got_b, (key, got_a, got_b)


def _mark_proxy(*, use: bool) -> Patch:
    """``proxy`` probe: the source uses the global proxy; the key itself is present or not."""

    def patch(sol: dict[str, Any]) -> None:
        sol["priceAggregatorConfig"]["sources"]["binance"]["useProxy"] = True
        if not use:
            sol["priceAggregatorConfig"].pop("proxy", None)

    return patch
