"""``sealfeed aggregator ...``: run the price aggregator, list its sources.

Only argparse and sealfeed.output/errors at module level; the service is imported inside the
handlers so other commands never load Starlette or aiohttp.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sealfeed.errors import ExitCode, ExternalError
from sealfeed.output import add_json_flag, emit

if TYPE_CHECKING:
    from sealfeed.config.model import AggregatorConfig, ApplianceConfig

SERVER_CHOICES = ("auto", "granian", "uvicorn", "hypercorn")


@dataclass(frozen=True)
class ServePlan:
    """What ``aggregator serve`` runs, decided from the verified config and the flags."""

    #: the configuration's aggregator section with ``--host``/``--port`` applied
    config: AggregatorConfig
    #: the ASGI server that will run (``auto`` resolved)
    server: str
    #: the root log level from ``priceAggregatorConfig.logger.level``; None when
    #: ``--log-level`` or ``SEALFEED_LOG_LEVEL`` chose one
    log_level: str | None


def plan_serve(
    cfg: ApplianceConfig, args: argparse.Namespace, environ: Mapping[str, str]
) -> ServePlan:
    """The pure part of ``aggregator serve``: configuration + flags + environment in, plan out."""
    import dataclasses

    from sealfeed.aggregator.server import resolve_server

    agg_cfg = cfg.aggregator
    log_level = None
    if args.log_level is None and "SEALFEED_LOG_LEVEL" not in environ:
        # priceAggregatorConfig.logger.level (reference levels) when nobody chose one
        log_level = {"error": "ERROR", "warn": "WARNING", "info": "INFO"}.get(
            agg_cfg.log_level, "DEBUG"
        )
    changes = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if changes:
        agg_cfg = dataclasses.replace(agg_cfg, **changes)
    return ServePlan(agg_cfg, resolve_server(args.server or agg_cfg.server), log_level)


def _serve(args: argparse.Namespace) -> ExitCode:
    import logging
    import os

    from sealfeed.aggregator.app import create_app
    from sealfeed.aggregator.server import run
    from sealfeed.config.args import verified_config

    cfg = verified_config(args)  # fail closed: no verified config, no service
    plan = plan_serve(cfg, args, os.environ)
    if plan.log_level is not None:
        logging.getLogger().setLevel(plan.log_level)
    agg_cfg = plan.config
    if agg_cfg.pairs_file:
        from sealfeed.aggregator.pairs import load_pairs_file

        load_pairs_file(agg_cfg.pairs_file)  # a bad pairs file fails here, not mid-startup
    app = create_app(agg_cfg, cfg.monitoring, streams=not args.no_streams)
    try:
        run(
            app,
            server=plan.server,
            host=agg_cfg.host,
            port=agg_cfg.port,
            notify_fd=args.notify_fd,
            on_evict=app.aggregator.metrics.evict,
        )
    except OSError as exc:
        raise ExternalError(
            f"cannot serve on {agg_cfg.host}:{agg_cfg.port}: {exc.strerror or exc}"
        ) from None
    return ExitCode.OK


def _sources(args: argparse.Namespace) -> ExitCode:
    from sealfeed.aggregator.sources import DEFAULTS, SOURCE_NAMES

    def key_use(n: str) -> str:
        d = DEFAULTS[n]
        return "required" if d.requires_key else "optional" if d.uses_key else "not used"

    rows = [
        {
            "name": n,
            "key": DEFAULTS[n].key,
            "baseUrl": DEFAULTS[n].base_url,
            "streamUrl": DEFAULTS[n].stream_url,
            "rps": DEFAULTS[n].rps,
            "maxBatchSize": DEFAULTS[n].max_batch_size,
            "apiKey": key_use(n),
            "docs": DEFAULTS[n].docs,
        }
        for n in SOURCE_NAMES
    ]
    lines = [f"{'source':18} {'rps':>6} {'batch':>6}  {'key':9} base URL / stream"]
    for r in rows:
        batch = "-" if r["maxBatchSize"] is None else str(r["maxBatchSize"])
        urls = f"{r['baseUrl']}" + (f"  {r['streamUrl']}" if r["streamUrl"] else "")
        lines.append(f"{r['name']:18} {r['rps']:>6g} {batch:>6}  {r['apiKey']:9} {urls}")
    emit(args, {"ok": True, "sources": rows}, "\n".join(lines))
    return ExitCode.OK


def _fetch(args: argparse.Namespace) -> ExitCode:
    """One live upstream call per source, without the service: checks reachability, the
    symbol mapping and the API key of a source."""
    import asyncio

    from sealfeed.aggregator.adapters import ADAPTERS, UpstreamError
    from sealfeed.aggregator.fetch import SourceClient
    from sealfeed.aggregator.pairs import is_symbol
    from sealfeed.aggregator.sources import DEFAULTS, SOURCE_NAMES, canonical_source
    from sealfeed.errors import InputError
    from sealfeed.secret import read_secret_file

    name = canonical_source(args.source)
    if name is None:
        raise InputError(f"unknown source {args.source!r}; known: {', '.join(SOURCE_NAMES)}")
    pairs = []
    for label in args.pairs:
        base, sep, quote = label.partition("/")
        if not sep or not is_symbol(base.strip()) or not is_symbol(quote.strip()):
            raise InputError(
                f"expected BASE/QUOTE of valid symbols, got {label!r}", location="PAIR"
            )
        pairs.append((base.strip().upper(), quote.strip().upper()))
    key = read_secret_file(args.api_key_file).reveal() if args.api_key_file else None
    adapter = ADAPTERS[name]

    async def go() -> tuple[dict[tuple[str, str], str], str | None]:
        client = SourceClient(
            adapter,
            base_url=adapter.base_url(args.base_url, key),
            rps=None,
            max_concurrent=4,
            timeout_ms=args.timeout_ms,
            api_key=key,
            proxy=args.proxy,
        )
        prices: dict[tuple[str, str], str] = {}
        errors: list[str] = []

        def settle(_pairs: tuple[tuple[str, str], ...], outcome: Any) -> None:
            if isinstance(outcome, UpstreamError):
                if outcome.kind != "unknown_pair":  # unknown symbols are "not found"
                    errors.append(f"{outcome.kind}: {outcome.message}")
            else:
                prices.update(outcome)

        try:
            await client.fetch_pairs(pairs, DEFAULTS[name].max_batch_size, settle)
        finally:
            await client.close()
        return prices, (errors[0] if errors else None)

    prices, error = asyncio.run(go())
    rows = [{"pair": f"{b}/{q}", "price": prices.get((b, q))} for b, q in pairs]
    lines = [f"{r['pair']:16} {r['price'] or 'not found'}" for r in rows]
    if error:
        lines.append(f"error: {error}")
    emit(
        args,
        {"ok": error is None, "source": name, "prices": rows, "error": error},
        "\n".join(lines),
    )
    if error is not None:
        return ExitCode.EXTERNAL
    return ExitCode.OK if all(r["price"] for r in rows) else ExitCode.FAILED


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="aggregator_command", metavar="SUBCOMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve the price API (config from the signed configuration only)",
        description="Serve the price aggregator API on host:port from the verified "
        "configuration (fails closed). SIGTERM shuts down gracefully within 10 s.",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(serve, consumer="aggregator")
    serve.add_argument(
        "--server",
        choices=SERVER_CHOICES,
        default=None,
        help="ASGI server (default: the config's, else auto = granian, the shipped one; "
        "uvicorn/hypercorn need the optional extra 'bench')",
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

    fetch = sub.add_parser(
        "fetch",
        help="fetch prices from one source once, without the service (connectivity/key check)",
        description="Fetch BASE/QUOTE pairs from a source once and print the prices. Exit 0 "
        "all found, 1 some not found, 3 the upstream failed.",
    )
    fetch.add_argument("source", help="source name (see `sealfeed aggregator sources`)")
    fetch.add_argument("pairs", nargs="+", metavar="PAIR", help="BASE/QUOTE, e.g. BTC/USDT")
    fetch.add_argument("--base-url", default=None, help="API base URL (default: the source's)")
    fetch.add_argument("--api-key-file", default=None, help="file holding the API key (0600)")
    fetch.add_argument("--proxy", default=None, help="HTTP(S) proxy URL")
    fetch.add_argument("--timeout-ms", type=int, default=10_000)
    add_json_flag(fetch)
    fetch.set_defaults(func=_fetch)

    sources = sub.add_parser("sources", help="list the built-in sources and their defaults")
    add_json_flag(sources)
    sources.set_defaults(func=_sources)


__all__ = ["ServePlan", "plan_serve", "register"]
