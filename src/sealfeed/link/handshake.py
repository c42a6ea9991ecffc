"""The link handshake, both sides (docs/link.md "Protocol", ADR 0120).

Server: TLS 1.3 with the current identity's certificate, SERVER_HELLO with our evidence and a
nonce, then the client's signed CLIENT_HELLO is checked (proof over the session and nonce,
admission of its evidence) and the target connected. Client: TLS 1.3, the server's evidence
must carry the key of its certificate and be admitted, then our signed hello and its verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
from typing import TYPE_CHECKING

from sealfeed.link import documents
from sealfeed.link import protocol as P
from sealfeed.link.admission import PeerRefused, Reason
from sealfeed.link.plan import Peer
from sealfeed.link.tunnel import NETWORK_ERRORS, STREAM_LIMIT, Session, close_writer

if TYPE_CHECKING:
    from sealfeed.link.service import LinkService

_log = logging.getLogger("sealfeed.link")


async def accept(
    svc: LinkService, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Session, asyncio.StreamReader, asyncio.StreamWriter] | None:
    """The server side of the handshake: a verified session and the target's streams,
    or None (refused, probe done, connection lost)."""
    claimed: str | None = None
    ident = svc.identity
    target_w: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(svc.plan.handshake_timeout_seconds):
            await writer.start_tls(ident.server_context)
            nonce = secrets.token_bytes(P.NONCE_SIZE)
            writer.write(P.server_hello(ident.evidence, nonce))
            kind, payload = await P.read_frame(reader)
            if kind == P.CLOSE:
                reason, detail = P.parse_close(payload)
                _log.warning(
                    "a peer refused our evidence",
                    extra={"event": "refused_by_peer", "reason": reason, "detail": detail},
                )
                await close_writer(writer)
                return None
            P.expect(kind, P.CLIENT_HELLO)
            hello = P.parse_client_hello(payload)
            name = hello.evidence.vm
            if svc.plan.peer(name) is None:
                raise PeerRefused(Reason.UNKNOWN_PEER, f"{name!r} is not a peer in the plan")
            claimed = name
            P.verify_proof(
                hello.evidence.spki,
                hello.signature,
                P.proof_message(P.CLIENT_PROOF_DOMAIN, ident.session_id, nonce, hello.body),
            )
            adm = await svc.verify(hello.evidence)
            svc.verified(name, hello.evidence, adm)
            if hello.target == "":  # a probe: verdict only
                writer.write(P.verdict(True))
                await writer.drain()
                await close_writer(writer)
                return None
            if hello.target in svc.plan.documents:  # an attested document (ADR 0143)
                await _send_document(svc, writer, hello.target)
                return None
            addr = svc.plan.targets.get(hello.target)
            if addr is None:
                raise PeerRefused(
                    Reason.UNKNOWN_TARGET, f"this VM serves no target {hello.target!r}"
                )
            try:
                target_r, target_w = await asyncio.open_connection(
                    addr.host, addr.port, limit=STREAM_LIMIT
                )
            except OSError as exc:
                raise PeerRefused(
                    Reason.TARGET_UNREACHABLE, f"{hello.target} at {addr}: {exc.strerror}"
                ) from None
            writer.write(P.verdict(True))
            await writer.drain()
    except PeerRefused as r:
        svc.failed(claimed, r.reason, r.detail, authoritative=False)
        with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
            writer.write(P.verdict(False, r.reason.value, r.detail))
            await asyncio.wait_for(writer.drain(), timeout=1)
        if target_w is not None:
            await close_writer(target_w)
        await close_writer(writer)
        return None
    except TimeoutError:
        svc.failed(claimed, Reason.TIMEOUT, "inbound handshake timed out", authoritative=False)
        await close_writer(writer)
        return None
    except NETWORK_ERRORS as exc:
        _log.info(
            "inbound connection dropped during the handshake",
            extra={"event": "handshake_dropped", "error": exc.__class__.__name__},
        )
        await close_writer(writer)
        return None
    session = Session(reader, writer, name, "inbound", ident.session_id, hello.evidence, adm)
    return session, target_r, target_w


#: one DATA frame of a document (well under the protocol's DATA limit)
_DOC_CHUNK = 64 * 1024


async def _send_document(svc: LinkService, writer: asyncio.StreamWriter, name: str) -> None:
    data = await documents.read_document(svc.plan.documents[name])
    if data is None:
        writer.write(P.verdict(False, documents.UNAVAILABLE, f"{name} is not published yet"))
    else:
        writer.write(P.verdict(True))
        for i in range(0, len(data), _DOC_CHUNK):
            writer.write(P.frame(P.DATA, data[i : i + _DOC_CHUNK]))
        writer.write(P.frame(P.EOF))
    await writer.drain()
    await close_writer(writer)


async def receive_document(session: Session, *, limit: int, timeout: float) -> bytes:
    """The client side: DATA frames up to EOF (at most ``limit`` bytes), then close."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                kind, payload = await P.read_frame(session.reader)
                if kind == P.EOF:
                    return b"".join(chunks)
                if kind == P.CLOSE:
                    raise PeerRefused(Reason.REFUSED_BY_PEER, ": ".join(P.parse_close(payload)))
                if kind != P.DATA:
                    raise PeerRefused(Reason.PROTOCOL, f"unexpected {P.KINDS[kind]} in a document")
                size += len(payload)
                if size > limit:
                    raise PeerRefused(Reason.PROTOCOL, f"document larger than {limit} bytes")
                chunks.append(payload)
    except TimeoutError:
        raise PeerRefused(Reason.TIMEOUT, "the document did not arrive in time") from None
    except NETWORK_ERRORS as exc:
        raise PeerRefused(
            Reason.UNREACHABLE, f"connection lost during a document: {exc.__class__.__name__}"
        ) from None
    finally:
        await close_writer(session.writer)


async def dial(svc: LinkService, peer: Peer, target: str) -> Session:
    """Connect to ``peer``, verify it, present our evidence for ``target`` ("" =
    probe). Records the peer verified once its evidence passes; raises PeerRefused."""
    ident = svc.identity
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(svc.plan.handshake_timeout_seconds):
            try:
                reader, writer = await asyncio.open_connection(
                    peer.address.host, peer.address.port, ssl=svc.client_ctx, limit=STREAM_LIMIT
                )
            except (OSError, ssl.SSLError) as exc:
                raise PeerRefused(
                    Reason.UNREACHABLE, f"{peer.address}: {exc.__class__.__name__}: {exc}"
                ) from None
            kind, payload = await P.read_frame(reader)
            P.expect(kind, P.SERVER_HELLO)
            if kind == P.CLOSE:
                raise PeerRefused(Reason.REFUSED_BY_PEER, ": ".join(P.parse_close(payload)))
            hello = P.parse_server_hello(payload)
            ssl_obj = writer.get_extra_info("ssl_object")
            cert = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
            if not cert:
                raise PeerRefused(Reason.PROTOCOL, "the peer presented no TLS certificate")
            if P.certificate_spki(cert) != hello.evidence.spki:
                raise PeerRefused(
                    Reason.BINDING, "the TLS certificate key is not the key of the evidence"
                )
            if hello.evidence.vm != peer.name:
                raise PeerRefused(
                    Reason.UNKNOWN_PEER,
                    f"{peer.address} answered as {hello.evidence.vm!r}, not {peer.name!r}",
                )
            try:
                adm = await svc.verify(hello.evidence)
            except PeerRefused as r:
                with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
                    writer.write(P.close(r.reason.value, r.detail))
                raise
            svc.verified(peer.name, hello.evidence, adm)
            sid = P.session_id(cert)
            body = P.client_hello_body(ident.evidence, target)
            sig = ident.sign(P.proof_message(P.CLIENT_PROOF_DOMAIN, sid, hello.nonce, body))
            writer.write(P.signed(P.CLIENT_HELLO, body, sig))
            await writer.drain()
            kind, payload = await P.read_frame(reader)
            P.expect(kind, P.VERDICT)
            if kind == P.CLOSE:
                raise PeerRefused(Reason.REFUSED_BY_PEER, ": ".join(P.parse_close(payload)))
            ok, reason, detail = P.parse_verdict(payload)
            if not ok:
                raise PeerRefused(Reason.REFUSED_BY_PEER, f"{reason}: {detail}")
    except PeerRefused:
        if writer is not None:
            await close_writer(writer)
        raise
    except TimeoutError:
        if writer is not None:
            await close_writer(writer)
        raise PeerRefused(Reason.TIMEOUT, f"handshake with {peer.address} timed out") from None
    except NETWORK_ERRORS as exc:
        if writer is not None:
            await close_writer(writer)
        raise PeerRefused(
            Reason.UNREACHABLE, f"{peer.address}: connection lost: {exc.__class__.__name__}"
        ) from None
    return Session(reader, writer, peer.name, "outbound", sid, hello.evidence, adm)


__all__ = ["accept", "dial", "receive_document"]
