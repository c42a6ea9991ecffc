"""``sealfeed link serve``: attested mutual-TLS tunnels between VMs (docs/link.md).

One process per VM. It holds an attested identity (:mod:`sealfeed.link.identity`,
rotated every ``reattest_seconds``), listens on the plan's ``listen`` address for peers,
opens the plan's local tunnel endpoints, and dials every peer every ``probe_seconds``.

Every forwarded TCP connection is one TLS 1.3 connection with the handshake of
:mod:`sealfeed.link.handshake` (wire format :mod:`sealfeed.link.protocol`, tunnels
:mod:`sealfeed.link.tunnel`): both sides present an identity quote, both verify the other
(:mod:`sealfeed.link.admission`; quote verification cached by quote digest, so a
connection costs a TLS handshake plus a signature check). Inside the tunnel each side asks
the other for a fresh signed proof every ``reattest_seconds`` and drops the tunnel when
none comes or it does not verify. A peer that stops verifying -- on a probe, a
re-attestation, or the re-verification every collateral refresh triggers -- has every
tunnel closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sealfeed.attest.verify import VerifiedReport
from sealfeed.config.model import MetricsPushConfig, MonitoringLabels
from sealfeed.errors import ExternalError
from sealfeed.link import documents
from sealfeed.link.admission import (
    ATTESTATION_REASONS,
    Admission,
    PeerEvidence,
    PeerRefused,
    Reason,
    admit,
    parse_peer_quote,
    verify_peer_quote,
)
from sealfeed.link.collateral import CollateralProvider
from sealfeed.link.handshake import accept, dial, receive_document
from sealfeed.link.identity import Identity, PeerQuoter, client_context, create_identity
from sealfeed.link.metrics import SERIES_LABELS, UNKNOWN_PEER, LinkMetrics
from sealfeed.link.plan import Address, Forward, LinkPlan, Peer, plan_summary
from sealfeed.link.tunnel import STREAM_LIMIT, Session, Tunnel, close_writer, jitter

_log = logging.getLogger("sealfeed.link")

_REPORT_CACHE = 512
#: inbound handshakes in progress at once (each may verify a quote); more are dropped
MAX_INBOUND_HANDSHAKES = 64

#: verification failures that mean "we cannot currently vouch for this peer"
_UNVERIFYING = ATTESTATION_REASONS | {
    Reason.UNREACHABLE,
    Reason.TIMEOUT,
    Reason.PROTOCOL,
    Reason.UNKNOWN_PEER,
}


def push_config(cfg: MetricsPushConfig, vm: str) -> MetricsPushConfig:
    """The link's push: the exporter's receiver and credentials, job ``sealfeed-link``, and
    the VM name as a grouping label (every VM of a DON runs the same configuration, so
    ``instance`` alone would make their groups overwrite each other)."""
    return replace(cfg, job_name="sealfeed-link", grouping_labels={**cfg.grouping_labels, "vm": vm})


@dataclass
class PeerState:
    name: str
    address: str
    verified: bool = False
    last_verified: float | None = None
    admission: Admission | None = None
    evidence: PeerEvidence | None = None
    last_failure: dict[str, Any] | None = None
    failures: Counter[str] = field(default_factory=Counter)
    tunnels: set[Tunnel] = field(default_factory=set)
    bytes_sent: int = 0
    bytes_received: int = 0
    #: documents fetched from this peer: name -> {sha256, bytes, fetched_at, checked_at}
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "verified": self.verified,
            "last_verified": self.last_verified,
            "admission": self.admission.to_json() if self.admission else None,
            "last_failure": self.last_failure,
            "failures": dict(self.failures),
            "tunnels": {
                d: sum(1 for t in self.tunnels if t.direction == d) for d in ("inbound", "outbound")
            },
            "bytes": {"sent": self.bytes_sent, "received": self.bytes_received},
            "documents": self.documents,
        }


class LinkService:
    def __init__(
        self,
        plan: LinkPlan,
        *,
        config_hash: str,
        quoter: PeerQuoter,
        collateral: CollateralProvider,
        registry: CollectorRegistry | None = None,
        status_path: str | Path | None = None,
        pushes: Sequence[MetricsPushConfig] = (),
        labels: MonitoringLabels | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.config_hash = config_hash
        self.quoter = quoter
        self.collateral = collateral
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        self.metrics = LinkMetrics(self.registry, [p.name for p in plan.peers])
        self.status_path = Path(status_path) if status_path else None
        self.pushes = tuple(pushes)
        self.labels = labels or MonitoringLabels()
        self.peers = {p.name: PeerState(p.name, str(p.address)) for p in plan.peers}
        self.tunnels: set[Tunnel] = set()
        self.stop = asyncio.Event()
        self.refresh_now = asyncio.Event()
        self._identity: Identity | None = None
        self.client_ctx = client_context()
        self._reports: OrderedDict[bytes, tuple[int, VerifiedReport, float, Any]] = OrderedDict()
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._servers: list[asyncio.Server] = []
        self._dirty = True
        self._handshaking = 0
        self.bound: dict[str, Address] = {}

    # --- identity -----------------------------------------------------------------------
    @property
    def identity(self) -> Identity:
        if self._identity is None:  # run() creates one before anything is served
            raise RuntimeError("no identity yet")
        return self._identity

    async def _new_identity(self) -> Identity:
        ident = await asyncio.to_thread(
            create_identity,
            self.plan.vm,
            self.config_hash,
            now=self.clock(),
            lifetime_seconds=self.plan.max_quote_age,
            quoter=self.quoter,
        )
        self._identity = ident
        self.metrics.identity_issued.set(ident.issued_at)
        self._dirty = True
        _log.info(
            "identity issued",
            extra={
                "event": "identity_issued",
                "key_sha256": ident.evidence.spki_sha256.hex()[:16],
                "issued_at": ident.issued_at,
            },
        )
        return ident

    async def _rotate_loop(self) -> None:
        delay = self.plan.reattest_seconds
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)
            if self.stop.is_set():
                return
            try:
                await self._new_identity()
                delay = self.plan.reattest_seconds
            except Exception as exc:  # a failing TDX module must not kill the service
                self.metrics.identity_failures.inc()
                delay = min(30.0, self.plan.reattest_seconds / 4)
                _log.error(
                    "identity rotation failed; keeping the current identity",
                    extra={"event": "identity_failed", "error": str(exc), "retry_s": delay},
                )

    # --- verification -------------------------------------------------------------------
    async def verify(self, ev: PeerEvidence) -> Admission:
        """Admit ``ev`` or raise :class:`PeerRefused`. DCAP verification is cached by quote
        digest for the collateral generation, at most one re-attestation period."""
        now = self.clock()
        cached = self._reports.get(ev.quote_sha256)
        if cached is not None and cached[0] == self.collateral.generation and now < cached[2]:
            self._reports.move_to_end(ev.quote_sha256)
            _gen, report, _until, coll_until = cached
        else:
            quote = parse_peer_quote(ev.quote)
            vc = await self.collateral.for_quote(quote)
            report = verify_peer_quote(
                quote, vc, now=now, trust_roots=self.plan.collateral.trust_roots
            )
            coll_until = vc.valid_until
            until = min(coll_until.timestamp(), now + self.plan.reattest_seconds)
            self._reports[ev.quote_sha256] = (self.collateral.generation, report, until, coll_until)
            while len(self._reports) > _REPORT_CACHE:
                self._reports.popitem(last=False)
        return admit(
            ev,
            report,
            policy=self.plan.policy,
            config_hash=self.config_hash,
            max_age=self.plan.max_quote_age,
            collateral_valid_until=coll_until,
            now=now,
        )

    def verified(self, peer: str, ev: PeerEvidence, adm: Admission) -> None:
        st = self.peers.get(peer)
        if st is None:
            return
        if not st.verified:
            _log.info(
                "peer verified",
                extra={
                    "event": "peer_verified",
                    "peer": peer,
                    "measurement_id": adm.measurement_id,
                    "tcb_status": adm.tcb_status,
                },
            )
        st.verified, st.last_verified, st.admission, st.evidence = True, adm.verified_at, adm, ev
        self.metrics.verified.labels(peer).set(1)
        self.metrics.last_verified.labels(peer).set(adm.verified_at)
        self._dirty = True

    def failed(self, peer: str | None, reason: Reason, detail: str, *, authoritative: bool) -> None:
        """Count a failure. ``authoritative``: it concerns the real peer (we dialled its
        address, or it came through a verified tunnel), so it may unverify the peer and,
        for attestation reasons, close all its tunnels. Inbound handshakes are counted
        under the claimed name but never change a peer's state (anyone can claim one)."""
        st = self.peers.get(peer) if peer else None
        label = st.name if st else UNKNOWN_PEER
        self.metrics.failures.labels(label, reason.value).inc()
        now = self.clock()
        # one WARNING per change of story, DEBUG while the same failure repeats (a peer that
        # is down would otherwise log every probe period)
        repeat = (
            st is not None
            and not st.verified
            and st.last_failure is not None
            and st.last_failure["reason"] == reason.value
        )
        if st is not None:
            st.failures[reason.value] += 1
            st.last_failure = {"reason": reason.value, "detail": detail, "at": now}
        self._dirty = True
        _log.log(
            logging.DEBUG if repeat else logging.WARNING,
            "peer refused",
            extra={
                "event": "peer_refused",
                "peer": label,
                "reason": reason.value,
                "detail": detail,
                "authoritative": authoritative,
            },
        )
        if st is None or not authoritative:
            return
        if reason in _UNVERIFYING and st.verified:
            st.verified = False
            self.metrics.verified.labels(st.name).set(0)
        if reason in ATTESTATION_REASONS:
            for t in list(st.tunnels):
                t.close(reason.value, detail)

    def mark_dirty(self) -> None:
        """The status changed: the next status tick rewrites the file."""
        self._dirty = True

    # --- tunnels bookkeeping ------------------------------------------------------------
    def tunnel_opened(self, t: Tunnel) -> None:
        self.tunnels.add(t)
        st = self.peers.get(t.peer)
        if st is not None:
            st.tunnels.add(t)
        self.metrics.tunnels.labels(t.peer, t.direction).inc()
        self._dirty = True
        _log.info(
            "tunnel open",
            extra={"event": "tunnel_open", "peer": t.peer, "direction": t.direction},
        )

    def tunnel_closed(self, t: Tunnel) -> None:
        self.tunnels.discard(t)
        st = self.peers.get(t.peer)
        if st is not None:
            st.tunnels.discard(t)
        self.metrics.tunnels.labels(t.peer, t.direction).dec()
        self._dirty = True
        reason, detail = t.close_reason or ("done", "")
        _log.info(
            "tunnel closed",
            extra={
                "event": "tunnel_closed",
                "peer": t.peer,
                "direction": t.direction,
                "reason": reason,
                "detail": detail,
            },
        )

    def byte_counter(self, peer: str, direction: str) -> Callable[[int], None]:
        """A per-chunk byte counter for ``peer`` (label lookup once per tunnel, not per chunk)."""
        child = self.metrics.bytes.labels(peer, direction)
        st = self.peers.get(peer)

        def count(n: int) -> None:
            child.inc(n)
            if st is not None:
                if direction == "sent":
                    st.bytes_sent += n
                else:
                    st.bytes_received += n

        return count

    # --- server side ----------------------------------------------------------------------
    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
            task.add_done_callback(self._conn_tasks.discard)

    async def _serve_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        if self._handshaking >= MAX_INBOUND_HANDSHAKES:
            # unauthenticated work is bounded: quotes cost CPU to verify
            _log.warning("too many inbound handshakes; connection dropped",
                         extra={"event": "handshake_shed"})  # fmt: skip
            await close_writer(writer)
            return
        self._handshaking += 1
        try:
            accepted = await accept(self, reader, writer)
        finally:
            self._handshaking -= 1
        if accepted is not None:
            await Tunnel(self, *accepted).run()

    # --- client side ----------------------------------------------------------------------
    async def dial(self, peer: Peer, target: str) -> Session:
        """Connect to ``peer``, verify it, present our evidence for ``target`` ("" = probe);
        raises PeerRefused (:func:`sealfeed.link.handshake.dial`)."""
        return await dial(self, peer, target)

    async def _on_local(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: Peer,
        fwd: Forward,
    ) -> None:
        self._track()
        try:
            session = await self.dial(peer, fwd.target)
        except PeerRefused as r:
            self.failed(peer.name, r.reason, r.detail, authoritative=True)
            await close_writer(writer)
            return
        await Tunnel(self, session, reader, writer).run()

    async def _probe_loop(self, peer: Peer) -> None:
        while not self.stop.is_set():
            try:
                session = await self.dial(peer, "")
                await close_writer(session.writer)
            except PeerRefused as r:
                self.failed(peer.name, r.reason, r.detail, authoritative=True)
            else:
                await documents.fetch_due(self, peer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=jitter(self.plan.probe_seconds))

    # --- documents (ADR 0143) -------------------------------------------------------------
    async def fetch_document(self, peer: Peer, name: str) -> bytes:
        """Document ``name`` of ``peer`` over a fresh attested connection; PeerRefused."""
        session = await self.dial(peer, name)
        return await receive_document(
            session, limit=documents.MAX_DOCUMENT_BYTES, timeout=self.plan.handshake_timeout_seconds
        )

    # --- collateral refresh ----------------------------------------------------------------
    async def reverify_all(self) -> None:
        """Re-verify every peer's latest evidence and every tunnel's (after a collateral
        change); failures close the peer's tunnels."""
        for st in self.peers.values():
            if st.evidence is None:
                continue
            try:
                adm = await self.verify(st.evidence)
            except PeerRefused as r:
                self.failed(st.name, r.reason, f"re-verification: {r.detail}", authoritative=True)
                continue
            self.verified(st.name, st.evidence, adm)
        for t in list(self.tunnels):
            if t.closed.is_set():
                continue
            try:
                t.admission = await self.verify(t.evidence)
            except PeerRefused as r:
                self.failed(t.peer, r.reason, f"re-verification: {r.detail}", authoritative=True)
                t.close(r.reason.value, r.detail)

    async def _collateral_loop(self) -> None:
        while not self.stop.is_set():
            waits = [asyncio.create_task(e.wait()) for e in (self.refresh_now, self.stop)]
            await asyncio.wait(
                waits,
                timeout=self.plan.collateral.refresh_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for w in waits:
                w.cancel()
            if self.stop.is_set():
                return
            self.refresh_now.clear()
            try:
                changed = await self.collateral.refresh()
            except Exception as exc:  # keep serving; verification judges what we have
                _log.error(
                    "collateral refresh crashed",
                    extra={"event": "collateral_refresh_failed", "error": str(exc)},
                )
                continue
            if changed:
                self._reports.clear()
                await self.reverify_all()

    # --- status -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        ident = self._identity
        return {
            "vm": self.plan.vm,
            "updated": self.clock(),
            "config_hash": self.config_hash,
            "listen": {k: str(v) for k, v in self.bound.items()},
            "identity": {
                "issued_at": ident.issued_at,
                "key_sha256": ident.evidence.spki_sha256.hex(),
                "quote_sha256": ident.evidence.quote_sha256.hex(),
            }
            if ident
            else None,
            "collateral_generation": self.collateral.generation,
            "peers": [st.to_json() for st in self.peers.values()],
            "plan": plan_summary(self.plan),
        }

    def _expire(self) -> None:
        now = self.clock()
        for st in self.peers.values():
            if st.verified and st.admission is not None and now >= st.admission.valid_until:
                self.failed(
                    st.name,
                    Reason.STALE,
                    "no fresh verification before the evidence expired",
                    authoritative=True,
                )

    async def _status_loop(self) -> None:
        from sealfeed.fsutil import atomic_write

        while not self.stop.is_set():
            self._expire()
            if self._dirty and self.status_path is not None:
                self._dirty = False
                doc = json.dumps(self.status(), indent=2)
                try:
                    await asyncio.to_thread(atomic_write, self.status_path, doc)
                except OSError as exc:
                    _log.warning(
                        "cannot write the status file",
                        extra={"event": "status_write_failed", "error": str(exc)},
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=1.0)

    # --- run ----------------------------------------------------------------------------
    async def _listen(self, name: str, addr: Address, handler: Any) -> None:
        try:
            server = await asyncio.start_server(handler, addr.host, addr.port, limit=STREAM_LIMIT)
        except OSError as exc:
            raise ExternalError(
                f"cannot listen: {exc.strerror}", location=f"{name} {addr}"
            ) from None
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        self.bound[name] = Address(str(sock[0]), int(sock[1]))

    async def start(self) -> None:
        """Identity first (nothing is served without one), then listeners and endpoints."""
        self.collateral.load_initial()
        try:
            await self._new_identity()
        except ExternalError:
            raise
        except Exception as exc:
            raise ExternalError(f"cannot create the link identity: {exc}") from None
        if self.plan.listen is not None:
            await self._listen("listen", self.plan.listen, self._serve_conn)
        for peer in self.plan.peers:
            for fwd in peer.forwards:
                handler = functools.partial(self._on_local, peer=peer, fwd=fwd)
                await self._listen(f"{peer.name}/{fwd.target}", fwd.listen, handler)

    async def run(self, *, notify: Callable[[], None] | None = None) -> None:
        from sealfeed.push import MetricsPusher

        loop = asyncio.get_running_loop()
        handlers = {signal.SIGTERM: self.stop.set, signal.SIGINT: self.stop.set}
        handlers[signal.SIGHUP] = self.refresh_now.set
        for sig, fn in handlers.items():
            loop.add_signal_handler(sig, fn)
        pushers = [
            MetricsPusher(
                self.registry,
                push_config(cfg, self.plan.vm),
                self.labels,
                drop_grouping_labels=SERIES_LABELS,
            )
            for cfg in self.pushes
            if cfg.enabled
        ]
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.start()
            tasks.append(asyncio.create_task(self._rotate_loop()))
            tasks.append(asyncio.create_task(self._collateral_loop()))
            tasks.append(asyncio.create_task(self._status_loop()))
            tasks += [asyncio.create_task(self._probe_loop(p)) for p in self.plan.peers]
            tasks += [asyncio.create_task(p.run(self.stop)) for p in pushers]
            _log.info(
                "link serving",
                extra={
                    "event": "serving",
                    "vm": self.plan.vm,
                    "listen": {k: str(v) for k, v in self.bound.items()},
                    "peers": [p.name for p in self.plan.peers],
                },
            )
            if notify is not None:
                notify()
            await self.stop.wait()
        finally:
            for sig in handlers:
                loop.remove_signal_handler(sig)
            await self.shutdown(tasks)
            for p in pushers:
                await p.aclose()

    async def shutdown(self, tasks: Sequence[asyncio.Task[None]] = ()) -> None:
        self.stop.set()
        for server in self._servers:
            server.close()
        for tunnel in list(self.tunnels):
            tunnel.close("shutdown", "the link is stopping")
        # graceful within s6's 10 s budget: tunnels flush their CLOSE, loops see stop
        pending = [*tasks, *self._conn_tasks]
        if pending:
            _done, left = await asyncio.wait(pending, timeout=5)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=1)
        if self.status_path is not None:
            from sealfeed.fsutil import atomic_write

            with contextlib.suppress(OSError):
                doc = self.status()
                doc["stopped"] = True
                atomic_write(self.status_path, json.dumps(doc, indent=2))
        _log.info("link stopped", extra={"event": "stopped"})


__all__ = ["LinkService", "PeerState", "push_config"]
