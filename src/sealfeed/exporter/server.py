"""``sealfeed exporter serve``: sample loop, ``/metrics`` + ``/healthz``, push, s6 readiness,
and the appliance's attestation document, read-only (``GET /attestation``, ADR 0130).

Self-healing (design §3.4): ``/healthz`` turns 503 after ``health_failures`` consecutive sampling
failures, and the service exits (code 3) after ``max_consecutive_failures`` (12) so s6 restarts
it and its finish script counts the restart. A push failure never stops sampling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from sealfeed.config.model import LOOPBACK, MetricsPushConfig, MonitoringLabels
from sealfeed.errors import ExternalError, InputError
from sealfeed.exporter.collector import PROC_LABELS, ProcessCollector
from sealfeed.exporter.sampler import SampleError, Sampler

_log = logging.getLogger("sealfeed.exporter")

#: labels our series carry themselves; a grouping label of the same name would clash
#: (Pushgateway rejects pushed series that carry a grouping label)
SERIES_LABELS = frozenset({*PROC_LABELS, "database", "user", "outcome", "target", "ttl"})


@dataclass(frozen=True)
class ServeOptions:
    host: str = LOOPBACK
    port: int = 3003
    interval: float = 5.0
    discovery_interval: float = 60.0
    max_consecutive_failures: int = 12
    health_failures: int = 3
    proc_root: str = "/proc"
    scandir: str = "/run/service"
    source_dir: str | None = "/etc/s6-overlay/s6-rc.d"
    cgroup_root: str | None = "/sys/fs/cgroup"
    pushes: Sequence[MetricsPushConfig] = field(default_factory=tuple)
    labels: MonitoringLabels = field(default_factory=MonitoringLabels)
    instance: str | None = None
    notify_fd: int | None = None
    #: the start-up attestation document served at GET /attestation (None: not served)
    attestation_path: str | None = None
    #: who reads other accounts' /proc/<pid>/{io,fd} (the privileged helper, ADR 0133)
    proc_reader: Any = None


def notify_ready(fd: int) -> None:
    """s6 readiness protocol: write a newline to the notification fd, then close it
    (s6-supervise(8), "notification-fd")."""
    try:
        os.write(fd, b"\n")
        os.close(fd)
    except OSError as exc:
        raise InputError(
            f"cannot write readiness to fd {fd}: {exc.strerror}", location="--notify-fd"
        ) from None


class Exporter:
    """The running service; ``await run()`` returns when stopped, raises on self-heal exit."""

    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.sampler = Sampler(
            proc_root=opts.proc_root,
            scandir=opts.scandir,
            source_dir=opts.source_dir,
            cgroup_root=opts.cgroup_root,
            discovery_interval=opts.discovery_interval,
            proc_reader=opts.proc_reader,
        )
        self.registry = CollectorRegistry()
        self.collector = ProcessCollector(self.sampler, max_age=max(2 * opts.interval, 1.0))
        self.registry.register(self.collector)
        self.stop = asyncio.Event()
        self.port: int | None = None
        self._fatal: ExternalError | None = None

    # ---- http --------------------------------------------------------------------------
    def _app(self) -> object:
        from aiohttp import web

        async def metrics(_req: web.Request) -> web.Response:
            body = await asyncio.to_thread(generate_latest, self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

        async def healthz(_req: web.Request) -> web.Response:
            failures = self.collector.consecutive_failures
            if self.collector.snapshot is None or failures >= self.opts.health_failures:
                reason = self.collector.last_error or "no sample yet"
                return web.Response(
                    status=503, text=f"unhealthy: {failures} consecutive failures: {reason}\n"
                )
            return web.Response(text="ok\n")

        async def attestation(_req: web.Request) -> web.Response:
            status, body = await asyncio.to_thread(self._attestation)
            return web.Response(
                status=status,
                body=body,
                content_type="application/json",
                headers={"Cache-Control": "no-store"},
            )

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/attestation", attestation)
        return app

    def _attestation(self) -> tuple[int, bytes]:
        """(status, body): 200 and the document as the start-up step wrote it; 503 and a
        plain reason when the appliance is not attested (no TDX, no image digest, quote
        failed) or the step has not run; 404 when no document is configured. Read-only: the
        file is read per request and never changed."""
        from sealfeed.attest.appliance import MAX_DOCUMENT_BYTES, load_attestation_bytes

        def refusal(status: int, reason: str) -> tuple[int, bytes]:
            return status, (json.dumps({"attested": False, "reason": reason}) + "\n").encode()

        path = self.opts.attestation_path
        if not path:
            return refusal(404, "this exporter serves no attestation document (--attestation)")
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_DOCUMENT_BYTES + 1)
        except FileNotFoundError:
            return refusal(503, f"not attested yet: the start-up attestation step has not "
                                f"written {path}")  # fmt: skip
        except OSError as exc:
            return refusal(503, f"cannot read the attestation document: {exc.strerror}")
        try:
            doc = load_attestation_bytes(data, location=path)
        except InputError as exc:
            return refusal(503, f"the attestation document is malformed: {exc}")
        if not doc.attested:
            return 503, doc.to_bytes()
        return 200, data

    # ---- loops -------------------------------------------------------------------------
    async def _sample_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            started = loop.time()
            try:
                snap = await asyncio.to_thread(self.collector.sample)
                for w in snap.warnings:
                    _log.warning("sample warning", extra={"event": "sample_warning", "detail": w})
            except SampleError as err:
                n = self.collector.consecutive_failures
                _log.warning(
                    "sample failed",
                    extra={"event": "sample_failed", "error": str(err), "consecutive": n},
                )
                if n >= self.opts.max_consecutive_failures:
                    self._fatal = ExternalError(
                        f"sampling failed {n} times in a row (last: {err}); exiting so s6 "
                        "restarts the exporter (design §3.4 self-healing)"
                    )
                    self.stop.set()
                    return
            delay = max(0.0, self.opts.interval - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)

    async def run(self) -> None:
        from aiohttp import web

        from sealfeed.push import MetricsPusher

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        pushers = [
            MetricsPusher(
                self.registry,
                cfg,
                self.opts.labels,
                instance=self.opts.instance,
                drop_grouping_labels=SERIES_LABELS,
            )
            for cfg in self.opts.pushes
            if cfg.enabled
        ]
        # first sample before serving, so /metrics and the first push have data
        with contextlib.suppress(SampleError):
            await asyncio.to_thread(self.collector.sample)
        runner = web.AppRunner(self._app(), access_log=None)  # type: ignore[arg-type]
        await runner.setup()
        site = web.TCPSite(runner, self.opts.host, self.opts.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ExternalError(
                f"cannot listen: {exc.strerror}", location=f"{self.opts.host}:{self.opts.port}"
            ) from None
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.opts.port
        _log.info(
            "exporter serving",
            extra={
                "event": "serving",
                "host": self.opts.host,
                "port": self.port,
                "pushes": [p.target.kind for p in pushers],
            },
        )
        tasks = [asyncio.create_task(self._sample_loop())]
        tasks += [asyncio.create_task(p.run(self.stop)) for p in pushers]
        try:
            if self.opts.notify_fd is not None:
                notify_ready(self.opts.notify_fd)
            await self.stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            # graceful: loops see stop; bounded so shutdown stays within s6's 10 s budget
            await asyncio.wait(tasks, timeout=5)
            for t in tasks:
                t.cancel()
            for p in pushers:
                if p.cfg.delete_on_shutdown:
                    try:
                        await asyncio.wait_for(p.delete(), timeout=3)
                    except (ExternalError, TimeoutError) as err:
                        _log.warning(
                            "push delete failed",
                            extra={"event": "push_delete_failed", "error": str(err)},
                        )
                await p.aclose()
            await runner.cleanup()
            _log.info("exporter stopped", extra={"event": "stopped"})
        if self._fatal is not None:
            raise self._fatal


async def serve(opts: ServeOptions) -> None:
    await Exporter(opts).run()


__all__ = ["SERIES_LABELS", "Exporter", "ServeOptions", "notify_ready", "serve"]
