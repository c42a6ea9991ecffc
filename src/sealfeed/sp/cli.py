"""``sealfeed sp ...``: Super Protocol deployment assets."""

from __future__ import annotations

import argparse

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sp_command", metavar="SUBCOMMAND")
    p = sub.add_parser(
        "resource",
        help="write resource.json (image hash) for an image measurement",
        description="Write the Super Protocol resource.json for an image: the archive's "
        "SHA-256 from `sealfeed image measure`, and the order id once the order exists. If "
        "--out already exists (the file `spctl files upload` wrote), its encryption and "
        "storage blocks are kept and only our fields are added.",
    )
    p.add_argument("--image-measurement", required=True, help="attest/measurements/<version>.json")
    p.add_argument("--out", default="resource.json", help="output file (default %(default)s)")
    p.add_argument("--order-id", type=int, help="Super Protocol order id")
    p.add_argument("--filename", help="image archive file name as uploaded")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a different image hash already recorded in --out",
    )
    add_json_flag(p)
    p.set_defaults(func=_resource)

    p = sub.add_parser(
        "check-report",
        help="verify an order report's certificate chain, TDX challenge, TD measurement "
        "and workload binding",
        description="Verify a `spctl orders get-report --save-to` file with the same rules "
        "`sealfeed verify --order-report` applies to it: the TEE certificate chain to the "
        "Super Protocol CA, a TDX challenge on every certificate of the chain, the TD "
        "measurement on the TEE loader's signed allow-list (needs --tee-loader-cert and "
        "--sp-signatures; without them the report is not accepted) and the workloadInfo "
        "hash. Use `sealfeed verify` for the whole chain (image, configuration, quote). "
        "Exit 0 accepted, 1 rejected, 2 bad input.",
    )
    p.add_argument("report", metavar="REPORT")
    p.add_argument("--sp-ca", required=True, help="Super Protocol root CA (PEM)")
    p.add_argument("--tee-loader-cert", help="TEE loader certificate (PEM)")
    p.add_argument("--sp-signatures", help="sp-vm signatures/ directory")
    p.add_argument("--at", help="verification time (ISO-8601 or epoch seconds; default now)")
    add_json_flag(p)
    p.set_defaults(func=_check_report)


def _resource(args: argparse.Namespace) -> ExitCode:
    import json
    from pathlib import Path

    from sealfeed.errors import InputError
    from sealfeed.fsutil import atomic_write
    from sealfeed.image.measure import load_measurement
    from sealfeed.output import emit
    from sealfeed.sp.resource import merge_resource, resource_document

    measurement = load_measurement(args.image_measurement).raw
    doc = resource_document(measurement, order_id=args.order_id, filename=args.filename)
    out = Path(args.out)
    if out.exists():  # the file `spctl files upload` wrote: keep its encryption/storage blocks
        try:
            existing = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"existing file is not JSON: {exc}", location=str(out)) from None
        if not isinstance(existing, dict):
            raise InputError("existing file is not a JSON object", location=str(out))
        doc = merge_resource(existing, doc, force=args.force)
    atomic_write(out, json.dumps(doc, indent=2) + "\n")
    emit(
        args, {"written": args.out, **doc}, f"wrote {args.out}: image sha256 {doc['hash']['hash']}"
    )
    return ExitCode.OK


def _check_report(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from sealfeed.output import emit
    from sealfeed.sp import SpAnchors, check_order_report, load_certificate, load_order_report
    from sealfeed.timearg import parse_at

    report = load_order_report(args.report)
    at = parse_at(args.at)
    anchors = SpAnchors(
        ca=load_certificate(args.sp_ca, "--sp-ca"),
        tee_loader_cert=load_certificate(args.tee_loader_cert, "--tee-loader-cert")
        if args.tee_loader_cert
        else None,
        signatures_dir=Path(args.sp_signatures) if args.sp_signatures else None,
    )
    result = check_order_report(report, anchors, at)
    checks = result.checks
    doc = {
        "ok": result.ok,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
    }
    emit(args, doc, "\n".join(f"[{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in checks))
    return ExitCode.OK if result.ok else ExitCode.FAILED
