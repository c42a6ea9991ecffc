"""Proxy support: global proxy (``use_proxy: true``) and a per-source proxy URL."""

from __future__ import annotations

import asyncio
import json

from sealfeed.aggregator.app import create_app
from sealfeed.config.model import SourceConfig
from sealfeed.secret import Secret
from tests.aggregator.helpers import agg_config, lifespan, run


class RecordingProxy:
    """A forward HTTP proxy stand-in: records request lines, answers like Binance."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.url = ""

    async def start(self) -> asyncio.base_events.Server:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                self.lines.append(line.decode().strip())
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                body = json.dumps({"symbol": "BTCUSDT", "price": "1.23"}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        finally:
            writer.close()


def test_global_and_per_source_proxy() -> None:
    async def scenario() -> None:
        global_proxy, own_proxy = RecordingProxy(), RecordingProxy()
        s1, s2 = await global_proxy.start(), await own_proxy.start()
        try:
            sources = {
                "binance": SourceConfig(
                    name="binance", base_url="http://binance.invalid", use_proxy=True
                ),
                "bybit": SourceConfig(
                    name="bybit",
                    base_url="http://bybit.invalid",
                    use_proxy=Secret(own_proxy.url),
                ),
            }
            cfg = agg_config(sources, proxy=Secret(global_proxy.url))
            async with lifespan(create_app(cfg, streams=False)) as client:
                r = await client.get("/quote/binance/BTC/USDT")
                assert r.status == 200 and r.json()["price"] == "1.23"
                await client.get("/quote/bybit/BTC/USDT")
            assert global_proxy.lines == [
                "GET http://binance.invalid/api/v3/ticker/price?symbol=BTCUSDT HTTP/1.1"
            ]
            assert own_proxy.lines and own_proxy.lines[0].startswith(
                "GET http://bybit.invalid/v5/market/tickers?"
            )
        finally:
            s1.close()
            s2.close()

    run(scenario())
