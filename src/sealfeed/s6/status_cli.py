"""``sealfeed status``: every service's state from s6's supervise status."""

from __future__ import annotations

import argparse

from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--state-dir", default=None, help="a `sealfeed up` state dir")
    where.add_argument(
        "--scandir", default=None, help="a live scandir (default: /run/service, the image's)"
    )
    add_json_flag(parser)
    parser.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sealfeed.errors import InputError
    from sealfeed.output import emit
    from sealfeed.s6.hooks import read_cause
    from sealfeed.s6.local import scandir_path
    from sealfeed.s6.model import IMAGE_RESULTS_DIR, IMAGE_RUN_SERVICE_DIR
    from sealfeed.s6.runtime import image_runtime, local_runtime
    from sealfeed.s6.status import attestation_status, format_table, read_states

    if args.state_dir:
        scandir = scandir_path(args.state_dir)
        results = Path(args.state_dir) / "run" / "s6-linux-init-container-results"
        attestation = local_runtime(args.state_dir).attestation_path
    else:
        scandir = Path(args.scandir or IMAGE_RUN_SERVICE_DIR)
        results = Path(IMAGE_RESULTS_DIR)
        # the run dir holds the scandir (<run>/service) and the attestation document
        attestation = image_runtime(str(scandir.resolve().parent)).attestation_path
    if not scandir.is_dir():
        raise InputError("no scandir here (is the appliance running?)", location=str(scandir))
    states = read_states(scandir, scandir)
    cause = read_cause(results)
    attest = attestation_status(attestation)
    doc = {"scandir": str(scandir), "services": [s.as_dict() for s in states], "cause": cause,
           "attestation": attest}  # fmt: skip
    human = format_table(states)
    if cause:
        human += "\n" + str(cause.get("line"))
    human += f"\nattestation: {attest['summary']}"
    emit(args, doc, human)
    return 0
