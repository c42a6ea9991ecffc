"""``sealfeed pg ...``: bootstrap, tune, hba, provision, ready, serve.

Inputs come from the verified configuration (``--config``/``--pubkey``) or, for tests and
``sealfeed up``, from explicit flags: ``--nodes N`` without ``--config`` means "no config
file", and every flag overrides the matching config field. Only argparse and
sealfeed.output/errors are imported here; the work is imported inside each handler.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from sealfeed.errors import ExitCode, InputError
from sealfeed.output import add_json_flag, emit


def _add_common(p: argparse.ArgumentParser) -> None:
    from sealfeed.config.args import add_config_arguments

    add_config_arguments(p, consumer="postgres")
    # None = not given: with --nodes, no configuration file is read unless --config is given
    p.set_defaults(config=None)
    for action in p._actions:  # argparse keeps no public handle on an added argument
        if action.dest == "config":
            action.help = (
                "signed configuration.json (default: env CONFIGURATION_PATH, else "
                "/sp/configurations/configuration.json unless --nodes is given)"
            )
    g = p.add_argument_group("explicit inputs (override the configuration)")
    g.add_argument(
        "--nodes",
        type=int,
        default=None,
        metavar="N",
        help="number of Chainlink nodes (1..N); without --config: no config file",
    )
    g.add_argument(
        "--data-dir",
        default=os.environ.get("PGDATA"),
        help="cluster directory (default: env PGDATA or the config's, /sp/postgresql/data)",
    )
    g.add_argument(
        "--socket-dir",
        default=os.environ.get("SEALFEED_PG_SOCKET_DIR"),
        help="unix socket directory (default: env SEALFEED_PG_SOCKET_DIR or the "
        "config's, /run/postgresql)",
    )
    g.add_argument("--port", type=int, default=None, help="server port (default 5432)")
    g.add_argument("--superuser", default=None, help="superuser name (default postgres)")
    g.add_argument(
        "--listen-tcp",
        action="store_true",
        default=None,
        help="also listen on TCP (postgres.host, 127.0.0.1) -- off by default",
    )
    g.add_argument(
        "--pool",
        type=int,
        default=None,
        metavar="CONNS",
        help="Chainlink Database.MaxOpenConns per node (default 20)",
    )


def _add_machine(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("machine (default: read cgroup v2/v1 limits, else /proc)")
    g.add_argument("--memory-mb", type=int, default=None, help="use this much memory")
    g.add_argument("--cpus", type=float, default=None, help="use this many CPUs")
    g.add_argument(
        "--cgroup-root",
        default=None,
        metavar="DIR",
        help="read /proc and /sys/fs/cgroup under DIR (fixture trees)",
    )
    p.add_argument(
        "--pg-bin",
        default=None,
        help="PostgreSQL bin directory (default: env SEALFEED_PG_BIN, PATH, "
        "/usr/lib/postgresql/<newest>/bin)",
    )


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pg_command", metavar="SUBCOMMAND", title="subcommands")

    p = sub.add_parser(
        "bootstrap",
        help="initdb if needed (checksums, UTF8, SCRAM), keep an "
        "existing cluster, write the tuned postgresql.conf and pg_hba.conf",
        description=_bootstrap.__doc__,
    )
    _add_common(p)
    _add_machine(p)
    p.add_argument(
        "--reset-superuser-password",
        action="store_true",
        help="set the superuser password of an existing (stopped) cluster from its secret file",
    )
    add_json_flag(p)
    p.set_defaults(func=_bootstrap)

    p = sub.add_parser(
        "tune",
        help="print the postgresql.conf derived from this machine, with the reason for each value",
        description=_tune.__doc__,
    )
    _add_common(p)
    _add_machine(p)
    add_json_flag(p)
    p.set_defaults(func=_tune)

    p = sub.add_parser("hba", help="print the generated pg_hba.conf", description=_hba.__doc__)
    _add_common(p)
    add_json_flag(p)
    p.set_defaults(func=_hba)

    p = sub.add_parser(
        "provision",
        help="create/repair one locked-down role + database per "
        "node; print each node's database URL (password masked)",
        description=_provision.__doc__,
    )
    _add_common(p)
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to SECONDS for the server to accept connections",
    )
    add_json_flag(p)
    p.set_defaults(func=_provision)

    p = sub.add_parser(
        "ready",
        help="exit 0 only if every node role can connect to its database (s6 readiness check)",
        description=_ready.__doc__,
    )
    _add_common(p)
    p.add_argument(
        "--server",
        action="store_true",
        help="only check that the server accepts the superuser (before provision)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="keep probing for up to SECONDS until ready",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3,
        metavar="SECONDS",
        help="connect timeout per probe (default 3)",
    )
    add_json_flag(p)
    p.set_defaults(func=_ready)

    p = sub.add_parser(
        "serve",
        help="exec the PostgreSQL server in the foreground as the postgres OS user (s6 run script)",
        description=_serve.__doc__,
    )
    _add_common(p)
    p.add_argument("--pg-bin", default=None, help="PostgreSQL bin directory")
    p.add_argument(
        "--notify-fd",
        type=int,
        default=None,
        metavar="FD",
        help="write a newline to FD once the server accepts connections (s6 notification-fd)",
    )
    p.set_defaults(func=_serve)


# ------------------------------------------------------------------ input resolution


class _Inputs:
    def __init__(self, pg: Any, nodes: Any, secrets_dir: str) -> None:
        self.pg = pg
        self.nodes = nodes
        self.secrets_dir = secrets_dir


def _resolve(args: argparse.Namespace) -> _Inputs:
    from dataclasses import replace

    from sealfeed.config.args import DEFAULT_CONFIG_PATH, verified_config
    from sealfeed.config.model import NodesConfig, PostgresConfig

    if args.nodes is not None and not 1 <= args.nodes <= 64:
        raise InputError(f"--nodes must be 1..64, got {args.nodes}", location="--nodes")
    config_path = args.config or os.environ.get("CONFIGURATION_PATH")
    if config_path is None and args.nodes is None:
        config_path = DEFAULT_CONFIG_PATH
    if config_path is not None:
        args.config = config_path
        try:
            cfg = verified_config(args)
        except ModuleNotFoundError:
            raise InputError(
                "the configuration loader is not available in this build; pass --nodes N "
                "(and path flags) to run without a configuration",
                location=config_path,
            ) from None
        pg, nodes_cfg = cfg.postgres, cfg.nodes
        secrets_dir = args.secrets_dir or cfg.secrets_dir
        if args.nodes is not None:
            nodes_cfg = replace(nodes_cfg, total=args.nodes, nodes_list=())
    else:
        pg, nodes_cfg = PostgresConfig(), NodesConfig(total=args.nodes)
        secrets_dir = args.secrets_dir or "/sp/secrets"
    overrides: dict[str, Any] = {}
    for flag, field in (
        ("data_dir", "data_dir"),
        ("socket_dir", "socket_dir"),
        ("port", "port"),
        ("superuser", "superuser"),
        ("listen_tcp", "listen_tcp"),
        ("pool", "max_open_conns_per_node"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if "port" in overrides and not 1 <= overrides["port"] <= 65535:
        raise InputError(f"--port must be 1..65535, got {overrides['port']}", location="--port")
    if "max_open_conns_per_node" in overrides and overrides["max_open_conns_per_node"] < 1:
        raise InputError("--pool must be >= 1", location="--pool")
    pg = replace(pg, **overrides)
    return _Inputs(pg, nodes_cfg.specs(), str(secrets_dir))


def _limits(args: argparse.Namespace) -> Any:
    from sealfeed.postgres.limits import Limits, read_host_limits, read_limits

    lim = read_limits(args.cgroup_root) if args.cgroup_root else read_host_limits()
    if args.memory_mb is not None:
        if args.memory_mb < 1:
            raise InputError("--memory-mb must be positive", location="--memory-mb")
        lim = Limits(args.memory_mb * 1024 * 1024, "--memory-mb", lim.cpus, lim.cpu_source)
    if args.cpus is not None:
        if not args.cpus > 0:
            raise InputError("--cpus must be positive", location="--cpus")
        lim = Limits(lim.memory_bytes, lim.memory_source, args.cpus, "--cpus")
    return lim


# ------------------------------------------------------------------ handlers


def _bootstrap(args: argparse.Namespace) -> ExitCode:
    """Create the cluster if the data directory is missing or empty (initdb with data
    checksums, UTF8, C locale, SCRAM; superuser password from <secrets>/postgres/
    superuser.password, generated 0600 if absent), keep an existing cluster of the same major
    version, refuse anything else without touching it; then write the tuned postgresql.conf
    and the generated pg_hba.conf. Safe to run on every boot."""
    from sealfeed.postgres.bootstrap import bootstrap
    from sealfeed.postgres.control import find_binaries

    inp = _resolve(args)
    report = bootstrap(
        inp.pg,
        inp.nodes,
        secrets_dir=inp.secrets_dir,
        limits=_limits(args),
        bins=find_binaries(args.pg_bin),
        reset_superuser_password=args.reset_superuser_password,
    )
    doc = report.as_dict()

    def human() -> str:
        return (
            f"{report.action} cluster {report.data_dir} (PostgreSQL {report.version}, data "
            f"checksums {'on' if report.checksums else 'OFF'})\n"
            f"postgresql.conf {'rewritten' if report.conf_changed else 'unchanged'}, "
            f"pg_hba.conf {'rewritten' if report.hba_changed else 'unchanged'}\n"
            f"superuser password file {report.superuser_password_file}"
            + (" (generated)" if report.superuser_password_generated else "")
            + (" (password reset)" if report.superuser_password_reset else "")
            + (
                "\nthe server is running: restart it for the new configuration"
                if report.server_running and (report.conf_changed or report.hba_changed)
                else ""
            )
        )

    emit(args, doc, human)
    return ExitCode.OK


def _tune(args: argparse.Namespace) -> ExitCode:
    """Print postgresql.conf as bootstrap would write it: every value with its reason,
    derived from the effective memory/CPU limits (cgroup v2 memory.max/cpu.max, cgroup v1,
    /proc), the node count and each node's pool. Settings the installed server does not know
    (postgres --describe-config) are listed as skipped."""
    import logging

    from sealfeed.errors import ExternalError
    from sealfeed.postgres.bootstrap import tune_for
    from sealfeed.postgres.control import find_binaries, known_settings
    from sealfeed.postgres.render import render_postgresql_conf

    inp = _resolve(args)
    try:
        bins = find_binaries(args.pg_bin)
        known: frozenset[str] | None = known_settings(bins)
    except ExternalError as exc:
        if args.pg_bin:
            raise
        logging.getLogger("sealfeed.postgres").warning(
            "no PostgreSQL server found; emitting every setting unfiltered",
            extra={"event": "pg_tune_no_server", "detail": str(exc)},
        )
        bins, known = None, None
    result = tune_for(inp.pg, inp.nodes, _limits(args), bins, known)
    text = render_postgresql_conf(result)
    doc = {
        "ok": True,
        "inputs": {
            "memory_bytes": result.inputs.memory_bytes,
            "memory_source": result.inputs.memory_source,
            "cpus": result.inputs.cpus,
            "cpu_source": result.inputs.cpu_source,
            "nodes": result.inputs.nodes,
            "pool_per_node": result.inputs.pool_per_node,
            "server_major": result.inputs.major,
        },
        "settings": [
            {"name": s.name, "value": s.value, "rendered": s.rendered(), "reason": s.reason}
            for s in result.settings
        ],
        "skipped": [{"name": s.name, "reason": s.reason} for s in result.skipped],
        "postgresql_conf": text,
    }
    emit(args, doc, text)
    return ExitCode.OK


def _hba(args: argparse.Namespace) -> ExitCode:
    """Print pg_hba.conf: the superuser over the local socket only; node N's role only into
    its own database; SCRAM only; TCP lines only with --listen-tcp; everything else reject."""
    from sealfeed.postgres.render import render_pg_hba

    inp = _resolve(args)
    text = render_pg_hba(inp.pg, inp.nodes)
    emit(args, {"ok": True, "pg_hba_conf": text}, text)
    return ExitCode.OK


def _superuser_password(inp: _Inputs) -> Any:
    from sealfeed.postgres.secrets import superuser_password_path
    from sealfeed.secret import read_secret_file

    return read_secret_file(superuser_password_path(inp.secrets_dir), what="superuser password")


def _provision(args: argparse.Namespace) -> ExitCode:
    """For each node N: role chainlink_node_N (LOGIN only, connection-limited, password from
    <secrets>/postgres/chainlink_node_N.password, generated 0600 if absent) owning database
    chainlink_node_N, with no privileges for PUBLIC or other roles. Idempotent: prints what
    it changed (nothing on a second run). Prints each node's database URL with the password
    masked."""
    from sealfeed.postgres.provision import provision

    inp = _resolve(args)
    report = provision(
        inp.pg,
        inp.nodes,
        secrets_dir=inp.secrets_dir,
        superuser_password=_superuser_password(inp),
        wait=args.wait,
    )

    def human() -> str:
        lines = []
        for n in report.nodes:
            lines.append(f"node {n.index}: {n.url}")
            lines += [f"  - {a}" for a in n.actions] or ["  - no changes"]
        changes = sum(len(n.actions) for n in report.nodes)
        nodes = f"{len(report.nodes)} node{'s' if len(report.nodes) != 1 else ''}"
        lines.append(f"{nodes} provisioned: {changes} change{'s' if changes != 1 else ''}"
                     if report.changed else "no changes (already provisioned)")  # fmt: skip
        return "\n".join(lines)

    emit(args, report.as_dict(), human)
    return ExitCode.OK


def _ready(args: argparse.Namespace) -> ExitCode:
    """Exit 0 only when every node role can log into its own database (1 otherwise);
    with --server, when the server accepts the superuser."""
    from sealfeed.postgres.ready import ReadyReport, probe_nodes, probe_server, wait_ready

    inp = _resolve(args)
    if args.server:
        password = _superuser_password(inp)

        def check() -> ReadyReport:
            return probe_server(inp.pg, password, timeout=args.timeout)
    else:

        def check() -> ReadyReport:
            return probe_nodes(inp.pg, inp.nodes, secrets_dir=inp.secrets_dir, timeout=args.timeout)

    report = wait_ready(check, args.wait)
    emit(
        args,
        report.as_dict(),
        lambda: "\n".join(
            f"{'ok ' if p.ok else 'NOT'} {p.name}: {p.detail}" for p in report.probes
        ),
    )
    return ExitCode.OK if report.ok else ExitCode.FAILED


def _serve(args: argparse.Namespace) -> ExitCode:
    """Replace this process with `postgres -D <data-dir>` running as the postgres OS user
    (when started as root), with a minimal environment. For the s6 `postgres` longrun."""
    from pathlib import Path

    from sealfeed.postgres.bootstrap import inspect_data_dir
    from sealfeed.postgres.control import exec_server, find_binaries, server_user

    inp = _resolve(args)
    data = Path(inp.pg.data_dir)
    if inspect_data_dir(data).kind != "cluster":
        raise InputError("no cluster here; run `sealfeed pg bootstrap` first", location=str(data))
    exec_server(find_binaries(args.pg_bin), server_user(), data, notify_fd=args.notify_fd)
    return ExitCode.BUG  # pragma: no cover - exec does not return


__all__ = ["register"]
