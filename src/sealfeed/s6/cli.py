"""``sealfeed s6 render|check`` and the hooks the generated scripts call.

``finish``, ``halt``, ``probe`` and ``log`` are run by the supervision tree itself (finish
scripts, failed oneshots, readiness checks, logger pipelines); they are documented in
docs/s6.md and hidden from the main help.
"""

from __future__ import annotations

import argparse

from sealfeed.errors import ExitCode, SealfeedError
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="s6_command", metavar="SUBCOMMAND")

    p = sub.add_parser(
        "render",
        help="render the s6-rc source tree from the verified config",
        description="Verify the signed configuration, then write the s6-rc source tree "
        "(DIR/s6-rc.d, DIR/scripts, DIR/sealfeed-services.json) atomically. The image's /init "
        "runs this at every boot (ADR 0085) with --layout and --record-cause, so a rejected "
        "configuration leaves its one-line cause and starts nothing.",
    )
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(p, consumer="supervision")
    p.add_argument("--out", required=True, help="directory to (atomically) replace with the tree")
    p.add_argument("--mode", choices=["image", "local"], default="image")
    p.add_argument(
        "--tree-root",
        default=None,
        help="where the tree will live when it runs (default /etc/s6-overlay in image mode, "
        "the --out dir in local mode)",
    )
    p.add_argument(
        "--run-dir",
        default="/run",
        help="the run dir the tree runs under: scandir RUN/service, results "
        "RUN/s6-linux-init-container-results, halt RUN/s6/basedir/bin/halt (default %(default)s)",
    )
    p.add_argument(
        "--layout",
        metavar="LAYOUT_JSON",
        default=None,
        help="refuse (exit 2) a configuration this image was not built for: node count, "
        "ports, directories, accounts (the image's /etc/sealfeed/layout.json; ADR 0101)",
    )
    p.add_argument("--log-dir", default=None, help="log root (default: the config's log_dir)")
    p.add_argument("--chainlink-bin", default="chainlink")
    p.add_argument(
        "--vm",
        default=None,
        help="this VM's name in sealfeed.placement: render only its services (default: env "
        "SEALFEED_VM; required when the placement has several VMs)",
    )
    p.add_argument(
        "--record-cause",
        metavar="RESULTS_DIR",
        default=None,
        help="if the configuration is rejected, write exitcode/cause there too (image: "
        "/run/s6-linux-init-container-results, as /init does)",
    )
    add_json_flag(p)
    p.set_defaults(func=_render)

    c = sub.add_parser("check", help="validate an s6-rc source tree (exit 1 on problems)")
    c.add_argument("dir")
    add_json_flag(c)
    c.set_defaults(func=_check)

    f = sub.add_parser("finish", help="(internal: run by the generated scripts, docs/s6.md)")
    _hook_args(f)
    f.add_argument("--max-restarts", type=int, required=True)
    f.add_argument("--window", type=int, required=True)
    f.add_argument("exit_code", type=int)
    f.add_argument("signal", type=int, nargs="?", default=0)
    f.set_defaults(func=_finish)

    h = sub.add_parser("halt", help="(internal: run by the generated scripts, docs/s6.md)")
    _hook_args(h)
    h.add_argument("--exit-status", type=int, required=True)
    h.add_argument("--captured", default=None, help="the oneshot's captured stderr")
    h.add_argument("--secrets-dir", default=None, help="secret values to redact from it")
    h.set_defaults(func=_halt)

    pr = sub.add_parser("probe", help="readiness probe: exit 0 if URL answers 2xx (tcp:// too)")
    pr.add_argument("url")
    pr.add_argument("--timeout", type=float, default=2.0)
    pr.set_defaults(func=_probe)

    lg = sub.add_parser("log", help="redacting front of an s6-log pipeline (stdin -> s6-log)")
    lg.add_argument("--dir", required=True)
    lg.add_argument("--max-size", type=int, required=True)
    lg.add_argument("--max-files", type=int, required=True)
    lg.add_argument("--user", default=None)
    lg.add_argument("--secrets-dir", default=None)
    lg.set_defaults(func=_log)


def _hook_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", required=True)
    p.add_argument("--run-service-dir", required=True)
    p.add_argument("--results-dir", required=True)
    p.add_argument("--halt", required=True)


def _render(args: argparse.Namespace) -> ExitCode:
    import dataclasses
    from pathlib import Path

    from sealfeed.config.args import verified_config
    from sealfeed.config.placement import is_multi_vm
    from sealfeed.errors import SealfeedError
    from sealfeed.output import emit
    from sealfeed.s6.graph import build_services
    from sealfeed.s6.layout import check_layout, load_layout
    from sealfeed.s6.model import IMAGE_TREE_ROOT, RenderOptions
    from sealfeed.s6.render import render_services
    from sealfeed.s6.runtime import image_runtime
    from sealfeed.s6.tree import write_tree

    out = Path(args.out).resolve()
    try:
        cfg = verified_config(args)
        tree_root = args.tree_root or (str(out) if args.mode == "local" else IMAGE_TREE_ROOT)
        runtime = image_runtime(args.run_dir, tree_root)
        if args.mode == "local":
            runtime = dataclasses.replace(runtime, mode="local")
        opts = runtime.render_options(
            config_path=args.config,
            pubkey_path=args.pubkey or RenderOptions().pubkey_path,
            secrets_dir=args.secrets_dir,
            log_dir=args.log_dir,
            chainlink_bin=args.chainlink_bin,
            drop_privileges=args.mode == "image",
        )
        services = build_services(cfg, opts)
        if args.layout:
            check_layout(cfg, services, load_layout(args.layout))
        if is_multi_vm(cfg):  # the link's plan must derive, or nothing starts
            from sealfeed.link.placement import derive_plan

            derive_plan(cfg, run_dir=opts.link_dir)
    except SealfeedError as err:
        if args.record_cause:
            _record_rejection(args.record_cause, err)
        raise
    tree = render_services(services, cfg, opts)
    write_tree(tree, out)
    names = [s.name for s in tree.services]
    emit(
        args,
        {"ok": True, "out": str(out), "services": names, "files": len(tree.files)},
        f"rendered {len(names)} services ({len(tree.files)} files) into {out}",
    )
    return ExitCode.OK


def _record_rejection(results_dir: str, err: SealfeedError) -> None:
    """The cause record a rejected configuration leaves (first cause wins, hooks.py)."""
    import time

    from sealfeed.s6.hooks import Cause, container_exit_code, record_cause

    code = int(err.exit_code)
    what = f"configuration rejected: {err}"
    cause = Cause("config-verify", what, code, container_exit_code(code, None), None, time.time())
    record_cause(results_dir, cause)


def _check(args: argparse.Namespace) -> ExitCode:
    from sealfeed.output import emit
    from sealfeed.s6.check import check_tree

    problems = check_tree(args.dir)
    emit(
        args,
        {
            "ok": not problems,
            "dir": args.dir,
            "problems": [{"service": p.service, "message": p.message} for p in problems],
        },
        "\n".join(map(str, problems)) if problems else f"{args.dir}: ok",
    )
    return ExitCode.FAILED if problems else ExitCode.OK


def _finish(args: argparse.Namespace) -> int:
    import os

    from sealfeed.config.model import RestartPolicy
    from sealfeed.s6.hooks import KILLED_BY_SIGNAL, finish
    from sealfeed.s6.runtime import ENV_SOURCE_DIR

    sig = args.signal if args.exit_code == KILLED_BY_SIGNAL else None
    return finish(
        service=args.service,
        exit_code=args.exit_code,
        sig=sig,
        policy=RestartPolicy(max_restarts=args.max_restarts, window_seconds=args.window),
        run_service_dir=args.run_service_dir,
        results_dir=args.results_dir,
        halt_how=args.halt,
        # both modes export it (pkgs/init, `sealfeed up`): where the manifest and so the
        # service's log are, for the cause's "last words"
        source_dir=os.environ.get(ENV_SOURCE_DIR),
    )


def _halt(args: argparse.Namespace) -> int:
    from sealfeed.s6.hooks import oneshot_failed

    return oneshot_failed(
        service=args.service,
        status=args.exit_status,
        results_dir=args.results_dir,
        halt_how=args.halt,
        captured=args.captured or None,
        secrets_dir=args.secrets_dir,
    )


def _probe(args: argparse.Namespace) -> ExitCode:
    from sealfeed.s6.hooks import probe

    return ExitCode.OK if probe(args.url, args.timeout) else ExitCode.FAILED


def _log(args: argparse.Namespace) -> int:
    from sealfeed.s6.logpipe import run_log_filter

    return run_log_filter(
        log_dir=args.dir,
        max_size=args.max_size,
        max_files=args.max_files,
        user=args.user,
        secrets_dir=args.secrets_dir,
    )
