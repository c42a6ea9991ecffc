"""One forwarded connection of the link: a local stream joined to a framed, attested TLS
stream (docs/link.md "Tunnels"). Data flows as DATA/EOF frames; every ``reattest_seconds``
each side asks the other for a fresh signed proof of its current identity and closes the
tunnel when none comes in time or it does not verify; a tunnel whose peer evidence expires
is closed as ``stale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sealfeed.link import protocol as P
from sealfeed.link.admission import (
    ATTESTATION_REASONS,
    Admission,
    PeerEvidence,
    PeerRefused,
    Reason,
)

if TYPE_CHECKING:
    from sealfeed.link.service import LinkService

#: one DATA frame, header included: a multiple of TLS 1.3's 16 KiB record (RFC 8446 5.1),
#: so a full read never leaves a tiny trailing record, and large enough to keep the
#: per-frame Python overhead small
_CHUNK = 256 * 1024
#: StreamReader buffer of a link connection (asyncio's default is 64 KiB; the transport
#: pauses at twice the limit): DATA frames of 256 KiB stream without pausing and resuming the
#: transport mid-frame (docs/benchmarks.md: throughput vs plain TLS 0.72-0.80x at 64 KiB,
#: 0.77x at 256 KiB, 0.82-1.07x at 1 MiB). Unauthenticated connections are bounded too: at
#: most MAX_INBOUND_HANDSHAKES (64) x 2 MiB buffered.
STREAM_LIMIT = 4 * _CHUNK
NETWORK_ERRORS = (OSError, ssl.SSLError, asyncio.IncompleteReadError, ConnectionError)


@dataclass
class Session:
    """A completed handshake: the TLS streams and the verified peer."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    direction: str
    session_id: bytes
    evidence: PeerEvidence
    admission: Admission


async def close_writer(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), timeout=2)


def jitter(seconds: float) -> float:
    return seconds * (0.9 + 0.1 * random.random())


class Tunnel:
    """One forwarded connection: local stream <-> framed TLS stream, re-attested in band."""

    def __init__(
        self,
        svc: LinkService,
        session: Session,
        local_reader: asyncio.StreamReader,
        local_writer: asyncio.StreamWriter,
    ) -> None:
        self.svc = svc
        self.s = session
        self.peer = session.peer
        self.direction = session.direction
        self.evidence = session.evidence
        self.admission = session.admission
        self.local_r, self.local_w = local_reader, local_writer
        self.closed = asyncio.Event()
        self.close_reason: tuple[str, str] | None = None
        self._pending: tuple[bytes, float] | None = None
        self._sent_eof = False
        self._got_eof = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._count_sent = svc.byte_counter(self.peer, "sent")
        self._count_received = svc.byte_counter(self.peer, "received")

    # --- lifecycle ----------------------------------------------------------------------
    def close(self, reason: str, detail: str = "", *, tell_peer: bool = True) -> None:
        if self.closed.is_set():
            return
        self.close_reason = (reason, detail)
        if tell_peer:
            with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
                self.s.writer.write(P.close(reason, detail))
        self.closed.set()

    async def run(self) -> None:
        self.svc.tunnel_opened(self)
        try:
            for coro in (self._up(), self._down(), self._watch()):
                t = asyncio.create_task(coro)
                self._tasks.add(t)
            await self.closed.wait()
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
                await asyncio.wait_for(self.s.writer.drain(), timeout=1)
            await close_writer(self.s.writer)
            await close_writer(self.local_w)
            self.svc.tunnel_closed(self)

    def _maybe_done(self) -> None:
        if self._sent_eof and self._got_eof:
            self.close("done", tell_peer=False)

    # --- pumps ----------------------------------------------------------------------------
    async def _up(self) -> None:
        """local -> peer"""
        try:
            while True:
                data = await self.local_r.read(_CHUNK - P.HEADER_SIZE)
                if not data:
                    self.s.writer.write(P.frame(P.EOF))
                    await self.s.writer.drain()
                    self._sent_eof = True
                    self._maybe_done()
                    return
                self.s.writer.write(P.frame(P.DATA, data))
                await self.s.writer.drain()
                self._count_sent(len(data))
        except NETWORK_ERRORS as exc:
            self.close("io", f"local side: {exc.__class__.__name__}")

    async def _down(self) -> None:
        """peer -> local, and control frames"""
        try:
            reader = self.s.reader
            while True:
                kind, length = P.parse_header(await reader.readexactly(P.HEADER_SIZE))
                if kind == P.DATA:
                    if self._got_eof:
                        raise PeerRefused(Reason.PROTOCOL, "DATA after EOF")
                    # pass the payload on as it arrives (TLS records, 16 KiB) rather than
                    # waiting for the whole frame: the pipeline keeps moving
                    left = length
                    while left:
                        piece = await reader.read(left)
                        if not piece:
                            raise asyncio.IncompleteReadError(b"", left)
                        self.local_w.write(piece)
                        left -= len(piece)
                    await self.local_w.drain()
                    self._count_received(length)
                    continue
                payload = await reader.readexactly(length) if length else b""
                if kind == P.EOF:
                    self._got_eof = True
                    if self.local_w.can_write_eof():
                        self.local_w.write_eof()
                    self._maybe_done()
                elif kind == P.REATTEST_REQUEST:
                    self._answer(P.parse_reattest_request(payload))
                elif kind == P.REATTEST_PROOF:
                    t = asyncio.create_task(self._check_proof(payload))
                    self._tasks.add(t)
                elif kind == P.CLOSE:
                    reason, detail = P.parse_close(payload)
                    if reason in {r.value for r in ATTESTATION_REASONS}:
                        self.svc.failed(
                            self.peer,
                            Reason.REFUSED_BY_PEER,
                            f"peer closed the tunnel: {reason}: {detail}",
                            authoritative=False,
                        )
                    self.close("peer_closed", f"{reason}: {detail}", tell_peer=False)
                    return
                else:
                    raise PeerRefused(Reason.PROTOCOL, f"unexpected {P.KINDS[kind]} in a tunnel")
        except PeerRefused as r:
            self.svc.failed(self.peer, r.reason, r.detail, authoritative=True)
            self.close(r.reason.value, r.detail)
        except asyncio.IncompleteReadError:
            self.close("peer_closed", "connection closed", tell_peer=False)
        except NETWORK_ERRORS as exc:
            self.close("io", f"peer side: {exc.__class__.__name__}", tell_peer=False)

    # --- re-attestation -------------------------------------------------------------------
    def _answer(self, nonce: bytes) -> None:
        ident = self.svc.identity
        body = P.encode_json(P.evidence_fields(ident.evidence))
        sig = ident.sign(P.proof_message(P.REATTEST_PROOF_DOMAIN, self.s.session_id, nonce, body))
        self.s.writer.write(P.signed(P.REATTEST_PROOF, body, sig))

    async def _check_proof(self, payload: bytes) -> None:
        try:
            if self._pending is None:
                raise PeerRefused(Reason.PROTOCOL, "unsolicited REATTEST_PROOF")
            nonce, _deadline = self._pending
            ev, body, sig = P.parse_reattest_proof(payload)
            if ev.vm != self.peer:
                raise PeerRefused(Reason.PROTOCOL, f"proof names {ev.vm!r}, not {self.peer!r}")
            P.verify_proof(
                ev.spki,
                sig,
                P.proof_message(P.REATTEST_PROOF_DOMAIN, self.s.session_id, nonce, body),
            )
            adm = await self.svc.verify(ev)
        except PeerRefused as r:
            self.svc.failed(self.peer, r.reason, f"re-attestation: {r.detail}", authoritative=True)
            self.close(r.reason.value, r.detail)
            return
        self._pending = None
        self.evidence, self.admission = ev, adm
        self.svc.verified(self.peer, ev, adm)

    async def _watch(self) -> None:
        clock = self.svc.clock
        period = self.svc.plan.reattest_seconds
        timeout = self.svc.plan.handshake_timeout_seconds
        next_request = clock() + jitter(period)
        while not self.closed.is_set():
            now = clock()
            if self._pending is not None and now > self._pending[1]:
                self.svc.failed(
                    self.peer, Reason.TIMEOUT, "no re-attestation proof in time", authoritative=True
                )
                self.close(Reason.TIMEOUT.value, "no re-attestation proof in time")
                return
            if now >= self.admission.valid_until:
                detail = "the peer's evidence for this tunnel expired without re-attestation"
                self.svc.failed(self.peer, Reason.STALE, detail, authoritative=False)
                self.close(Reason.STALE.value, detail)
                return
            if self._pending is None and now >= next_request:
                nonce = secrets.token_bytes(P.NONCE_SIZE)
                self._pending = (nonce, now + timeout)
                with contextlib.suppress(*NETWORK_ERRORS, RuntimeError):
                    self.s.writer.write(P.reattest_request(nonce))
                next_request = now + jitter(period)
            wake = min(next_request, self.admission.valid_until)
            if self._pending is not None:
                wake = min(wake, self._pending[1])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), timeout=max(0.05, wake - clock()))


__all__ = ["NETWORK_ERRORS", "Session", "Tunnel", "close_writer", "jitter"]
