"""The IO edge: one WebSocket connection loop (aiohttp), shared by every exchange.

A :class:`Connection` owns a subset of a source's subscriptions and keeps them alive forever:
connect, send the exchange's opening frames, keep the subscribed set equal to the desired set
(batched, rate-limited), ping when idle, and on any failure -- server close, socket error,
no message for ``unresponsive_timeout_ms``, no pong in time -- tear down, wait a jittered
exponential backoff and start again with a full resubscribe. It never gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp

from .base import Ack, ExchangeError, Reject, StreamProtocolError, StreamTick
from .policy import backoff_delay, scrub

if TYPE_CHECKING:
    from .manager import SourceStream

__all__ = ["Connection"]

log = logging.getLogger("sealfeed.aggregator.streams")

_MAX_PENDING = 256  # request ids remembered for matching acks/rejects
_MAX_TICK_S = 0.5  # the control loop re-checks deadlines at least this often
_HANDSHAKE_TIMEOUT_S = 10.0  # TCP + TLS + HTTP upgrade of one connection attempt


class _Down(Exception):
    """The current session must end (reason in the message)."""


class _Idle(Exception):
    """Every pair of this connection was removed: close the socket until pairs return."""


class Connection:
    """One socket of a source, carrying at most ``exchange.max_subscriptions`` identifiers."""

    def __init__(self, stream: SourceStream, index: int) -> None:
        self.stream = stream
        self.index = index
        self.desired: set[str] = set()
        #: identifiers a subscribe was sent for on the current socket (and not rejected)
        self.subscribed: set[str] = set()
        #: identifier -> (reason, monotonic time after which it is tried again)
        self.rejected: dict[str, tuple[str, float]] = {}
        #: identifier -> monotonic time of its last quote on the current socket
        self.last_quote: dict[str, float] = {}
        self.connected = False
        self.reconnects = 0
        self.last_error: str | None = None
        self.backoff_s = 0.0
        self.last_message_wall: float | None = None
        self._last_rx = 0.0
        self._ping_sent: float | None = None
        self._pending: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        #: identifiers of a wholesale-rejected batch: retried one per request to find the
        #: culprit instead of parking the innocent ones with it
        self._solo: set[str] = set()
        self._req_id = 0
        self._got_quote = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control from the manager -------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, session: aiohttp.ClientSession) -> None:
        if self._task is None:
            name = f"stream-{self.stream.name}-{self.index}"
            self._task = asyncio.create_task(self._run(session), name=name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def is_live(self, identifier: str, now: float) -> bool:
        if not self.connected or identifier not in self.subscribed:
            return False
        seen = self.last_quote.get(identifier)
        return seen is not None and now - seen < self.stream.live_window_s

    # -- the loop -----------------------------------------------------------------------

    async def _run(self, session: aiohttp.ClientSession) -> None:
        st = self.stream.settings
        attempt = 0
        while True:
            # no pairs, no socket: some exchanges (OKX) drop connections without a
            # subscription, which would read as an endless reconnect loop
            while not self.desired:
                self._wake.clear()
                await self._wake.wait()
            self._got_quote = False
            try:
                await self._session(session)
            except asyncio.CancelledError:
                raise
            except _Idle:
                self._set_down()
                log.info(
                    "stream idle",
                    extra={
                        "event": "stream_idle",
                        "source": self.stream.name,
                        "connection": self.index,
                    },
                )
                continue
            except _Down as exc:
                self._record_error("disconnect", str(exc))
            except Exception as exc:
                # aiohttp/OS errors (refused, reset, TLS, bad handshake status): all transient
                self._record_error("disconnect", f"{type(exc).__name__}: {exc}")
            finally:
                self._set_down()
            if self._got_quote:
                attempt = 0  # the connection worked: start the backoff ladder afresh
            delay = backoff_delay(attempt, st.backoff_base_s, st.backoff_cap_s, random.random())
            attempt += 1
            self.backoff_s = delay
            self.reconnects += 1
            self.stream.metrics_reconnect()
            log.warning(
                "stream disconnected",
                extra={
                    "event": "stream_disconnected",
                    "source": self.stream.name,
                    "connection": self.index,
                    "reason": self.last_error,
                    "backoff_s": round(delay, 3),
                    "attempt": attempt,
                },
            )
            await asyncio.sleep(delay)

    async def _session(self, session: aiohttp.ClientSession) -> None:
        stream = self.stream
        # the session's timeouts bound the TCP connect only; a peer that accepts and never
        # answers the HTTP upgrade must not hold the loop forever
        handshake_s = min(_HANDSHAKE_TIMEOUT_S, max(1.0, stream.settings.unresponsive_s))
        try:
            ws = await asyncio.wait_for(
                session.ws_connect(
                    stream.url,
                    proxy=stream.proxy,
                    # pings are answered and sent by this loop: pong timeouts are ours to see
                    autoping=False,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
                ),
                handshake_s,
            )
        except TimeoutError:
            raise _Down(f"handshake timeout after {handshake_s:.1f} s") from None
        self.connected = True
        self.backoff_s = 0.0
        self._last_rx = time.monotonic()
        self._ping_sent = None
        self._pending.clear()
        log.info(
            "stream connected",
            extra={
                "event": "stream_connected",
                "source": stream.name,
                "connection": self.index,
                "url": stream.url_redacted,
            },
        )
        reader = asyncio.create_task(self._read(ws))
        control = asyncio.create_task(self._control(ws))
        try:
            done, _ = await asyncio.wait({reader, control}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise why the session ended
            raise _Down("session ended")
        finally:
            for task in (reader, control):
                task.cancel()
            for task in (reader, control):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)

    def _set_down(self) -> None:
        self.connected = False
        self._solo.clear()
        self.subscribed.clear()
        self.last_quote.clear()
        self._ping_sent = None

    def _record_error(self, kind: str, text: str) -> None:
        self.last_error = scrub(text, self.stream.api_key)[:300]
        self.stream.metrics_error(kind)

    # -- receiving ----------------------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is aiohttp.WSMsgType.TEXT:
                self._on_text(msg.data)
            elif kind is aiohttp.WSMsgType.BINARY:
                try:
                    text = msg.data.decode("utf-8")
                except UnicodeDecodeError:
                    self._alive()
                    self._malformed("binary frame that is not UTF-8")
                else:
                    self._on_text(text)
            elif kind is aiohttp.WSMsgType.PING:
                self._alive()
                await ws.pong(msg.data)
            elif kind is aiohttp.WSMsgType.PONG:
                self._alive()
            elif kind is aiohttp.WSMsgType.ERROR:
                raise _Down(f"socket error: {ws.exception()}")
            else:  # CLOSE, CLOSING, CLOSED
                raise _Down(f"closed by server (code {ws.close_code})")

    def _alive(self) -> None:
        self._last_rx = time.monotonic()
        self._ping_sent = None
        self.last_message_wall = self.stream.clock()
        self.stream.metrics_message()

    def _malformed(self, why: str) -> None:
        self.stream.metrics_error("malformed")
        n = self.stream.malformed_count = self.stream.malformed_count + 1
        # one line for the first and then every 1000th: a broken feed must not flood the log
        if n == 1 or n % 1000 == 0:
            log.warning(
                "malformed stream frame",
                extra={
                    "event": "stream_malformed",
                    "source": self.stream.name,
                    "count": n,
                    "error": why[:200],
                },
            )

    def _on_text(self, text: str) -> None:
        self._alive()
        stream = self.stream
        try:
            events = stream.exchange.parse(text)
        except StreamProtocolError as exc:
            self._malformed(exc.message)
            return
        now_ms = int(stream.clock() * 1000)
        for ev in events:
            if isinstance(ev, StreamTick):
                self._on_quote(ev, now_ms)
            elif isinstance(ev, Ack):
                if ev.req_id is not None:
                    self._solo.difference_update(self._pending.pop(ev.req_id, ()))
            elif isinstance(ev, Reject):
                self._on_reject(ev)
            elif isinstance(ev, ExchangeError):
                self._record_error("exchange_error", ev.reason)
                log.warning(
                    "stream error from exchange",
                    extra={
                        "event": "stream_exchange_error",
                        "source": stream.name,
                        "error": self.last_error,
                    },
                )

    def _on_quote(self, ev: StreamTick, now_ms: int) -> None:
        pairs = self.stream.pairs_by_id.get(ev.identifier)
        if not pairs or ev.identifier not in self.subscribed:
            return  # a late update for something we just unsubscribed
        self._got_quote = True
        # the exchange's event time, but never in the future: a fast exchange clock must not
        # stretch a quote's TTL
        at = now_ms if ev.event_ms is None or ev.event_ms > now_ms else ev.event_ms
        # freshness is the quote's age, not its arrival: a snapshot of a trade from an hour
        # ago (Kraken, CryptoCompare LASTUPDATE) must not make the pair "live"
        self.last_quote[ev.identifier] = self._last_rx - (now_ms - at) / 1000
        stream = self.stream
        stream.metrics_quote()
        for base, quote in pairs:
            try:
                stream.sink.on_stream_quote(stream.name, base, quote, ev.price, at)
            except Exception as exc:  # the sink is not ours; keep streaming
                stream.metrics_error("sink")
                n = stream.sink_errors = stream.sink_errors + 1
                if n == 1 or n % 1000 == 0:  # a broken sink must not flood the log
                    log.exception(
                        "stream sink failed",
                        extra={
                            "event": "stream_sink_error",
                            "source": stream.name,
                            "count": n,
                            "error": str(exc),
                        },
                    )

    def _on_reject(self, ev: Reject) -> None:
        ids = ev.identifiers
        if not ids and ev.req_id is not None:
            ids = self._pending.pop(ev.req_id, ())
            if len(ids) > 1:
                # the whole request was refused: retry its identifiers one by one
                self.subscribed.difference_update(ids)
                self._solo.update(ids)
                self._record_error("subscribe_rejected", f"subscribe rejected: {ev.reason}")
                self._wake.set()
                return
        self._solo.difference_update(ids)
        retry_at = time.monotonic() + self.stream.settings.reject_retry_s
        for ident in ids:
            self.subscribed.discard(ident)
            self.last_quote.pop(ident, None)
            if ident in self.desired:
                self.rejected[ident] = (ev.reason, retry_at)
        self._record_error("subscribe_rejected", f"subscribe rejected: {ev.reason}")
        log.warning(
            "stream subscription rejected",
            extra={
                "event": "stream_subscribe_rejected",
                "source": self.stream.name,
                "identifiers": list(ids),
                "error": self.last_error,
            },
        )

    # -- sending ------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._req_id += 1
        return self._req_id

    async def _control(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        stream = self.stream
        st = stream.settings
        exchange = stream.exchange
        for opening in exchange.on_open():
            await ws.send_str(opening)
        last_send = float("-inf")
        while True:
            if not self.desired and not self.subscribed:
                raise _Idle()
            now = time.monotonic()
            idle = now - self._last_rx
            if idle >= st.unresponsive_s:
                raise _Down(f"unresponsive: no message for {idle:.1f} s")
            if self._ping_sent is not None and now - self._ping_sent >= st.pong_timeout_s:
                raise _Down(f"ping timeout: no answer within {st.pong_timeout_s:.1f} s")
            if self._ping_sent is None and idle >= st.heartbeat_s:
                ping = exchange.ping(self._next_id())
                if ping is None:
                    await ws.ping()
                else:
                    await ws.send_str(ping)
                self._ping_sent = now

            wait = _MAX_TICK_S
            batch_kind, batch = self._next_batch(now)
            if batch:
                gap_left = last_send + st.send_gap_s - now
                if gap_left <= 0:
                    await self._send_batch(ws, batch_kind, batch)
                    last_send = time.monotonic()
                    continue
                wait = min(wait, gap_left)
            deadlines = [self._last_rx + st.unresponsive_s - now]
            if self._ping_sent is None:
                deadlines.append(self._last_rx + st.heartbeat_s - now)
            else:
                deadlines.append(self._ping_sent + st.pong_timeout_s - now)
            wait = max(0.001, min(wait, *deadlines))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _next_batch(self, now: float) -> tuple[str, list[str]]:
        batch_size = self.stream.settings.batch
        stale = self.subscribed - self.desired
        if stale:
            return "unsubscribe", sorted(stale)[:batch_size]
        for ident, (_, until) in list(self.rejected.items()):
            if ident not in self.desired or until <= now:
                del self.rejected[ident]
        wanted = self.desired - self.subscribed - self.rejected.keys()
        solo = wanted & self._solo
        if solo:
            return "subscribe", [min(solo)]
        if wanted:
            return "subscribe", sorted(wanted)[:batch_size]
        return "", []

    async def _send_batch(
        self, ws: aiohttp.ClientWebSocketResponse, kind: str, batch: list[str]
    ) -> None:
        exchange = self.stream.exchange
        req_id = self._next_id()
        build: Callable[..., list[str]]
        if kind == "subscribe":
            build = exchange.subscribe
            self.subscribed.update(batch)
            self._pending[req_id] = tuple(batch)
            while len(self._pending) > _MAX_PENDING:
                self._pending.popitem(last=False)
        else:
            build = exchange.unsubscribe
            self.subscribed.difference_update(batch)
            for ident in batch:
                self.last_quote.pop(ident, None)
        for frame in build(batch, req_id):
            await ws.send_str(frame)
        log.debug(
            "stream %s",
            kind,
            extra={
                "event": f"stream_{kind}",
                "source": self.stream.name,
                "connection": self.index,
                "identifiers": batch,
            },
        )
