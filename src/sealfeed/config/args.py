"""CLI glue shared by every service command: where the config is and how it is trusted.

This module is part of the CLI layer (argparse in, argparse out; imported only by
``*/cli.py`` modules): it is where the environment (``CONFIGURATION_PATH``,
``CONFIGURATION_PUBLIC_KEY``, ``SP_SECRETS_DIR``) is read and handed to the library, which
never reads ``os.environ`` itself (:func:`sealfeed.config.loader.trust_from_args` takes it).
"""

from __future__ import annotations

import argparse
import os

from sealfeed.config.model import ApplianceConfig

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


def config_from_args(args: argparse.Namespace) -> ApplianceConfig:
    """Load and verify the configuration named by :func:`add_config_arguments` (fail closed),
    reading only the secret files of the consumer the command declared there."""
    from sealfeed.config.loader import load_verified_config, trust_from_args

    return load_verified_config(
        args.config,
        trust_from_args(args.pubkey, os.environ),
        secrets_dir=args.secrets_dir,
        consumer=getattr(args, "secrets_consumer", None),
    )


__all__ = ["DEFAULT_CONFIG_PATH", "add_config_arguments", "config_from_args"]
