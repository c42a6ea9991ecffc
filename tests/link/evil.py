"""A replaying attacker: genuine evidence of key K1 presented with key K2 (a quote lifted
from an honest TD and replayed over another TLS key), as a server and as a client."""

from __future__ import annotations

import asyncio
import os
import time

from sealfeed.link import protocol as P
from sealfeed.link.admission import PeerEvidence
from sealfeed.link.identity import Identity, client_context, create_identity, direct_quoter
from tests.fakes.tsm import FakeTdxHost
from tests.link.conftest import CONFIG_HASH


def _identities(host: FakeTdxHost, vm_name: str) -> tuple[Identity, Identity]:
    """Two genuine identities (key + quote) of the same TD."""

    def mk() -> Identity:
        return create_identity(
            vm_name,
            CONFIG_HASH,
            now=time.time(),
            lifetime_seconds=600,
            quoter=direct_quoter(host.quote, CONFIG_HASH),
        )

    return mk(), mk()


async def evil_server(host: FakeTdxHost, ip: str, port: int) -> asyncio.Server:
    k1, k2 = _identities(host, "vm-x")

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            await w.start_tls(k2.server_context)
            # K1's genuine quote, K2's key (the TLS certificate matches the claimed spki)
            ev = PeerEvidence("vm-x", CONFIG_HASH, k1.quote, k2.spki)
            w.write(P.server_hello(ev, os.urandom(32)))
            await w.drain()
            await asyncio.wait_for(r.read(), 5)
        except (OSError, TimeoutError):
            pass
        finally:
            w.close()

    return await asyncio.start_server(handle, ip, port)


async def evil_client(host: FakeTdxHost, addr: tuple[str, int], *, sign_with_k1: bool) -> str:
    """Claim to be vm-a; present K1's quote. With ``sign_with_k1`` the claimed key is K1
    (matching the quote) but the proof is signed by K2; otherwise the claimed key is K2."""
    k1, k2 = _identities(host, "vm-a")
    r, w = await asyncio.open_connection(*addr, ssl=client_context())
    _kind, payload = await P.read_frame(r)
    hello = P.parse_server_hello(payload)
    cert = w.get_extra_info("ssl_object").getpeercert(binary_form=True)
    spki = k1.spki if sign_with_k1 else k2.spki
    ev = PeerEvidence("vm-a", CONFIG_HASH, k1.quote, spki)
    body = P.client_hello_body(ev, "")
    msg = P.proof_message(P.CLIENT_PROOF_DOMAIN, P.session_id(cert), hello.nonce, body)
    w.write(P.signed(P.CLIENT_HELLO, body, k2.sign(msg)))
    _kind, payload = await P.read_frame(r)
    ok, reason, _detail = P.parse_verdict(payload)
    w.close()
    assert not ok
    return reason
