"""StreamManager against fake exchange servers speaking each exchange's real format."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from .harness import API_KEY, NAMES, SECOND, rig, wait_until


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_quotes_reach_sink_with_exact_price_and_event_time(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            assert not r.manager.is_live(name, *r.pair)
            r.manager.set_pairs(name, {r.pair})
            await r.subscribed()
            event_ms = int(time.time() * 1000) - 1500
            published_at = time.time()
            # digits a float round trip would change
            await r.fake.publish(r.ident, "0.10000000000000000555", event_ms)
            await wait_until(lambda: r.sink.quotes, what="a quote")
            source, base, quote, price, at = r.sink.quotes[-1]
            assert (source, base, quote) == (name, *r.pair)
            assert price == "0.10000000000000000555"
            # cryptocompare sends LASTUPDATE in whole seconds
            expect = event_ms // 1000 * 1000 if name == "cryptocompare" else event_ms
            assert at == expect
            assert r.manager.is_live(name, *r.pair)
            assert r.manager.is_live(name, r.pair[0].lower(), r.pair[1])
            st = r.status()
            assert st["connected"] is True
            assert st["subscribed_pairs"] == 1
            # the age counts from when the message arrived: after we published it
            age = st["last_message_age_s"]
            assert age is not None and 0 <= age <= time.time() - published_at + 0.001
            assert r.metric("sealfeed_aggregator_stream_connected") == 1.0
            assert r.metric("sealfeed_aggregator_stream_subscribed_pairs") == 1.0
            assert (r.metric("sealfeed_aggregator_stream_quotes_total") or 0) >= 1
            assert (r.metric("sealfeed_aggregator_stream_messages_total") or 0) >= 1

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_pairs_follow_set_pairs(name: str) -> None:
    async def scenario() -> None:
        async with rig(name, rate_limit_ms=50) as r:
            r.manager.set_pairs(name, {r.pair})
            await r.subscribed()
            (second, second_id) = SECOND[name]
            r.manager.set_pairs(name, {r.pair, second})
            # subscribed on the next control tick; how soon is bench/streams_subscribe.py's
            await r.subscribed(second_id)
            r.manager.set_pairs(name, {second})
            await wait_until(lambda: r.ident not in r.fake.subscribed(), 2.0, "unsubscribe")
            assert second_id in r.fake.subscribed()
            assert not r.manager.is_live(name, *r.pair)
            await r.fake.publish(r.ident, "1")  # a late update for the removed pair is ignored
            await asyncio.sleep(0.05)
            assert all((q[1], q[2]) != r.pair for q in r.sink.quotes)

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_server_disconnect_reconnects_and_resubscribes(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            r.manager.set_pairs(name, {r.pair})
            await r.quote_flows("1.5")
            assert r.manager.is_live(name, *r.pair)
            r.fake.refuse = 3  # stay down for a few attempts
            await r.fake.disconnect_all()
            await wait_until(lambda: not r.status()["connected"], what="down")
            assert not r.manager.is_live(name, *r.pair)  # REST takes over while down
            await wait_until(lambda: r.fake.connects >= 2, what="reconnect")
            await r.subscribed()
            await r.quote_flows("2.5")
            assert r.manager.is_live(name, *r.pair)
            st = r.status()
            assert st["reconnects"] >= 4
            assert st["backoff_s"] == 0.0
            assert "503" in (st["last_error"] or "") or "closed" in (st["last_error"] or "")
            assert (r.metric("sealfeed_aggregator_stream_reconnects_total") or 0) >= 4

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_silent_stall_is_detected(name: str) -> None:
    async def scenario() -> None:
        # heartbeat far away: only the unresponsive window can notice the stall
        async with rig(name, heartbeat_interval_ms=60_000, unresponsive_timeout_ms=400) as r:
            r.manager.set_pairs(name, {r.pair})
            r.fake.stalled = True
            await wait_until(lambda: r.status()["reconnects"] >= 1, 3.0, "stall detected")
            assert "unresponsive" in r.status()["last_error"]
            r.fake.stalled = False
            await r.quote_flows("3.25")

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_ping_keeps_quiet_connection_and_ping_timeout_reconnects(name: str) -> None:
    async def scenario() -> None:
        async with rig(name, heartbeat_interval_ms=100, unresponsive_timeout_ms=2_000) as r:
            r.manager.set_pairs(name, {r.pair})
            await r.subscribed()
            # quiet exchange answering pings: stays connected well past several intervals
            await asyncio.sleep(0.6)
            assert r.status()["reconnects"] == 0
            assert r.status()["connected"]
            r.fake.ignore_pings = True
            await wait_until(lambda: r.status()["reconnects"] >= 1, 2.0, "ping timeout")
            assert "ping timeout" in r.status()["last_error"]
            r.fake.ignore_pings = False
            await r.quote_flows("4.75")

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_malformed_frames_are_counted_and_skipped(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            r.manager.set_pairs(name, {r.pair})
            await r.subscribed()
            for junk in ("{not json", '{"data": 5, "arg": 1}', "[]", "5~CCCAGG~X~Y~1~abc~zz"):
                await r.fake.send_raw(junk)
            await r.fake.send_bytes(b"\xff\xfe")
            await r.fake.publish(r.ident, "5.5")
            await wait_until(lambda: any(q[3] == "5.5" for q in r.sink.quotes), what="quote")
            assert r.status()["reconnects"] == 0
            bad = r.metric("sealfeed_aggregator_stream_errors_total", kind="malformed")
            assert bad is not None and bad >= 3

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_subscribe_errors(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            (second, second_id) = SECOND[name]
            r.fake.reject = {second_id}
            r.manager.set_pairs(name, {second})
            await wait_until(lambda: r.status()["last_error"], what="error reported")
            assert not r.manager.is_live(name, *second)
            st = r.status()
            if name in ("binance", "okx", "kraken", "cryptocompare"):
                # the exchange names the refused subscription: it is parked, not retried
                assert second_id in st["rejected"]
                assert st["subscribed_pairs"] == 0
            r.manager.set_pairs(name, {second, r.pair})
            await r.quote_flows("6.5")
            assert r.status()["connected"]

    run(scenario())


@pytest.mark.parametrize("name", NAMES)
def test_reconnects_forever_with_capped_backoff(name: str) -> None:
    async def scenario() -> None:
        async with rig(name, reconnect_interval_ms=5, max_backoff_ms=40) as r:
            r.fake.refuse = 10**9
            r.manager.set_pairs(name, {r.pair})
            # the reference stops after 10 attempts; we must go well beyond
            await wait_until(lambda: r.status()["reconnects"] >= 25, 10.0, "25 attempts")
            assert 0 < r.status()["backoff_s"] <= 0.04
            assert not r.manager.is_live(name, *r.pair)
            assert r.metric("sealfeed_aggregator_stream_connected") == 0.0
            r.fake.refuse = 0
            await r.quote_flows("7.5")

    run(scenario())


def test_batching_and_rate_limit() -> None:
    async def scenario() -> None:
        async with rig("okx", batch_size=2, rate_limit_ms=120) as r:
            pairs = {(b, "USDT") for b in ("A1", "B2", "C3", "D4", "E5")}
            r.manager.set_pairs("okx", pairs)
            await wait_until(lambda: len(r.fake.subscribed()) == 5, 3.0, "5 subscribed")
            subs = [
                (t, f)
                for t, f in zip(r.fake.received_at, r.fake.frames(), strict=True)
                if isinstance(f, dict) and f.get("op") == "subscribe"
            ]
            assert [len(f["args"]) for _, f in subs] == [2, 2, 1]
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(subs)]
            assert all(g >= 0.1 for g in gaps), gaps

    run(scenario())


def test_per_connection_limit_opens_more_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    from sealfeed.aggregator.streams.okx import Okx

    monkeypatch.setattr(Okx, "max_subscriptions", 2)
    monkeypatch.setattr(Okx, "max_connections", 2)

    async def scenario() -> None:
        async with rig("okx") as r:
            pairs = {(b, "USDT") for b in ("A1", "B2", "C3", "D4", "E5")}
            r.manager.set_pairs("okx", pairs)
            await wait_until(lambda: len(r.fake.subscribed()) == 4, 3.0, "4 subscribed")
            assert len(r.fake.conns) == 2
            assert all(len(c.subs) == 2 for c in r.fake.conns)
            st = r.status()
            assert st["connections"] == 2 and st["unassigned_pairs"] == 1
            assert not r.manager.is_live("okx", "E5", "USDT")  # over the limit: REST
            r.manager.set_pairs("okx", {("A1", "USDT")})
            await wait_until(lambda: len(r.fake.conns) == 1, 3.0, "extra connection closed")
            await wait_until(lambda: r.fake.subscribed() == {"A1-USDT"}, 2.0, "unsubscribed")

    run(scenario())


@pytest.mark.parametrize("name", ["finnhub", "cryptocompare"])
def test_api_key_in_url_never_shown(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            r.manager.set_pairs(name, {r.pair})
            await r.subscribed()
            assert r.fake.conns[0].query[r.fake.key_param or ""] == API_KEY
            r.fake.api_key = "rotated"  # the server now refuses our key: 401 forever
            await r.fake.disconnect_all()
            await wait_until(lambda: "401" in (r.status()["last_error"] or ""), what="401")
            text = repr(r.manager.status())
            assert API_KEY not in text
            assert "?" not in r.status()["url"]

    run(scenario())


def test_finnhub_server_ping_counts_as_liveness() -> None:
    async def scenario() -> None:
        async with rig("finnhub", heartbeat_interval_ms=60_000, unresponsive_timeout_ms=500) as r:
            r.manager.set_pairs("finnhub", {r.pair})
            await r.subscribed()
            for _ in range(10):
                await r.fake.server_ping()
                await asyncio.sleep(0.1)
            assert r.status()["reconnects"] == 0

    run(scenario())


def test_stop_closes_everything() -> None:
    async def scenario() -> None:
        async with rig("binance") as r:
            r.manager.set_pairs("binance", {r.pair})
            await r.subscribed()
            before = {t for t in asyncio.all_tasks() if t.get_name().startswith("stream-")}
            assert before
            await r.manager.stop()
            await wait_until(lambda: not r.fake.conns, 2.0, "server saw the close")
            left = [
                t
                for t in asyncio.all_tasks()
                if t.get_name().startswith("stream-") and not t.done()
            ]
            assert not left

    run(scenario())


def test_unknown_and_disabled_sources_are_ignored() -> None:
    from prometheus_client import CollectorRegistry

    from sealfeed.aggregator.streams import StreamManager
    from sealfeed.config.model import SourceConfig, StreamConfig

    from .harness import RecordingSink

    sources = {
        "binance": SourceConfig(name="binance", stream=StreamConfig(enabled=False)),
        "okx": SourceConfig(name="okx", enabled=False, stream=StreamConfig()),
        "kraken": SourceConfig(name="kraken"),  # no stream section
        "coingecko": SourceConfig(name="coingecko", stream=StreamConfig()),
        "finnhub": SourceConfig(name="finnhub", stream=StreamConfig()),  # no api key
    }
    m = StreamManager(sources, RecordingSink(), registry=CollectorRegistry())
    assert m.sources == ["finnhub"]
    m.set_pairs("coingecko", {("BTC", "USD")})
    assert not m.is_live("coingecko", "BTC", "USD")
    assert "api_key" in m.status()["finnhub"]["last_error"]

    async def scenario() -> None:
        await m.start()
        await asyncio.sleep(0.05)
        assert not m.status()["finnhub"]["connected"]
        await m.stop()

    run(scenario())


def test_kraken_legacy_and_v2_codes_share_one_subscription() -> None:
    async def scenario() -> None:
        async with rig("kraken") as r:
            r.manager.set_pairs("kraken", {("XBT", "USD"), ("BTC", "USD")})
            await r.subscribed("BTC/USD")
            await r.quote_flows("64003.2")
            got = {(q[1], q[2]) for q in r.sink.quotes if q[3] == "64003.2"}
            assert got == {("XBT", "USD"), ("BTC", "USD")}
            assert r.fake.subscribed() == {"BTC/USD"}
            assert r.status()["subscribed_pairs"] == 2

    run(scenario())


def test_failing_sink_does_not_stop_the_stream() -> None:
    async def scenario() -> None:
        async with rig("coinbase") as r:
            calls = []

            def boom(*args: object) -> None:
                calls.append(args)
                if len(calls) == 1:
                    raise RuntimeError("sink bug")

            r.sink.on_stream_quote = boom  # type: ignore[method-assign]
            r.manager.set_pairs("coinbase", {r.pair})
            await r.subscribed()
            for _ in range(200):
                if len(calls) >= 2:
                    break
                await r.fake.publish(r.ident, "8.5")
                await asyncio.sleep(0.02)
            assert len(calls) >= 2
            assert r.status()["reconnects"] == 0
            assert r.metric("sealfeed_aggregator_stream_errors_total", kind="sink") == 1.0

    run(scenario())


def test_pair_without_fresh_quote_within_ttl_is_not_live() -> None:
    async def scenario() -> None:
        async with rig("binance", ttl_ms=300, heartbeat_interval_ms=100) as r:
            r.manager.set_pairs("binance", {r.pair})
            await r.quote_flows("9.5")
            assert r.manager.is_live("binance", *r.pair)
            await asyncio.sleep(0.4)  # connection healthy (pongs) but the pair went quiet
            assert r.status()["connected"] and r.status()["reconnects"] == 0
            assert not r.manager.is_live("binance", *r.pair)
            await r.quote_flows("9.75")
            assert r.manager.is_live("binance", *r.pair)

    run(scenario())


@pytest.mark.parametrize("name", ["okx", "kraken"])
def test_no_pairs_no_socket(name: str) -> None:
    async def scenario() -> None:
        async with rig(name) as r:
            await asyncio.sleep(0.1)
            assert r.fake.attempts == 0
            st = r.status()
            assert st["idle"] and not st["connected"]
            assert r.metric("sealfeed_aggregator_stream_desired_pairs") == 0.0
            r.manager.set_pairs(name, {r.pair})
            await r.quote_flows("10.5")
            assert r.metric("sealfeed_aggregator_stream_desired_pairs") == 1.0
            r.manager.set_pairs(name, set())
            await wait_until(lambda: not r.fake.conns, 2.0, "idle socket closed")
            assert r.ident in {
                i for f in r.fake.frames(lambda d: isinstance(d, dict)) for i in _unsub_ids(f)
            }
            st = r.status()
            assert st["idle"] and st["reconnects"] == 0
            r.manager.set_pairs(name, {r.pair})
            await r.quote_flows("11.5")
            assert r.fake.connects == 2

    run(scenario())


def _unsub_ids(frame: dict[str, object]) -> list[str]:
    """Identifiers an OKX or Kraken unsubscribe frame names."""
    if frame.get("op") == "unsubscribe":
        return [a["instId"] for a in frame["args"]]  # type: ignore[index,union-attr]
    if frame.get("method") == "unsubscribe":
        return list(frame["params"]["symbol"])  # type: ignore[index,call-overload]
    return []


def test_set_pairs_before_start_and_restart() -> None:
    from sealfeed.aggregator.streams.okx import Okx

    async def scenario() -> None:
        from prometheus_client import CollectorRegistry

        from sealfeed.aggregator.streams import StreamManager
        from sealfeed.config.model import SourceConfig
        from tests.fakes.ws_exchanges import FakeOkx

        from .harness import RecordingSink, stream_config

        fake = FakeOkx()
        url = await fake.start()
        cfg = SourceConfig(name="okx", stream=stream_config(url))
        m = StreamManager({"okx": cfg}, RecordingSink(), registry=CollectorRegistry())
        pairs = {(f"P{i}", "USDT") for i in range(5)}
        m.set_pairs("okx", pairs)  # before start: remembered
        try:
            for _ in range(2):  # start, stop, start again
                await m.start()
                await wait_until(lambda: len(fake.subscribed()) == 5, 3.0, "subscribed")
                await m.stop()
                await wait_until(lambda: not fake.conns, 2.0, "closed")
        finally:
            await m.stop()
            await fake.close()

    old = Okx.max_subscriptions
    Okx.max_subscriptions = 2  # three sockets, set up before the loop runs
    try:
        run(scenario())
    finally:
        Okx.max_subscriptions = old


def test_old_event_time_is_delivered_but_not_live() -> None:
    async def scenario() -> None:
        async with rig("okx", ttl_ms=10_000) as r:
            r.manager.set_pairs("okx", {r.pair})
            await r.subscribed()
            old = int(time.time() * 1000) - 60_000  # a quote from a minute ago
            await r.fake.publish(r.ident, "12.5", old)
            await wait_until(lambda: r.sink.quotes, what="quote")
            assert r.sink.quotes[-1][3:] == ("12.5", old)
            assert not r.manager.is_live("okx", *r.pair)  # older than the 10 s TTL
            await r.fake.publish(r.ident, "12.75")
            await wait_until(lambda: r.manager.is_live("okx", *r.pair), what="fresh")
            future = int(time.time() * 1000) + 3_600_000
            await r.fake.publish(r.ident, "13", future)
            await wait_until(lambda: r.sink.quotes[-1][3] == "13", what="future quote")
            assert r.sink.quotes[-1][4] <= int(time.time() * 1000)  # clamped to now

    run(scenario())


def test_handshake_that_never_answers_times_out() -> None:
    async def scenario() -> None:
        from prometheus_client import CollectorRegistry

        from sealfeed.aggregator.streams import StreamManager
        from sealfeed.config.model import SourceConfig

        from .harness import RecordingSink, stream_config

        held: list[asyncio.StreamWriter] = []

        async def accept_and_ignore(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            held.append(w)  # accept TCP, never answer the HTTP upgrade

        server = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cfg = SourceConfig(
            name="binance",
            stream=stream_config(f"ws://127.0.0.1:{port}/ws", unresponsive_timeout_ms=500),
        )
        m = StreamManager({"binance": cfg}, RecordingSink(), registry=CollectorRegistry())
        await m.start()
        try:
            m.set_pairs("binance", {("BTC", "USDT")})
            await wait_until(lambda: m.status()["binance"]["reconnects"] >= 2, 5.0, "timeouts")
            assert "handshake timeout" in m.status()["binance"]["last_error"]
        finally:
            await m.stop()
            for w in held:
                w.close()
            server.close()

    run(scenario())
