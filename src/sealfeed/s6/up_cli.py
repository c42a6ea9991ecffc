"""``sealfeed up``: run the whole appliance locally under a real s6-svscan."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sealfeed.errors import InputError
from sealfeed.output import add_json_flag

if TYPE_CHECKING:
    from sealfeed.s6.model import Skipped

DESCRIPTION = """\
Run the whole appliance on this machine under a real s6-svscan: config-verify (nothing
starts unless the signature verifies), PostgreSQL, the price aggregator, the process-metrics
exporter and, with a `chainlink` binary, the Chainlink nodes -- each after its dependencies
are ready, each restarted on a crash within the restart budget.

Progress goes to stderr, one line per service as it becomes ready, then
"sealfeed up: all services ready" with the addresses. `sealfeed status` shows every service
meanwhile (another terminal). Ctrl-C or SIGTERM (kill -TERM PID of this command) stops
everything in reverse dependency order; so does a kill -9 of this command (the supervision
tree is told by the kernel and stops itself in order).

Exit code: 0 after a requested stop; otherwise the container exit code of the recorded
cause -- the failing service's own exit code, 128+N if signal N killed it (137: SIGKILL) --
with the cause on the last line; 2 if the state dir is in use (nothing is changed then) or
unusable, 3 if s6 or PostgreSQL is missing.
"""

EPILOG = """\
examples:
  sealfeed up --embedded-defaults                       # local demo, per-user state dir
  sealfeed up --embedded-defaults --aggregator-port 3100 --exporter-port 3103
  sealfeed up --embedded-defaults --source-url binance=http://127.0.0.1:18080
  sealfeed up --config conf.json --pubkey owner.pub --state-dir /srv/sealfeed
"""


def register(parser: argparse.ArgumentParser) -> None:
    from sealfeed.config.args import add_config_arguments

    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_config_arguments(parser, consumer="supervision")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="where the tree, scandir, logs, results and (with --embedded-defaults) the "
        "configuration go; one appliance per state dir (default: $XDG_STATE_HOME/sealfeed/up, "
        "i.e. ~/.local/state/sealfeed/up; /var/lib/sealfeed/up for root)",
    )
    parser.add_argument(
        "--chainlink-bin",
        default=None,
        help="Chainlink binary (default: `chainlink` on PATH; without one the node services "
        "are reported as skipped)",
    )
    parser.add_argument("--log-dir", default=None, help="log root (default: STATE/log)")
    parser.add_argument(
        "--vm",
        default=None,
        help="run one VM of a DON placed on several (sealfeed.placement): its nodes, "
        "PostgreSQL for them, its aggregator, exporter and attested link (default: env "
        "SEALFEED_VM)",
    )
    parser.add_argument(
        "--command",
        action="append",
        default=[],
        metavar="SERVICE=CMDLINE",
        help="replace a service's command line (shell-quoted; repeatable), e.g. to run a "
        "component from another checkout",
    )
    demo = parser.add_argument_group("local demo (--embedded-defaults)")
    demo.add_argument(
        "--embedded-defaults",
        action="store_true",
        help="create STATE/config with the embedded example configuration (N nodes), sign it "
        "with a fresh local key and use it -- no /sp paths needed",
    )
    demo.add_argument("--nodes", type=int, default=5, help="node count (default 5)")
    demo.add_argument(
        "--aggregator-port", type=_port, default=None, help="price aggregator port (default 3000)"
    )
    demo.add_argument(
        "--exporter-port", type=_port, default=None, help="process-metrics port (default 3003)"
    )
    demo.add_argument(
        "--source-url",
        action="append",
        default=[],
        metavar="SOURCE=URL",
        help="REST base URL of a price source (repeatable), e.g. a local fake upstream "
        "(scripts/fake_exchange.py): without internet every quote is 503",
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds (default %(default)s)"
    )
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop (in order) as soon as everything is ready: a start-up smoke test",
    )
    add_json_flag(parser)
    parser.set_defaults(func=_up)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, got {port}")
    return port


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


def parse_source_urls(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.startswith(("http://", "https://")):
            raise InputError(
                f"expected SOURCE=http(s)://HOST:PORT, got {item!r}", location="--source-url"
            )
        out[name.strip()] = url
    return out


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """One line per reason: ``skipped A, B, C: why``."""
    by_reason: dict[str, list[str]] = {}
    for s in skipped:
        by_reason.setdefault(s.reason, []).append(s.service)
    return [f"skipped {', '.join(names)}: {why}" for why, names in by_reason.items()]


def _demo_only(args: argparse.Namespace) -> None:
    used = [
        flag
        for flag, value in (
            ("--aggregator-port", args.aggregator_port),
            ("--exporter-port", args.exporter_port),
            ("--source-url", args.source_url),
        )
        if value
    ]
    if used and not args.embedded_defaults:
        raise InputError(
            f"{', '.join(used)} change the embedded demo configuration only; for your own "
            "configuration set priceAggregatorConfig.port / sealfeed.exporter.port / "
            "priceAggregatorConfig.sources.NAME.baseUrl and sign it again",
            location=used[0],
        )


def _up(args: argparse.Namespace) -> int:
    import os
    import sys
    import time
    from pathlib import Path

    from sealfeed.config.args import verified_config
    from sealfeed.config.placement import is_multi_vm, require_vm
    from sealfeed.errors import SealfeedError
    from sealfeed.output import emit
    from sealfeed.s6.hooks import Cause, container_exit_code, record_cause
    from sealfeed.s6.statedir import default_state_dir
    from sealfeed.s6.up import Appliance, UpOptions, claim_state_dir, run_up

    def say(line: str) -> None:
        sys.stderr.write(f"sealfeed up: {line}\n")
        sys.stderr.flush()

    # usage errors before anything else
    commands = parse_overrides(args.command)
    sources = parse_source_urls(args.source_url)
    _demo_only(args)
    explicit = args.state_dir is not None
    state = Path(
        args.state_dir or default_state_dir(os.environ, os.geteuid(), os.path.expanduser("~"))
    ).resolve()
    say(f"state dir {state}" + ("" if explicit else " (per-user default; --state-dir to change)"))
    if args.embedded_defaults:
        # before anything is created: can PostgreSQL's account (as root: `postgres`) get to
        # its data dir below the state dir? (A configuration's own dirs: checked at render.)
        Appliance.check_state_reachable(state)
    # one appliance per state dir: refused (exit 2) with nothing written if it is in use
    lock = claim_state_dir(state)
    try:
        if args.embedded_defaults:
            from sealfeed.s6.embedded import write_embedded_config

            args.config, args.pubkey, args.secrets_dir = write_embedded_config(
                state,
                args.nodes,
                aggregator_port=args.aggregator_port,
                exporter_port=args.exporter_port,
                source_urls=sources,
            )
            say(f"embedded defaults signed into {args.config}")
        try:
            cfg = verified_config(args)
            if is_multi_vm(cfg):  # one VM of several: its name and its link plan, up front
                from sealfeed.link.placement import derive_plan
                from sealfeed.s6.runtime import local_runtime

                require_vm(cfg, cfg.vm, location="--vm")
                derive_plan(cfg, run_dir=local_runtime(state).link_dir)
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
    except BaseException:
        lock.release()
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

    def on_ready(app: Appliance) -> None:
        ready = max(app.ready_at.values(), default=0.0)
        say(f"all services ready after {ready:.1f} s")
        for name, url in app.endpoints().items():
            say(f"  {name}: {url}")
        if app.skipped:
            say(f"  skipped: {', '.join(s.service for s in app.skipped)} (see the status)")
        say(f"  status: sealfeed status --state-dir {state}")
        say(f"  stop:   Ctrl-C, or kill -TERM {os.getpid()}")
        if args.exit_when_ready:
            app.request_stop()

    def on_start(app: Appliance) -> None:
        for line in skipped_lines(app.skipped):
            say(line)
        pending = ", ".join(app.top_services)
        say(f"starting {len(app.top_services)} services (pid {os.getpid()}): {pending}")

    result = run_up(cfg, opts, on_ready=on_ready, on_start=on_start, on_progress=say, lock=lock)
    doc = result.as_dict()
    lines = [f"sealfeed up: stopped, exit code {result.exit_code}"]
    lines += skipped_lines(result.skipped)
    if result.ready_seconds is not None:
        lines.append(f"all services were ready after {result.ready_seconds:.2f} s")
    if result.leftovers:
        lines.append(f"killed leftover processes: {result.leftovers}")
    if result.cause:
        lines.append(str(result.cause.get("line")))  # last: the one line that says why
    emit(args, doc, "\n".join(lines))
    return result.exit_code
