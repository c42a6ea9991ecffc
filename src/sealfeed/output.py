"""Result output for commands: one JSON document with ``--json``, human text otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Give a command the shared ``--json`` flag."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly one JSON document on stdout instead of human text",
    )


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def emit(
    args: argparse.Namespace,
    doc: Mapping[str, Any],
    human: str | Callable[[], str] | None = None,
) -> None:
    """Print ``doc`` as JSON when ``--json`` was given, else the human rendering."""
    if wants_json(args):
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
        return
    text = human() if callable(human) else human
    if text is None:
        text = "\n".join(f"{k}: {v}" for k, v in doc.items())
    sys.stdout.write(text.rstrip("\n") + "\n")


__all__ = ["add_json_flag", "emit", "wants_json"]
