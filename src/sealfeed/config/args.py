"""CLI glue shared by every service command: where the config is and how it is trusted.

This module is part of the CLI layer (argparse in, argparse out; imported only by
``*/cli.py`` modules): it is where the environment (``CONFIGURATION_PATH``,
``CONFIGURATION_PUBLIC_KEY``, ``SP_SECRETS_DIR``) is read and handed to the library, which
never reads ``os.environ`` itself (:func:`sealfeed.config.loader.trust_from_args` takes it).

How a command gets its configuration is a value in its parsed arguments: every parser set up
by :func:`add_config_arguments` carries ``load_config`` (default :func:`config_from_args`),
and handlers call :func:`verified_config`. ``sealfeed.cli.main(argv, load_config=...)``
replaces it for one run -- the seam tests use to hand a command a typed configuration,
whatever the handler's import style.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from sealfeed.config.model import ApplianceConfig

#: parsed arguments -> the verified configuration (fail closed: raises, never returns junk)
ConfigLoader = Callable[[argparse.Namespace], ApplianceConfig]

DEFAULT_CONFIG_PATH = "/sp/configurations/configuration.json"


def add_config_arguments(parser: argparse.ArgumentParser, *, consumer: str | None = None) -> None:
    """``--config`` and ``--pubkey`` (+ env ``CONFIGURATION_PATH``/``CONFIGURATION_PUBLIC_KEY``).

    ``consumer`` names the component the command is (``aggregator``, ``exporter``,
    ``chainlink``, ``postgres``, ``supervision``): :func:`config_from_args` then reads only
    that component's secret files (``sealfeed.config.loader.SECRET_SCOPES``, ADR 0132);
    None reads every one (tools run by the operator)."""
    parser.set_defaults(secrets_consumer=consumer)
    parser.add_argument(
        "--config",
        default=os.environ.get("CONFIGURATION_PATH", DEFAULT_CONFIG_PATH),
        help="signed configuration.json (default: env CONFIGURATION_PATH or %(default)s)",
    )
    parser.add_argument(
        "--pubkey",
        default=None,
        help="public key file the configuration must be signed by "
        "(default: env CONFIGURATION_PUBLIC_KEY = base64 SPKI DER, "
        "or env CONFIGURATION_PUBLIC_KEY_FILE)",
    )
    parser.add_argument(
        "--secrets-dir",
        default=os.environ.get("SP_SECRETS_DIR"),
        help="secrets directory (default: env SP_SECRETS_DIR or the config's, /sp/secrets)",
    )
    parser.set_defaults(load_config=config_from_args)


def vm_from_args(args: argparse.Namespace) -> str | None:
    """This VM's placement name: ``--vm`` where a command has it, else env ``SEALFEED_VM``
    (set for every service of a VM's tree; ADR 0142)."""
    from sealfeed.config.placement import ENV_VM

    return getattr(args, "vm", None) or os.environ.get(ENV_VM) or None


def config_from_args(args: argparse.Namespace) -> ApplianceConfig:
    """Load and verify the configuration named by :func:`add_config_arguments` (fail closed),
    as this VM runs it when the DON spans VMs (:func:`sealfeed.config.placement.local_view`),
    reading only the secret files of the consumer the command declared there."""
    from sealfeed.config.loader import load_verified_config, trust_from_args
    from sealfeed.config.placement import local_view

    cfg = load_verified_config(
        args.config,
        trust_from_args(args.pubkey, os.environ),
        secrets_dir=args.secrets_dir,
        consumer=getattr(args, "secrets_consumer", None),
    )
    location = "--vm" if getattr(args, "vm", None) else "SEALFEED_VM"
    return local_view(cfg, vm_from_args(args), location=location)


def verified_config(args: argparse.Namespace) -> ApplianceConfig:
    """The configuration of a command registered with :func:`add_config_arguments`, loaded
    by ``args.load_config`` (:func:`config_from_args` unless ``main`` was given another)."""
    loader: ConfigLoader = args.load_config
    return loader(args)


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigLoader",
    "add_config_arguments",
    "config_from_args",
    "verified_config",
    "vm_from_args",
]
