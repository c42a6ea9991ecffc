"""``sealfeed exporter serve`` and ``sealfeed exporter collect --once``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag, emit

DEFAULT_SCANDIR = "/run/service"
DEFAULT_SOURCE_DIR = "/etc/s6-overlay/s6-rc.d"
DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"


def _add_paths(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    env = os.environ.get
    p.add_argument(
        "--scandir",
        default=env("SEALFEED_SCANDIR", DEFAULT_SCANDIR) if defaults else None,
        help="live s6 scandir (default: env SEALFEED_SCANDIR or /run/service)",
    )
    p.add_argument(
        "--source-dir",
        default=env("SEALFEED_S6_SOURCE_DIR", DEFAULT_SOURCE_DIR) if defaults else None,
        help="s6-rc source dir whose longruns are also reported (default: env "
        "SEALFEED_S6_SOURCE_DIR or /etc/s6-overlay/s6-rc.d; '' to disable)",
    )
    p.add_argument(
        "--proc-root",
        default=env("SEALFEED_PROC_ROOT", "/proc") if defaults else None,
        help="procfs mount (default: /proc)",
    )
    p.add_argument(
        "--cgroup-root",
        default=env("SEALFEED_CGROUP_ROOT", DEFAULT_CGROUP_ROOT) if defaults else None,
        help="cgroup v2 mount (default: /sys/fs/cgroup; '' to disable)",
    )


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="exporter_command", metavar="SUBCOMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the exporter: sample, serve /metrics and /healthz, push",
        description="Sample every s6 service's process tree from /proc and s6 supervise "
        "state, serve /metrics and /healthz, and push to a Pushgateway/VictoriaMetrics. "
        "Configuration comes only from the signed configuration (fail closed).",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(serve, consumer="exporter")
    serve.add_argument("--host", default=None, help="listen address (default: config, 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ["PROCESS_METRICS_PORT"])
        if os.environ.get("PROCESS_METRICS_PORT", "").isdigit()
        else None,
        help="listen port (default: env PROCESS_METRICS_PORT or config, 3003; 0 = any)",
    )
    _add_paths(serve, defaults=True)
    serve.add_argument(
        "--notify-fd",
        type=int,
        default=None,
        help="s6 readiness: write a newline to this fd once serving",
    )
    serve.add_argument(
        "--attestation",
        default=os.environ.get("SEALFEED_ATTESTATION", "/run/sealfeed/attestation.json"),
        help="the start-up attestation document to serve read-only at GET /attestation "
        "(default: env SEALFEED_ATTESTATION or /run/sealfeed/attestation.json)",
    )
    serve.add_argument(
        "--user",
        default=None,
        metavar="ACCOUNT",
        help="start as root, fork the /proc reader that sees every account's io and fds, "
        "then run as ACCOUNT (ADR 0133; the image does this)",
    )
    serve.add_argument(
        "--health-failures",
        type=int,
        default=3,
        help="consecutive sampling failures after which /healthz answers 503 (default: 3)",
    )
    serve.set_defaults(func=_serve)

    collect = sub.add_parser(
        "collect",
        help="take one sample and print it (debugging)",
        description="Take one sample of every s6 service's process tree and print it.",
    )
    collect.add_argument(
        "--once", action="store_true", help="take one sample and exit (the only mode)"
    )
    collect.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="take two samples this many seconds apart so CPU%% covers the interval "
        "(default 0: lifetime average, as ps reports)",
    )
    collect.add_argument(
        "--prometheus", action="store_true", help="print the text exposition instead"
    )
    _add_paths(collect, defaults=True)
    add_json_flag(collect)
    collect.set_defaults(func=_collect)


def _serve(args: argparse.Namespace) -> ExitCode:
    import asyncio

    from sealfeed.config.args import verified_config
    from sealfeed.exporter.server import ServeOptions, serve

    reader = None
    if args.user:
        from sealfeed.exporter.procread import drop_privileges, start_helper

        # before the configuration, any secret or any socket exists in this process
        if os.geteuid() == 0:
            reader = start_helper(args.proc_root)
        drop_privileges(args.user)
    cfg = verified_config(args)  # verifies the signature; raises on anything wrong
    ex = cfg.exporter
    if args.health_failures < 1:
        raise InputError("must be >= 1", location="--health-failures")
    opts = ServeOptions(
        host=args.host or ex.host,
        port=ex.port if args.port is None else args.port,
        interval=ex.interval_ms / 1000,
        discovery_interval=ex.discovery_interval_ms / 1000,
        max_consecutive_failures=ex.max_consecutive_failures,
        health_failures=args.health_failures,
        proc_root=args.proc_root,
        scandir=args.scandir,
        source_dir=args.source_dir or None,
        cgroup_root=args.cgroup_root or None,
        pushes=(ex.push,),
        labels=cfg.monitoring,
        notify_fd=args.notify_fd,
        attestation_path=args.attestation or None,
        proc_reader=reader,
    )
    try:
        asyncio.run(serve(opts))
    finally:
        if reader is not None:
            reader.close()
    return ExitCode.OK


def _collect(args: argparse.Namespace) -> ExitCode:
    import dataclasses
    import sys
    import time

    from prometheus_client import CollectorRegistry, generate_latest

    from sealfeed.exporter.collector import ProcessCollector
    from sealfeed.exporter.sampler import Sampler

    sampler = Sampler(
        proc_root=args.proc_root,
        scandir=args.scandir,
        source_dir=args.source_dir or None,
        cgroup_root=args.cgroup_root or None,
    )
    collector = ProcessCollector(sampler, max_age=float("inf"))
    if args.interval > 0:
        collector.sample()
        time.sleep(args.interval)
    snap = collector.sample()  # SampleError -> exit 3 with a precise message
    if args.prometheus and not args.json:
        reg = CollectorRegistry()
        reg.register(collector)
        sys.stdout.write(generate_latest(reg).decode())
        return ExitCode.OK
    doc: dict[str, Any] = {"ok": True, **dataclasses.asdict(snap)}
    doc["pg_backends"] = [
        {"database": db, "user": user, "count": n} for (db, user), n in snap.pg_backends.items()
    ]

    def human() -> str:
        lines = [f"{'SERVICE':24} {'UP':3} {'PID':>7} {'PROCS':>5} {'CPU%':>7} {'RSS KiB':>10}"]
        for s in snap.services:
            lines.append(
                f"{s.name:24} {'up' if s.up else 'dn':3} {s.pid:>7} {len(s.processes):>5} "
                f"{s.cpu_percent:>7.1f} {s.rss_kb:>10}"
            )
            for p in s.processes:
                lines.append(
                    f"  {p.comm[:22]:22} {'':3} {p.pid:>7} {'':>5} {p.cpu_percent:>7.1f} "
                    f"{p.rss_kb:>10}"
                )
        lines.append(f"sample took {snap.duration_seconds * 1000:.2f} ms wall")
        return "\n".join(lines)

    emit(args, doc, human)
    return ExitCode.OK


__all__ = ["register"]
