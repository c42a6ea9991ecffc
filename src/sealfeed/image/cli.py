"""``sealfeed image measure`` and ``sealfeed image diff``."""

from __future__ import annotations

import argparse

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag, emit


def _measure(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from sealfeed.fsutil import atomic_write
    from sealfeed.image.archive import read_archive
    from sealfeed.image.measure import measurement, render_human, render_json

    doc = measurement(read_archive(args.image))
    if args.write:
        out = Path(args.write)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create directory: {exc.strerror}", location=str(out.parent)
            ) from None
        atomic_write(out, render_json(doc).encode("utf-8"), mode=0o644)
    emit(
        args, doc, lambda: render_human(doc) + (f"\nwritten to {args.write}" if args.write else "")
    )
    return ExitCode.OK


def _diff(args: argparse.Namespace) -> ExitCode:
    from sealfeed.image.archive import read_archive
    from sealfeed.image.diff import diff_archives

    if args.limit < 1:
        raise InputError("--limit must be at least 1", location="--limit")
    report = diff_archives(read_archive(args.a), read_archive(args.b), limit=args.limit)
    emit(args, report.as_dict(), report.human)
    return ExitCode.OK if report.identical else ExitCode.FAILED


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_command", metavar="SUBCOMMAND")

    m = sub.add_parser(
        "measure",
        help="digests of an image archive (archive SHA-256, manifest, config, diff_ids)",
        description=(
            "Read a docker-archive or OCI layout (tar or tar.gz) and print the archive's "
            "SHA-256 (what Super Protocol records), the OCI manifest and config digests, the "
            "layer diff_ids, the total size and a per-layer file count. Exit 2 on a malformed "
            "archive."
        ),
    )
    m.add_argument("image", metavar="IMAGE", help="image archive: docker save / OCI layout tar")
    m.add_argument(
        "--write",
        metavar="PATH",
        help="also write the measurement JSON there (attest/measurements/<version>.json)",
    )
    add_json_flag(m)
    m.set_defaults(func=_measure)

    d = sub.add_parser(
        "diff",
        help="explain why two image archives differ (exit 0 identical, 1 different)",
        description=(
            "Compare two image archives bit for bit and explain every difference: gzip "
            "header, outer tar, manifest, config fields (created, history, Env order) and, per "
            "layer and path, content, mode, uid/gid, mtime, link target and member order. "
            "Exit 0 when bit-identical, 1 when different, 2 on malformed input."
        ),
    )
    d.add_argument("a", metavar="A", help="first image archive")
    d.add_argument("b", metavar="B", help="second image archive")
    d.add_argument(
        "--limit",
        type=int,
        default=200,
        help="list at most this many differences per section (default 200)",
    )
    add_json_flag(d)
    d.set_defaults(func=_diff)


__all__ = ["register"]
