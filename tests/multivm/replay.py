"""A replaying impostor at a VM's address: ``python -m tests.multivm.replay`` run in that VM's
network namespace while the VM is down.

It asks the VM's own (fake) TDX module for two genuine identities -- the same TD, the same
configuration hash, keys K1 and K2 -- and answers every link handshake with K1's quote over
a TLS session of K2: a quote lifted from an honest TD and replayed with another key. Peers
must refuse it (``binding``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import time

from sealfeed.attest.tsm import request_quote
from sealfeed.link import protocol as P
from sealfeed.link.admission import PeerEvidence
from sealfeed.link.identity import create_identity, direct_quoter


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--vm", required=True)
    p.add_argument("--config-hash", required=True)
    p.add_argument("--tsm-root", required=True)
    p.add_argument("--listen", required=True)
    args = p.parse_args()
    quote = functools.partial(request_quote, root=args.tsm_root)

    def identity() -> object:
        return create_identity(args.vm, args.config_hash, now=time.time(),
                               lifetime_seconds=600,
                               quoter=direct_quoter(quote, args.config_hash))  # fmt: skip

    k1, k2 = identity(), identity()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await w.start_tls(k2.server_context)  # type: ignore[attr-defined]
            ev = PeerEvidence(args.vm, args.config_hash, k1.quote, k2.spki)  # type: ignore[attr-defined]
            w.write(P.server_hello(ev, os.urandom(32)))
            await w.drain()
            await asyncio.wait_for(r.read(), 5)
        except (OSError, TimeoutError):
            pass
        finally:
            w.close()

    async def serve() -> None:
        host, _, port = args.listen.rpartition(":")
        server = await asyncio.start_server(handle, host, int(port))
        print("replaying", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
