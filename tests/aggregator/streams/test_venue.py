"""One source = one venue (issue #16): default stream URLs match the REST defaults, and a
configuration mixing venues is reported."""

from __future__ import annotations

import logging

import pytest

from sealfeed.aggregator.sources import DEFAULTS
from sealfeed.aggregator.streams import EXCHANGES, StreamManager, venue_mismatch
from sealfeed.config.model import SourceConfig, StreamConfig


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_default_stream_is_the_rest_venue(name: str) -> None:
    ws = EXCHANGES[name]().url(None, "k")
    assert venue_mismatch(DEFAULTS[name].base_url, ws) is None, (name, ws)


def test_binance_streams_from_binance_com() -> None:
    assert EXCHANGES["binance"].default_url == "wss://stream.binance.com:9443/ws"


def test_mixed_venues_are_named() -> None:
    msg = venue_mismatch("https://api.binance.com", "wss://stream.binance.us:9443/ws")
    assert msg == "REST binance.com and stream binance.us are different venues"
    assert venue_mismatch("https://api.binance.us", "wss://stream.binance.us:9443/ws") is None
    assert venue_mismatch("http://127.0.0.1:8080", "ws://127.0.0.1:9/ws") is None


def test_manager_warns_about_a_mixed_binance(caplog: pytest.LogCaptureFixture) -> None:
    class Sink:
        def on_stream_quote(self, *args: object) -> None: ...

    caplog.set_level(logging.WARNING)
    mixed = SourceConfig(
        name="binance", stream=StreamConfig(ws_url="wss://stream.binance.us:9443/ws")
    )
    StreamManager({"binance": mixed}, Sink())
    events = [getattr(r, "event", None) for r in caplog.records]
    assert "stream_venue_mismatch" in events
    caplog.clear()
    StreamManager({"binance": SourceConfig(name="binance", stream=StreamConfig())}, Sink())
    assert not caplog.records
