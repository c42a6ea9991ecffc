"""``sealfeed aggregator ...``: run the price aggregator, list its sources.

Only argparse and sealfeed.output/errors at module level; the service is imported inside the
handlers so other commands never load Starlette or aiohttp.
"""

from __future__ import annotations

import argparse

from sealfeed.errors import ExternalError
from sealfeed.output import add_json_flag, emit

SERVER_CHOICES = ("auto", "granian", "uvicorn", "hypercorn")


def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    from sealfeed.aggregator.app import create_app
    from sealfeed.aggregator.server import resolve_server, run
    from sealfeed.config.args import config_from_args

    cfg = config_from_args(args)  # fail closed: no verified config, no service
    agg_cfg = cfg.aggregator
    changes = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if changes:
        agg_cfg = dataclasses.replace(agg_cfg, **changes)
    server = resolve_server(args.server or agg_cfg.server)
    app = create_app(agg_cfg, cfg.monitoring, streams=not args.no_streams)
    try:
        run(app, server=server, host=agg_cfg.host, port=agg_cfg.port, notify_fd=args.notify_fd)
    except OSError as exc:
        raise ExternalError(
            f"cannot serve on {agg_cfg.host}:{agg_cfg.port}: {exc.strerror or exc}"
        ) from None
    return 0


def _sources(args: argparse.Namespace) -> int:
    from sealfeed.aggregator.sources import DEFAULTS, SOURCE_NAMES

    rows = [
        {
            "name": n,
            "baseUrl": DEFAULTS[n].base_url,
            "rps": DEFAULTS[n].rps,
            "maxBatchSize": DEFAULTS[n].max_batch_size,
            "apiKey": "required" if DEFAULTS[n].requires_key else "optional",
            "docs": DEFAULTS[n].docs,
        }
        for n in SOURCE_NAMES
    ]
    lines = [f"{'source':18} {'rps':>6} {'batch':>6}  key       base URL"]
    for r in rows:
        batch = "-" if r["maxBatchSize"] is None else str(r["maxBatchSize"])
        lines.append(f"{r['name']:18} {r['rps']:>6g} {batch:>6}  {r['apiKey']:9} {r['baseUrl']}")
    emit(args, {"ok": True, "sources": rows}, "\n".join(lines))
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="aggregator_command", metavar="SUBCOMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve the price API (config from the signed configuration only)",
        description="Serve the price aggregator API on host:port from the verified "
        "configuration (fails closed). SIGTERM shuts down gracefully within 10 s.",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(serve)
    serve.add_argument(
        "--server",
        choices=SERVER_CHOICES,
        default=None,
        help="ASGI server (default: the config's, else auto = the measured default)",
    )
    serve.add_argument("--host", default=None, help="override the configured bind address")
    serve.add_argument("--port", type=int, default=None, help="override the configured port")
    serve.add_argument(
        "--notify-fd",
        type=int,
        default=None,
        help="s6 readiness: write a newline to this fd once serving",
    )
    serve.add_argument(
        "--no-streams", action="store_true", help="REST only, even if streaming is installed"
    )
    serve.set_defaults(func=_serve)

    sources = sub.add_parser("sources", help="list the built-in sources and their defaults")
    add_json_flag(sources)
    sources.set_defaults(func=_sources)


__all__ = ["register"]
