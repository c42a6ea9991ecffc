"""A fake price upstream on 127.0.0.1, to see the local appliance serve a price offline.

Without internet every quote of `sealfeed up` is 503 (the sources cannot be reached). This
serves the public REST API of one or more exchanges -- the same fakes the tests use
(tests/fakes/exchanges.py, real wire format) with fixed sample prices -- and prints the
`--source-url` to give `sealfeed up --embedded-defaults`:

    uv run python scripts/fake_exchange.py                 # binance on 127.0.0.1:18080
    uv run python scripts/fake_exchange.py --port 18100 binance kraken   # one port each

Ctrl-C stops it. Only for local demos: the prices are made up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the fakes live in tests/
    sys.path.insert(0, str(REPO))

from aiohttp import web  # noqa: E402
from tests.fakes.exchanges import HANDLERS, SAMPLE, FakeExchange  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("sources", nargs="*", default=["binance"], help="exchanges to fake")
    p.add_argument("--port", type=int, default=18080, help="first port (default %(default)s)")
    args = p.parse_args(argv)
    unknown = [s for s in args.sources if s not in HANDLERS]
    if unknown:
        p.error(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(sorted(HANDLERS))}")
    return args


async def serve(sources: list[str], port: int, ready: asyncio.Event | None = None) -> None:
    runners: list[web.AppRunner] = []
    try:
        urls: list[str] = []
        for i, name in enumerate(sources):
            fx = FakeExchange(name)
            (base, quote), price = SAMPLE[name]
            fx.set_price(base, quote, price)
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", fx._dispatch)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", port + i).start()
            url = f"http://127.0.0.1:{port + i}"
            urls.append(f"{name}={url}")
            print(f"fake {name} on {url} ({base}/{quote} {price})", flush=True)
        flags = " ".join(f"--source-url {u}" for u in urls)
        print(f"next: bash scripts/up.sh {flags}", flush=True)
        first = sources[0]
        (base, quote), _ = SAMPLE[first]
        print(f"then: curl 127.0.0.1:3000/quote/{first}/{base}/{quote}", flush=True)
        if ready is not None:
            ready.set()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        asyncio.run(serve(args.sources, args.port))
    except OSError as exc:
        print(f"fake_exchange: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        return 3
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
