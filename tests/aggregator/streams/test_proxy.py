"""``use_proxy``: the stream goes through an HTTP forward proxy (a real TCP hop)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from sealfeed.aggregator.streams import StreamManager
from sealfeed.config.model import SourceConfig
from tests.fakes.ws_exchanges import FakeOkx

from .harness import RecordingSink, stream_config, wait_until


class ForwardProxy:
    """Minimal HTTP/1.1 forward proxy: absolute-form requests, then raw byte piping."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server: asyncio.AbstractServer | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode().split(" ")
            self.requests.append(f"{method} {target}")
            u = urlsplit(target)
            up_r, up_w = await asyncio.open_connection(u.hostname, u.port)
            path = u.path + (f"?{u.query}" if u.query else "")
            headers = b"\r\n".join(
                h for h in rest.split(b"\r\n") if not h.lower().startswith(b"proxy-")
            )
            up_w.write(f"{method} {path} {version}\r\n".encode() + headers)

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(Exception):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                with contextlib.suppress(Exception):
                    dst.close()

            await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            writer.close()


def test_stream_through_global_proxy() -> None:
    async def scenario() -> None:
        fake, proxy = FakeOkx(), ForwardProxy()
        url = await fake.start()
        await proxy.start()
        cfg = SourceConfig(name="okx", use_proxy=True, stream=stream_config(url))
        sink = RecordingSink()
        m = StreamManager({"okx": cfg}, sink, proxy=proxy.url, registry=CollectorRegistry())
        await m.start()
        try:
            m.set_pairs("okx", {("BTC", "USDT")})
            await wait_until(lambda: "BTC-USDT" in fake.subscribed(), what="subscribed")
            await fake.publish("BTC-USDT", "42.5")
            await wait_until(lambda: sink.quotes, what="quote via proxy")
            assert sink.quotes[0][3] == "42.5"
            assert proxy.requests == [f"GET {url}"]
        finally:
            await m.stop()
            await proxy.close()
            await fake.close()

    asyncio.run(scenario())
