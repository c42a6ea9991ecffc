"""``sealfeed status``: the whole appliance from what its supervision tree writes."""

from __future__ import annotations

import argparse
from pathlib import Path

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Show the appliance and every one of its services: running or not (and which "
        "`sealfeed up` owns it), each service's state, pid, uptime, restarts and last exit "
        "(code, signal, time), the services that were skipped and why, and the recorded "
        "stop cause with the failing service's own last words. Reads files only; safe to "
        "run at any time, also after the appliance stopped. Exit 0 whenever it could report."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--state-dir",
        default=None,
        help="a `sealfeed up` state dir (default: the per-user one `sealfeed up` uses, "
        "$XDG_STATE_HOME/sealfeed/up or ~/.local/state/sealfeed/up; /var/lib/sealfeed/up "
        "for root)",
    )
    where.add_argument(
        "--scandir",
        default=None,
        help="a live scandir of the image's /init (e.g. /run/service); the service list "
        "comes from the tree in $SEALFEED_S6_SOURCE_DIR, /run/s6/tree or /etc/s6-overlay",
    )
    add_json_flag(parser)
    parser.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> ExitCode:
    import os

    from sealfeed.errors import InputError
    from sealfeed.output import emit
    from sealfeed.s6.model import IMAGE_RUN_DIR, IMAGE_TREE_ROOT
    from sealfeed.s6.render import MANIFEST
    from sealfeed.s6.runtime import ENV_SOURCE_DIR, image_runtime, local_runtime
    from sealfeed.s6.statedir import default_state_dir
    from sealfeed.s6.status import collect

    if args.scandir is None:
        state = Path(
            args.state_dir or default_state_dir(os.environ, os.geteuid(), os.path.expanduser("~"))
        ).resolve()
        if not state.is_dir():
            raise InputError(
                "no `sealfeed up` state dir here (start one with `sealfeed up`, or pass "
                "--state-dir DIR, or --scandir for the image's tree)",
                location=str(state),
            )
        rt = local_runtime(state)
        report = collect(
            scandir=Path(rt.scandir),
            results_dir=Path(rt.results_dir),
            run_dir=Path(rt.run_dir),
            manifest_path=Path(rt.tree_root) / MANIFEST,
            state_dir=state,
            attestation_path=Path(rt.attestation_path),
        )
    else:
        scandir = Path(args.scandir)
        if not scandir.is_dir():
            raise InputError("no scandir here (is the appliance running?)", location=str(scandir))
        run_dir = scandir.resolve().parent
        rt = image_runtime(str(run_dir) if run_dir != Path("/") else IMAGE_RUN_DIR)
        candidates = [Path(rt.run_dir) / "s6" / "tree", Path(IMAGE_TREE_ROOT)]
        if os.environ.get(ENV_SOURCE_DIR):
            candidates.insert(0, Path(os.environ[ENV_SOURCE_DIR]).parent)
        manifest = next((c / MANIFEST for c in candidates if (c / MANIFEST).is_file()), None)
        report = collect(
            scandir=scandir,
            results_dir=Path(rt.results_dir),
            run_dir=Path(rt.run_dir),
            manifest_path=manifest,
            active=_s6rc_active(Path(rt.live_dir)),
            attestation_path=Path(rt.attestation_path),
        )
    doc = report.as_dict()
    human = report.human()
    link = _link_status(Path(rt.link_dir))
    if link is not None:  # a VM of a DON placed on several: its peers (docs/link.md)
        from sealfeed.link import format_status

        doc["link"] = link
        human += "\n\n" + format_status(link)
    emit(args, doc, human)
    return ExitCode.OK


def _link_status(link_dir: Path) -> dict[str, object] | None:
    """The link's status document when this appliance runs one (else None)."""
    from sealfeed.link import read_status

    path = link_dir / "status.json"
    return read_status(path) if path.exists() else None


def _s6rc_active(live: Path) -> frozenset[str] | None:
    """What s6-rc says is up (``s6-rc -l LIVE -a list``, read-only): in the image a oneshot
    has no supervise dir, s6-rc's live state is the only record that it ran."""
    import shutil
    import subprocess

    if not live.is_dir() or shutil.which("s6-rc") is None:
        return None
    try:
        out = subprocess.run(
            ["s6-rc", "-l", str(live), "-a", "list"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return frozenset(ln.strip() for ln in out.stdout.splitlines() if ln.strip())
