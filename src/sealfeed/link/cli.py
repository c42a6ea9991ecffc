"""``sealfeed link serve|status|check-plan|measurements`` (thin glue; docs/link.md)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sealfeed.errors import ExitCode
from sealfeed.output import add_json_flag

_STATUS_ENV = "SEALFEED_LINK_STATUS"
#: the image's link directory (sealfeed.s6.runtime.Runtime.link_dir)
_RUN_DIR = "/run/sealfeed/link"


def _vm_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vm",
        default=None,
        help="this VM's name in sealfeed.placement (default: env SEALFEED_VM)",
    )


def _status_default() -> str:
    from sealfeed.link.status import DEFAULT_STATUS_PATH

    return os.environ.get(_STATUS_ENV, DEFAULT_STATUS_PATH)


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Attested links between the VMs of one DON: every cross-VM connection goes through\n"
        "a local tunnel endpoint and a mutual TLS 1.3 channel where both sides present a\n"
        "TDX quote binding their ephemeral key and the verified configuration hash, and\n"
        "verify each other's (DCAP + allowed measurements + same configuration + TCB\n"
        "policy). Re-attested in band every reattest period. See docs/link.md."
    )
    sub = parser.add_subparsers(dest="link_command", metavar="SUBCOMMAND")

    serve = sub.add_parser(
        "serve",
        help="run this VM's link: attested listener, tunnel endpoints, probes",
        description='Run the link of one VM from a plan (JSON, docs/link.md "Plan"). '
        "The configuration must verify (fail closed): its hash is what this VM's quotes "
        "bind and what every peer must present.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  sealfeed link serve --plan /etc/sealfeed/link-plan.json "
        "--config configuration.json --pubkey owner.pub",
    )
    serve.add_argument(
        "--plan",
        default=None,
        help="a plan file (JSON); default: derived from the configuration's "
        "sealfeed.placement for this VM (--vm)",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(serve)
    _vm_argument(serve)
    serve.add_argument(
        "--run-dir",
        default=None,
        help=f"the link's directory: status.json, public/ (documents served to peers), "
        f"peers/ (documents fetched from them), pccs/ (collateral cache); default "
        f"{_RUN_DIR} with a derived plan",
    )
    serve.add_argument(
        "--tsm-root",
        default=os.environ.get("SEALFEED_TSM_ROOT"),
        help="configfs-tsm report directory (default: env SEALFEED_TSM_ROOT, else "
        "/sys/kernel/config/tsm/report)",
    )
    serve.add_argument(
        "--status-file",
        default=None,
        help=f"status file for `sealfeed link status` (default: RUN_DIR/status.json, else env "
        f"{_STATUS_ENV} or {_RUN_DIR}/status.json)",
    )
    serve.add_argument(
        "--notify-fd", type=int, default=None, help="s6 readiness: write a newline once serving"
    )
    serve.add_argument(
        "--user",
        default=None,
        metavar="ACCOUNT",
        help="start as root, fork the quote helper (the only part that keeps root: it signs "
        "identity quotes for the configuration it verified itself, nothing else), hand "
        "RUN_DIR to ACCOUNT and run as ACCOUNT (ADR 0145; the image does this with "
        "sealfeed-link)",
    )
    serve.add_argument(
        "--no-push",
        action="store_true",
        help="do not push metrics (default: push with the exporter's metrics_push settings, "
        "job sealfeed-link)",
    )
    serve.set_defaults(func=_serve)

    status = sub.add_parser(
        "status",
        help="show every peer: verified, last verification, tunnels, last failure",
        description="Read the running link's status file.",
    )
    status.add_argument("--status-file", default=_status_default(), help="(default: %(default)s)")
    add_json_flag(status)
    status.set_defaults(func=_status)

    check = sub.add_parser(
        "check-plan",
        help="validate a plan and its measurements allow-list",
        description="Validate a link plan (and the allow-list it references) without "
        "running anything; prints the summary.",
    )
    check.add_argument("plan", help="the link plan (JSON)")
    add_json_flag(check)
    check.set_defaults(func=_check_plan)

    plan = sub.add_parser(
        "plan",
        help="show the plan a VM derives from the configuration's placement",
        description="Verify the configuration and print the link plan VM --vm derives from "
        "sealfeed.placement and sealfeed.link: its listener, the tunnel endpoints of every "
        "peer's nodes, the targets it serves, whom it admits. What an operator or auditor "
        "checks before deploying.",
        epilog="example:\n  sealfeed link plan --config configuration.json --pubkey owner.pub "
        "--vm vm-b",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(plan)
    _vm_argument(plan)
    add_json_flag(plan)
    plan.set_defaults(func=_plan)

    meas = sub.add_parser(
        "measurements",
        help="print a quote's MRTD/RTMRs as a cvm-reverse-proxy measurements entry",
        description="Turn a quote into an allow-list entry (the measurements JSON format "
        "of flashbots/cvm-reverse-proxy, dcap-tdx: 0 = MRTD, 1..4 = RTMR0..3), to build "
        "or share the list peers are admitted by.",
    )
    meas.add_argument("quote", help="raw quote file (binary or hex)")
    meas.add_argument("--id", default="sealfeed", help="measurement_id (default: %(default)s)")
    meas.add_argument(
        "--json", action="store_true", help="accepted for uniformity: the output is always JSON"
    )
    meas.set_defaults(func=_measurements)


def _serve(args: argparse.Namespace) -> ExitCode:
    import asyncio
    import functools
    import time

    from sealfeed.attest.tsm import TSM_REPORT_ROOT, request_quote
    from sealfeed.config.loader import trust_from_args
    from sealfeed.errors import InputError
    from sealfeed.link.collateral import CollateralProvider
    from sealfeed.link.configuration import verified_configuration
    from sealfeed.link.identity import PeerQuoter, direct_quoter
    from sealfeed.link.placement import derive_plan
    from sealfeed.link.plan import load_plan
    from sealfeed.link.privsep import (
        QuoteHelper,
        drop_privileges,
        hand_over_dir,
        start_quote_helper,
    )
    from sealfeed.link.service import LinkService

    if args.notify_fd is not None and args.notify_fd < 0:
        raise InputError("must be a file descriptor number", location="--notify-fd")
    run_dir = args.run_dir or (None if args.plan else _RUN_DIR)
    status_file = args.status_file or (
        os.path.join(run_dir, "status.json") if run_dir else _status_default()
    )
    helper: QuoteHelper | None = None
    if args.user:
        # before the configuration, any secret or any socket exists in this process
        if os.geteuid() == 0:
            helper = start_quote_helper(functools.partial(_helper_settings, args))
            hand_over_dir(run_dir or os.path.dirname(os.path.abspath(status_file)), args.user)
        drop_privileges(args.user)
    try:
        cfg, config_hash = verified_configuration(
            args.config, trust_from_args(args.pubkey, os.environ), secrets_dir=args.secrets_dir
        )
        if args.plan:
            plan = load_plan(args.plan)
        else:
            cfg = _vm_view(cfg, args)
            plan = derive_plan(cfg, run_dir=run_dir or _RUN_DIR)
        quoter: PeerQuoter
        if helper is not None:
            helper.expect(config_hash)  # it binds the hash it verified: it must be ours
            quoter = helper
        else:
            tsm_quote = functools.partial(request_quote, root=args.tsm_root or TSM_REPORT_ROOT)
            quoter = direct_quoter(tsm_quote, config_hash)
        svc = LinkService(
            plan,
            config_hash=config_hash,
            quoter=quoter,
            collateral=CollateralProvider(plan.collateral, clock=time.time),
            status_path=status_file,
            pushes=() if args.no_push else (cfg.exporter.push,),
            labels=cfg.monitoring,
        )
        notify = (
            functools.partial(_notify_ready, args.notify_fd) if args.notify_fd is not None else None
        )
        asyncio.run(svc.run(notify=notify))
    finally:
        if helper is not None:
            helper.close()
    return ExitCode.OK


def _helper_settings(args: argparse.Namespace) -> Any:
    """In the quote helper (root, forked before the link read anything): verify the
    configuration itself -- its hash is what every quote will bind -- and take the
    re-attestation period that paces the quotes. No secret file is read."""
    from sealfeed.attest.tsm import TSM_REPORT_ROOT
    from sealfeed.config.loader import load_and_verify, trust_from_args
    from sealfeed.link.placement import derive_plan
    from sealfeed.link.plan import load_plan
    from sealfeed.link.privsep import HelperSettings

    verified = load_and_verify(
        args.config, trust_from_args(args.pubkey, os.environ), read_secrets=False
    )
    if args.plan:
        plan = load_plan(args.plan)
    else:
        plan = derive_plan(_vm_view(verified.config, args), run_dir=args.run_dir or _RUN_DIR)
    return HelperSettings(
        config_hash=verified.config_hash,
        tsm_root=str(args.tsm_root or TSM_REPORT_ROOT),
        reattest_seconds=plan.reattest_seconds,
    )


def _vm_view(cfg: Any, args: argparse.Namespace) -> Any:
    """The configuration as VM ``--vm`` (or env SEALFEED_VM) runs it; a multi-VM placement
    without a VM name is an input error (the link must know which VM it is)."""
    from sealfeed.config.args import vm_from_args
    from sealfeed.config.placement import local_view, require_vm

    view = local_view(cfg, vm_from_args(args), location="--vm")
    require_vm(view, view.vm, location="--vm")
    return view


def _plan(args: argparse.Namespace) -> ExitCode:
    from sealfeed.config.args import verified_config
    from sealfeed.link.placement import derive_plan
    from sealfeed.link.plan import plan_summary
    from sealfeed.output import emit

    cfg = _vm_view(verified_config(args), args)
    summary = plan_summary(derive_plan(cfg, run_dir=_RUN_DIR))
    emit(args, {"ok": True, **summary}, lambda: _plan_lines(f"vm {cfg.vm}: derived", summary))
    return ExitCode.OK


def _plan_lines(title: str, summary: dict[str, Any]) -> str:
    lines = [title, f"vm {summary['vm']}, listen {summary['listen']}"]
    for p in summary["peers"]:
        fw = ", ".join(f"{f['listen']} -> {f['target']}" for f in p["forward"]) or "-"
        lines.append(f"  peer {p['name']} at {p['address']}: {fw}")
    for name, addr in summary["targets"].items():
        lines.append(f"  serves {name} -> {addr}")
    if summary.get("documents"):
        lines.append(f"  publishes {', '.join(summary['documents'])} to verified peers")
    lines.append(
        f"  admits {', '.join(summary['measurements'])}; TCB "
        f"{', '.join(summary['accepted_tcb_statuses'])}; re-attest every "
        f"{summary['reattest_seconds']:g} s"
    )
    return "\n".join(lines)


def _notify_ready(fd: int) -> None:
    """s6 readiness protocol: a newline on the notification fd, then close it."""
    from sealfeed.errors import InputError

    try:
        os.write(fd, b"\n")
        os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot write readiness to fd {fd}: {exc.strerror}",
                         location="--notify-fd") from None  # fmt: skip


def _status(args: argparse.Namespace) -> ExitCode:
    from sealfeed.link.status import format_status, read_status
    from sealfeed.output import emit

    doc = read_status(args.status_file)
    emit(args, doc, lambda: format_status(doc))
    return ExitCode.OK


def _check_plan(args: argparse.Namespace) -> ExitCode:
    from sealfeed.link.plan import load_plan, plan_summary
    from sealfeed.output import emit

    summary = plan_summary(load_plan(args.plan))
    emit(args, {"ok": True, **summary}, lambda: _plan_lines(f"plan {args.plan}: ok", summary))
    return ExitCode.OK


def _measurements(args: argparse.Namespace) -> ExitCode:
    import json
    import sys

    from sealfeed.attest.files import read_quote_file
    from sealfeed.attest.quote import parse_quote
    from sealfeed.errors import InputError
    from sealfeed.link.measurements import entry_json

    q = parse_quote(read_quote_file(args.quote))
    td = q.td_report
    if td is None:
        raise InputError("an SGX quote has no TD measurements", location=args.quote)
    expected = dict(enumerate((td.mr_td, *td.rtmrs)))
    sys.stdout.write(json.dumps([entry_json(args.id, expected)], indent=2) + "\n")
    return ExitCode.OK


__all__ = ["register"]
