"""The ``sealfeed`` command line: one argparse tree, one error/exit-code mapping.

Each component owns its subcommands in ``sealfeed/<component>/cli.py`` and exposes
``register(parser)``. Those modules import only argparse at module level; the work is
imported inside the handler, so ``sealfeed attest verify-quote`` never loads Starlette
or psycopg (style-anchors.md §12). Every command in :data:`COMMANDS` must import: a module
that does not is a broken installation (exit 70 naming the command), never a command
silently missing from ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sealfeed import __version__
from sealfeed.errors import ExitCode, SealfeedError

if TYPE_CHECKING:
    from sealfeed.config.args import ConfigLoader

#: (command, module, one-line purpose). The module provides ``register(parser)``.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "config",
        "sealfeed.config.cli",
        "create keys, sign, verify and check the appliance configuration",
    ),
    (
        "attest",
        "sealfeed.attest.cli",
        "verify TDX/SGX DCAP quotes (collateral, policy), get quotes, replay event logs",
    ),
    (
        "verify",
        "sealfeed.verify.cli",
        "one verdict from image measurement + signed config + TDX quote",
    ),
    ("image", "sealfeed.image.cli", "measure an OCI/docker image archive and explain differences"),
    ("sp", "sealfeed.sp.cli", "Super Protocol resource.json and order-report checks"),
    ("link", "sealfeed.link.cli", "attested mutual-TLS tunnels between the VMs of one DON"),
    (
        "secrets",
        "sealfeed.secrets.cli",
        "seal operator secrets to a verified appliance; import them inside it",
    ),
    ("aggregator", "sealfeed.aggregator.cli", "run the price aggregator service"),
    ("exporter", "sealfeed.exporter.cli", "run the process-metrics exporter"),
    (
        "pg",
        "sealfeed.postgres.cli",
        "PostgreSQL bootstrap, tuning, per-node provisioning, readiness",
    ),
    ("s6", "sealfeed.s6.cli", "render and check the s6-rc service tree"),
    ("chainlink", "sealfeed.chainlink.cli", "render node config, manage keys, publish OCR2 jobs"),
    ("up", "sealfeed.s6.up_cli", "run the whole appliance locally under a real s6-svscan"),
    ("status", "sealfeed.s6.status_cli", "show every service's state from s6 supervise status"),
)

_BUG_HINT = "this is a bug in sealfeed; please file an issue with the command you ran"


class CommandImportError(RuntimeError):
    """A command's module failed to import: the installation is broken. Never skipped --
    a silently shorter ``--help`` would hide it (docs/cli.md)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sealfeed",
        description=(
            "sealfeed turns a multi-node Chainlink Data Feeds deployment into an attested\n"
            "appliance: a reproducible image, a signed configuration, and a verifier that\n"
            "proves what is running."
        ),
        epilog=(
            "examples:\n"
            "  sealfeed up --embedded-defaults                       the appliance, locally\n"
            "  sealfeed config sign configuration.json --key owner.pem --embed\n"
            "  sealfeed verify --image-measurement M.json --config C.json --pubkey K \\\n"
            "      --order-report report.json --sp-ca ca.pem ...     one verdict\n"
            "  sealfeed COMMAND --help                                every command teaches\n\n"
            "exit codes: 0 ok, 1 verification failed, 2 bad input or usage,\n"
            "3 external dependency failed (docs/cli.md)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sealfeed {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="diagnostics verbosity on stderr (default: env SEALFEED_LOG_LEVEL, else the "
        "service's level from the signed configuration, else INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, module, purpose in COMMANDS:
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # any import failure: name the command, never skip it
            raise CommandImportError(
                f"command {name!r}: cannot import {module}: {exc.__class__.__name__}: {exc}"
            ) from exc
        cmd = sub.add_parser(name, help=purpose, description=purpose)
        mod.register(cmd)
        cmd.set_defaults(_command_parser=cmd)
    return parser


def _print_error(err: SealfeedError, args: argparse.Namespace | None) -> None:
    sys.stderr.write(f"sealfeed: {err}\n")
    if args is not None and getattr(args, "json", False):
        doc: dict[str, Any] = {
            "ok": False,
            "error": {
                "message": err.message,
                "location": err.location,
                "exit_code": int(err.exit_code),
            },
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def main(
    argv: Sequence[str] | None = None,
    *,
    parser: argparse.ArgumentParser | None = None,
    load_config: ConfigLoader | None = None,
) -> int:
    """Run one command. The seams tests use (production passes neither): ``parser``
    (default: :func:`build_parser`) adds a command of their own to the real tree;
    ``load_config`` replaces how a command that takes ``--config`` loads its verified
    configuration (``args.load_config``, :mod:`sealfeed.config.args`)."""
    from sealfeed.log import setup_logging

    if parser is None:
        try:
            parser = build_parser()
        except CommandImportError as exc:
            sys.stderr.write(f"sealfeed: broken installation: {exc}\n")
            sys.stderr.write(f"sealfeed: {_BUG_HINT}\n")
            return int(ExitCode.BUG)
    args = parser.parse_args(argv)
    if load_config is not None:
        if not hasattr(args, "load_config"):
            raise TypeError(f"load_config given, but {list(argv or [])} takes no --config")
        args.load_config = load_config
    setup_logging(args.log_level or os.environ.get("SEALFEED_LOG_LEVEL", "INFO"))
    func = getattr(args, "func", None)
    if func is None:
        sub_parser = getattr(args, "_command_parser", None)
        (sub_parser or parser).print_help(sys.stderr)
        return int(ExitCode.USAGE)
    try:
        rc = func(args)
    except SealfeedError as err:
        _print_error(err, args)
        return int(err.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("sealfeed: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:  # anything else is a bug: say so, without a traceback
        logging.getLogger("sealfeed").debug("unhandled exception", exc_info=True)
        from sealfeed.log import redact

        sys.stderr.write(
            f"sealfeed: internal error: {exc.__class__.__name__}: {redact(str(exc))}\n"
        )
        sys.stderr.write(f"sealfeed: {_BUG_HINT} (re-run with --log-level DEBUG for details)\n")
        return int(ExitCode.BUG)
    return int(ExitCode.OK if rc is None else rc)


def run() -> None:
    sys.exit(main())


__all__ = ["COMMANDS", "CommandImportError", "build_parser", "main"]
