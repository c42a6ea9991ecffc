"""``sealfeed attest startup``: the appliance's own quote at start-up (the ``attest``
oneshot, s6/graph.py). Thin glue over :mod:`sealfeed.attest.startup`; the environment
(``SEALFEED_IMAGE_SHA256``, ``SEALFEED_TSM_ROOT``, ``CONFIGURATION_PUBLIC_KEY``) is read here."""

from __future__ import annotations

import argparse
from typing import Any

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag


def register_startup(sub: Any) -> None:
    st = sub.add_parser(
        "startup",
        help="the appliance's own quote at start-up (the `attest` oneshot)",
        description="Verify the signed configuration, learn the image digest (the platform's "
        "workloadInfo, else --image-sha256 / env SEALFEED_IMAGE_SHA256; ADR 0130), read the "
        "secrets-import public key, ask configfs-tsm for a quote whose report_data binds "
        "image + configuration + import key, and write the attestation document (served by "
        "the exporter at GET /attestation). Without TDX or without an image digest the "
        "document says so and carries no quote; exit 0 either way unless --require.",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(st, consumer="supervision")
    st.add_argument("--out", required=True, help="where to write the attestation document")
    st.add_argument(
        "--image-sha256",
        default=None,
        help="the image archive sha256, when the platform does not say it (default: env "
        "SEALFEED_IMAGE_SHA256)",
    )
    st.add_argument(
        "--order-report",
        default=None,
        help="Super Protocol workloadInfo (default: /sp/certs/order_report.json when present)",
    )
    st.add_argument("--import-key", default=None, help="the secrets-import public key file")
    st.add_argument(
        "--tsm-root",
        default=None,
        help="configfs-tsm report dir (default: env SEALFEED_TSM_ROOT or the kernel's)",
    )
    st.add_argument("--pccs", default=None, help="PCCS URL to name in the document (a hint)")
    st.add_argument(
        "--require", action="store_true", help="exit 1 when the appliance is not attested"
    )
    add_json_flag(st)
    st.set_defaults(func=cmd_startup)


def cmd_startup(args: argparse.Namespace) -> ExitCode:
    import json
    import os
    import sys

    from sealfeed.attest.startup import (
        ENV_IMAGE_SHA256,
        SP_ORDER_REPORT,
        attest_at_startup,
        find_image_digest,
        read_import_key,
        write_document,
    )
    from sealfeed.attest.tsm import TSM_REPORT_ROOT
    from sealfeed.config.loader import load_and_verify, trust_from_args
    from sealfeed.output import emit

    trust = trust_from_args(args.pubkey, os.environ)
    verified = load_and_verify(args.config, trust, read_secrets=False)  # fail closed
    report = args.order_report or (str(SP_ORDER_REPORT) if SP_ORDER_REPORT.exists() else None)
    image = find_image_digest(
        operator=args.image_sha256 or os.environ.get(ENV_IMAGE_SHA256) or None,
        order_report=report,
    )
    doc = attest_at_startup(
        config_hash=verified.config_hash,
        image=image,
        import_key=read_import_key(args.import_key),
        tsm_root=args.tsm_root or os.environ.get("SEALFEED_TSM_ROOT") or TSM_REPORT_ROOT,
        pccs_url=args.pccs,
    )
    write_document(args.out, doc)
    if image.conflict:
        sys.stderr.write(
            f"sealfeed attest: warning: {ENV_IMAGE_SHA256}={image.conflict} differs from the "
            f"platform's image digest {image.sha256}; the platform's is bound\n"
        )
    # One line in the container log: on a platform without inbound connections (Super
    # Protocol) this is how the operator obtains the document (all of it is public).
    sys.stderr.write(
        "sealfeed-attestation: " + json.dumps(doc.to_json(), separators=(",", ":")) + "\n"
    )
    emit(args, {"out": args.out, **doc.to_json()}, f"{doc.summary()}\nwritten to {args.out}")
    if args.require and not doc.attested:
        return ExitCode.FAILED
    return ExitCode.OK


__all__ = ["cmd_startup", "register_startup"]
