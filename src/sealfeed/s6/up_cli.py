"""``sealfeed up``: run the whole appliance locally under a real s6-svscan."""

from __future__ import annotations

import argparse

from sealfeed.errors import InputError
from sealfeed.output import add_json_flag


def register(parser: argparse.ArgumentParser) -> None:
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(parser, consumer="supervision")
    parser.add_argument(
        "--state-dir", required=True, help="where the tree, scandir, logs and results go"
    )
    parser.add_argument(
        "--chainlink-bin",
        default=None,
        help="Chainlink binary (default: `chainlink` on PATH; without one the node services "
        "are reported as skipped)",
    )
    parser.add_argument("--log-dir", default=None, help="log root (default: STATE/log)")
    parser.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="SERVICE=CMDLINE",
        help="replace a service's command line (shell-quoted; repeatable), e.g. to run a "
        "component from another checkout",
    )
    parser.add_argument(
        "--embedded-defaults",
        action="store_true",
        help="local demo: create STATE/config with the embedded example configuration "
        "(N nodes), sign it with a fresh local key and use it -- no /sp paths needed",
    )
    parser.add_argument(
        "--nodes", type=int, default=5, help="with --embedded-defaults: node count (default 5)"
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop (in order) as soon as everything is ready: a start-up smoke test",
    )
    add_json_flag(parser)
    parser.set_defaults(func=_up)


def parse_overrides(items: list[str]) -> dict[str, tuple[str, ...]]:
    import shlex

    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        name, sep, cmdline = item.partition("=")
        if not sep or not name or not cmdline.strip():
            raise InputError(f"expected SERVICE=CMDLINE, got {item!r}", location="--command")
        try:
            out[name.strip()] = tuple(shlex.split(cmdline))
        except ValueError as exc:
            raise InputError(f"{name}: {exc}", location="--command") from None
    return out


def _up(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from sealfeed.config.args import config_from_args
    from sealfeed.errors import SealfeedError
    from sealfeed.output import emit
    from sealfeed.s6.hooks import Cause, container_exit_code, record_cause
    from sealfeed.s6.up import UpOptions, run_up

    state = Path(args.state_dir).resolve()
    commands = parse_overrides(args.command)  # usage errors before anything else
    if args.embedded_defaults:
        from sealfeed.s6.embedded import write_embedded_config

        args.config, args.pubkey, args.secrets_dir = write_embedded_config(state, args.nodes)
        sys.stderr.write(f"sealfeed up: embedded defaults signed into {args.config}\n")
    try:
        cfg = config_from_args(args)
    except SealfeedError as err:
        # fail closed, and leave the same cause record the tree would have left
        code = container_exit_code(int(err.exit_code), None)
        record_cause(
            state / "run" / "s6-linux-init-container-results",
            Cause(
                "config-verify",
                f"configuration rejected: {err}",
                int(err.exit_code),
                code,
                None,
                time.time(),
            ),
        )
        raise

    def absolute(path: str | None) -> str | None:
        # services run with cwd = their service dir: relative paths would not resolve
        return str(Path(path).resolve()) if path else None

    opts = UpOptions(
        state_dir=state,
        config_path=str(absolute(args.config)),
        pubkey_path=absolute(args.pubkey),
        secrets_dir=absolute(args.secrets_dir),
        chainlink_bin=args.chainlink_bin,
        commands=commands,
        log_dir=args.log_dir,
        ready_timeout=args.ready_timeout,
    )

    def on_ready(app: object) -> None:
        sys.stderr.write("sealfeed up: all services ready\n")
        if args.exit_when_ready:
            app.request_stop()  # type: ignore[attr-defined]

    result = run_up(cfg, opts, on_ready=on_ready)
    doc = result.as_dict()
    lines = [f"sealfeed up: stopped, exit code {result.exit_code}"]
    if result.cause:
        lines.append(str(result.cause.get("line")))
    for s in result.skipped:
        lines.append(f"skipped {s.service}: {s.reason}")
    if result.ready_seconds is not None:
        lines.append(f"all services were ready after {result.ready_seconds:.2f} s")
    if result.leftovers:
        lines.append(f"killed leftover processes: {result.leftovers}")
    emit(args, doc, "\n".join(lines))
    return result.exit_code
