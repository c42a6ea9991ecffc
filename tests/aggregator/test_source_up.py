"""sealfeed_aggregator_source_up{source} (design §7.5 "data source unavailable > 5 minutes"):
present for every enabled source from start, 0 after a failed upstream call, 1 after a
successful one or a stream quote; an unknown symbol is not an outage."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest

from sealfeed.aggregator.app import AggregatorApp, create_app
from sealfeed.config.model import SourceConfig
from tests.aggregator.helpers import agg_config, fakes, lifespan, run, source_config
from tests.fakes.exchanges import SAMPLE

UP = "sealfeed_aggregator_source_up"


def _up(app: AggregatorApp, source: str) -> float | None:
    value: float | None = app.state.registry.get_sample_value(UP, {"source": source})
    return value


async def _settles(app: AggregatorApp, source: str, want: float) -> None:
    """Wait for the gauge (a failed refresh may answer its waiter with the still-valid value
    before the client's retries are over)."""
    for _ in range(500):
        if _up(app, source) == want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{source}: source_up {_up(app, source)} != {want}")


def test_source_up_follows_upstream_outcomes_and_streams() -> None:
    async def scenario() -> None:
        async with fakes(["binance", "okx"]) as fx:
            sources = {n: source_config(n, f.base_url, timeout_ms=300) for n, f in fx.items()}
            sources["kraken"] = SourceConfig(name="kraken", enabled=False)
            app = create_app(agg_config(sources), streams=False, backoff_base_s=0.01)
            # from start, before any call: every enabled source at 1, disabled ones absent
            assert _up(app, "binance") == 1.0 and _up(app, "okx") == 1.0
            assert _up(app, "kraken") is None
            async with lifespan(app) as client:
                agg = app.aggregator
                (b, q), _ = SAMPLE["binance"]
                assert (await client.get(f"/quote/binance/{b}/{q}")).status == 200
                assert _up(app, "binance") == 1.0

                # an unknown symbol is an answer, not an outage
                assert (await client.get(f"/quote/binance/NOPE/{q}")).status == 404
                assert _up(app, "binance") == 1.0

                # the source fails (5xx, then timeout): 0; the other source is unaffected
                for mode in ("503", "timeout"):
                    fx["binance"].mode = mode
                    agg._schedule(agg.sources["binance"], (b, q))
                    await _settles(app, "binance", 0.0)
                    fx["binance"].mode = None
                    await asyncio.sleep(0.3)  # let the failed call's retries end
                    agg._schedule(agg.sources["binance"], (b, q))
                    await _settles(app, "binance", 1.0)
                assert _up(app, "okx") == 1.0

                # down again, then a stream quote arrives: the source is up
                fx["binance"].mode = "500"
                agg._schedule(agg.sources["binance"], (b, q))
                await _settles(app, "binance", 0.0)
                agg.on_stream_quote("binance", b, q, "67000.5", 1_700_000_000_000)
                assert _up(app, "binance") == 1.0
                fx["binance"].mode = None

                # /metrics (what the pusher sends) carries it
                text = generate_latest(app.state.registry).decode()
                assert f'{UP}{{source="okx"}} 1.0' in text

    run(scenario(), timeout=30)


def test_stream_metrics_are_registered_into_the_app_registry() -> None:
    """load_streams hands the app's registry to the StreamManager, so /metrics and the pusher
    carry sealfeed_aggregator_stream_* (no duplicate with the aggregator's own metrics)."""
    from sealfeed.aggregator.app import load_streams
    from sealfeed.config.model import StreamConfig

    cfg = agg_config(
        {
            "binance": source_config(
                "binance", "http://127.0.0.1:9", stream=StreamConfig(enabled=True)
            )
        }
    )
    app = create_app(cfg, streams=False)
    manager = load_streams(app.aggregator, None)
    assert manager is not None and manager.registry is app.state.registry
    reg = app.state.registry
    for name in ("reconnects", "messages", "quotes"):
        value = reg.get_sample_value(
            f"sealfeed_aggregator_stream_{name}_total", {"source": "binance"}
        )
        assert value == 0.0, name
    assert (
        reg.get_sample_value("sealfeed_aggregator_stream_desired_pairs", {"source": "binance"}) == 0
    )
    assert reg.get_sample_value(UP, {"source": "binance"}) == 1.0
