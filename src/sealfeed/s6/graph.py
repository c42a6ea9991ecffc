"""The appliance's service graph, from the verified configuration (pure).

Design §2.2-2.4 plus additions: ``config-verify`` at the root (nothing starts unless the
signed configuration verifies) and ``chainlink-render`` (the nodes' TOML files are generated
from the verified config by a oneshot, never by a shell at container start; ADR 0051);
``secrets-import`` (operator secrets in, every secret file given to the account that reads it,
before any reader starts; ADRs 0131, 0132) and ``attest`` (the appliance's own quote, ADR 0130)::

    config-verify ── secrets-import ─┬─ attest
                                     ├─ postgres-bootstrap ── postgres ── postgres-init ──┐
                                     ├─ price-aggregator ───────────── chainlink-render ◄─┤
                                     └─ process-metrics          chainlink-node-1 ◄───────┘
                                                                 chainlink-node-2..N ◄── node 1

When the DON spans several VMs (``sealfeed.placement``, ADR 0140) the graph is one VM's: the
configuration is its :func:`~sealfeed.config.placement.local_view` (only its nodes, their
roles and databases), every service gets ``SEALFEED_VM``, and a ``link`` longrun (the attested
tunnels, ADR 0143) starts before ``chainlink-render`` and the nodes: render waits for the
peers' node keys it fetches, and the nodes' cross-VM P2P goes through its endpoints::

    config-verify ── link ─┬─ chainlink-render ── chainlink-node-N (this VM's nodes)
                           └────────────────────────────────┘

Every longrun gets an ``<name>-log`` s6-log consumer. Clean shutdown is the reverse of this
order (s6-rc in the image, :mod:`sealfeed.s6.up` locally): Chainlink nodes before the
aggregator and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath

from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.config.placement import ENV_VM, is_multi_vm, require_vm
from sealfeed.errors import InputError
from sealfeed.s6.model import IMAGE_INPUTS_DIR, RenderOptions, ServiceDef

CONFIG_VERIFY = "config-verify"
SECRETS_IMPORT = "secrets-import"
ATTEST = "attest"
PG_BOOTSTRAP = "postgres-bootstrap"
POSTGRES = "postgres"
PG_INIT = "postgres-init"
CHAINLINK_RENDER = "chainlink-render"
AGGREGATOR = "price-aggregator"
EXPORTER = "process-metrics"
LINK = "link"
NODE_COMMAND_KEY = "chainlink-node"
NODE_CHECK_KEY = "chainlink-node-check"
POSTGRES_CHECK_KEY = "postgres-check"
#: the bundle /init brings up (``s6-rc -u change user``); it holds every service. There is
#: no s6-overlay ``base`` bundle any more (ADR 0100): the tree is self-contained.
USER_BUNDLE = "user"

#: Account each service runs as in the image (ADR 0051). Oneshots that create files owned by
#: other users (0600 secrets, the PostgreSQL data dir) run as root; every longrun drops
#: privileges; Chainlink node N runs as its own ``NodeSpec.os_user`` and never as root.
SERVICE_USERS: Mapping[str, str | None] = {
    CONFIG_VERIFY: "sealfeed",
    # root: writes files for other accounts (chown) and the import key
    SECRETS_IMPORT: None,
    # root: configfs-tsm report entries are root's (Documentation/ABI/testing/configfs-tsm)
    ATTEST: None,
    PG_BOOTSTRAP: None,
    POSTGRES: "postgres",
    PG_INIT: None,
    CHAINLINK_RENDER: None,
    AGGREGATOR: "sealfeed",
    # the account the exporter drops to itself, after forking its /proc reader (ADR 0133)
    EXPORTER: "sealfeed",
    # the account the link drops to itself, after forking its quote helper (configfs-tsm
    # report entries are root's; the helper signs only the link's peer bindings, ADR 0145)
    LINK: "sealfeed-link",
}
#: which secret consumer each service is (sealfeed.config.loader.SECRET_SCOPES): the
#: secrets-import step gives that consumer's files to the service's account
SECRET_CONSUMERS: Mapping[str, str] = {
    AGGREGATOR: "aggregator",
    EXPORTER: "exporter",
    LINK: "link",
}
#: where secrets-import puts the link's own copy of the exporter's push credentials
#: (``SECRET_READERS``, ADR 0146), below the link's directory
LINK_SECRETS = "secrets"
LOG_USER = "sealfeed-log"

#: Readiness notification fd for programs that notify themselves (conventions.md
#: "Services": ``--notify-fd``) and for ``s6-notifyoncheck``.
NOTIFY_FD = 3
#: How long a longrun may take to exit after its down signal before s6-supervise sends
#: SIGKILL (s6-supervise ``timeout-kill``). Services promise a graceful stop within 10 s
#: (conventions.md); a Chainlink node flushes its DB work, PostgreSQL's fast shutdown
#: rolls back open transactions -- 30 s is generous for both.
SERVICE_STOP_MS = 10_000
HEAVY_STOP_MS = 30_000


def node_placeholders(spec: NodeSpec) -> dict[str, str]:
    return {
        "index": str(spec.index),
        "api_port": str(spec.api_port),
        "p2p_port": str(spec.p2p_port),
        "workdir": spec.workdir,
        "user": spec.os_user,
        "api_host": spec.api_host,
    }


def _format(argv: Sequence[str], values: Mapping[str, str], what: str) -> tuple[str, ...]:
    try:
        return tuple(a.format(**values) for a in argv)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"bad placeholder in command override: {exc}", location=f"commands.{what}"
        ) from None


def default_commands(cfg: ApplianceConfig, opts: RenderOptions) -> dict[str, tuple[str, ...]]:
    """The command line of every service: the other components' CLIs (wiring table).

    Every sealfeed command gets the configuration only through ``--config``/``--pubkey``
    (it verifies the signature itself, fail closed; conventions.md).
    """
    sf = tuple(opts.sealfeed_argv)
    trust_args: tuple[str, ...] = ("--config", opts.config_path)
    if opts.pubkey_path:
        trust_args += ("--pubkey", opts.pubkey_path)
    cfg_args = trust_args + (("--secrets-dir", opts.secrets_dir) if opts.secrets_dir else ())
    verify: tuple[str, ...] = (*sf, "config", "verify", opts.config_path)
    if opts.pubkey_path:
        verify += ("--pubkey", opts.pubkey_path)
    pg_bin = opts.postgres_bin_dir
    postgres = str(PurePosixPath(pg_bin) / "postgres") if pg_bin else "postgres"
    pg_isready = str(PurePosixPath(pg_bin) / "pg_isready") if pg_bin else "pg_isready"
    pg = cfg.postgres
    return {
        CONFIG_VERIFY: verify,
        # the image's /sp/inputs is the command's default (env SP_INPUTS_DIR overrides it,
        # as SP_SECRETS_DIR does the secrets dir); local mode names its own
        SECRETS_IMPORT: (
            *sf,
            "secrets",
            "import",
            *cfg_args,
            *(() if opts.inputs_dir == IMAGE_INPUTS_DIR else ("--inputs", opts.inputs_dir)),
        ),
        ATTEST: (
            *sf,
            "attest",
            "startup",
            *cfg_args,
            "--out",
            opts.attestation_path,
            "--import-key",
            _import_pub(cfg, opts),
        ),
        PG_BOOTSTRAP: (*sf, "pg", "bootstrap", *cfg_args),
        # socket dir, port and listen address on the command line (they win over
        # postgresql.conf) so the readiness check below always probes what the server uses
        POSTGRES: (
            postgres,
            "-D",
            pg.data_dir,
            "-k",
            pg.socket_dir,
            "-p",
            str(pg.port),
            "-c",
            f"listen_addresses={pg.host if pg.listen_tcp else ''}",
        ),
        # the longrun is ready when the server accepts connections (design §6.4
        # pg_isready); per-role readiness (`sealfeed pg ready`) only holds after provision
        POSTGRES_CHECK_KEY: (
            pg_isready,
            "-q",
            "-h",
            pg.socket_dir,
            "-p",
            str(pg.port),
            "-U",
            pg.superuser,
            "-d",
            "postgres",
        ),
        PG_INIT: (*sf, "pg", "provision", *cfg_args),
        CHAINLINK_RENDER: (*sf, "chainlink", "render", *cfg_args)
        + (("--link-dir", opts.link_dir) if is_multi_vm(cfg) else ()),
        # the link reads its own copy of the push credentials (ADR 0146), not the secrets dir
        LINK: (
            *sf,
            "link",
            "serve",
            *trust_args,
            "--secrets-dir",
            link_secrets_dir(opts),
            "--run-dir",
            opts.link_dir,
            "--notify-fd",
            str(NOTIFY_FD),
        ),
        AGGREGATOR: (*sf, "aggregator", "serve", *cfg_args, "--notify-fd", str(NOTIFY_FD)),
        EXPORTER: (
            *sf,
            "exporter",
            "serve",
            *cfg_args,
            "--notify-fd",
            str(NOTIFY_FD),
            "--attestation",
            opts.attestation_path,
        ),
        # Chainlink 2.x CLI as the reference starts it (scripts/bash/chainlink-entrypoint.sh)
        NODE_COMMAND_KEY: (
            opts.chainlink_bin,
            "node",
            "-config",
            "{workdir}/config.toml",
            "-secrets",
            "{workdir}/secrets.toml",
            "start",
            "-a",
            "{workdir}/apicredentials",
        ),
        NODE_CHECK_KEY: (*sf, "s6", "probe", "http://{api_host}:{api_port}/health"),
    }


def link_secrets_dir(opts: RenderOptions) -> str:
    """The link's secrets: its copy of the exporter's push credentials (ADR 0146)."""
    return str(PurePosixPath(opts.link_dir) / LINK_SECRETS)


def _import_pub(cfg: ApplianceConfig, opts: RenderOptions) -> str:
    from sealfeed.secrets.keys import IMPORT_PUB

    return str(PurePosixPath(opts.secrets_dir or cfg.secrets_dir) / IMPORT_PUB)


def _user(name: str, default: str | None, opts: RenderOptions) -> str | None:
    if not opts.drop_privileges:
        return None
    if name in opts.users:
        return opts.users[name]
    return default


def build_services(cfg: ApplianceConfig, opts: RenderOptions) -> tuple[ServiceDef, ...]:
    """Every service of the appliance in dependency order (pure: config in, data out)."""
    cmds = default_commands(cfg, opts)
    cmds.update({k: tuple(v) for k, v in opts.commands.items()})
    log_root = PurePosixPath(opts.log_dir or cfg.log_dir)

    def cmd(key: str) -> tuple[str, ...]:
        argv = cmds[key]
        if not argv:
            raise InputError("empty command line", location=f"commands.{key}")
        return argv

    out: list[ServiceDef] = []
    multi = is_multi_vm(cfg)
    require_vm(cfg, cfg.vm, location="--vm")
    # one VM of several: every service knows which (config_from_args applies it)
    vm_env = {ENV_VM: cfg.vm} if multi and cfg.vm else {}

    def add(svc: ServiceDef) -> None:
        if vm_env and not svc.is_logger and svc.type != "bundle":
            svc = dataclasses.replace(svc, env={**svc.env, **vm_env})
        out.append(svc)

    def longrun(svc: ServiceDef) -> None:
        logger = f"{svc.name}-log"
        add(dataclasses.replace(svc, logger=logger, budget=True))
        out.append(
            ServiceDef(
                name=logger,
                type="longrun",
                consumer_for=svc.name,
                log_dir=str(log_root / svc.name),
                user=_user(logger, LOG_USER, opts),
                description=f"s6-log consumer of {svc.name} (redacting, size-rotated)",
            )
        )

    add(
        ServiceDef(
            name=CONFIG_VERIFY,
            type="oneshot",
            argv=cmd(CONFIG_VERIFY),
            user=_user(CONFIG_VERIFY, SERVICE_USERS[CONFIG_VERIFY], opts),
            description="verify the signed configuration; nothing starts unless it verifies",
        )
    )
    owners = tuple(
        arg
        for svc, consumer in SECRET_CONSUMERS.items()
        if svc != LINK or multi
        if (account := _user(svc, SERVICE_USERS[svc], opts)) is not None
        for arg in ("--owner", f"{consumer}={account}")
    )
    readers = ("--reader-dir", f"link={link_secrets_dir(opts)}") if multi else ()
    add(
        ServiceDef(
            name=SECRETS_IMPORT,
            type="oneshot",
            argv=(*cmd(SECRETS_IMPORT), *owners, *readers),
            dependencies=(CONFIG_VERIFY,),
            user=_user(SECRETS_IMPORT, SERVICE_USERS[SECRETS_IMPORT], opts),
            description="import sealed operator secrets; give every secret file to its reader",
        )
    )
    add(
        ServiceDef(
            name=ATTEST,
            type="oneshot",
            argv=cmd(ATTEST),
            dependencies=(SECRETS_IMPORT,),
            user=_user(ATTEST, SERVICE_USERS[ATTEST], opts),
            description="the appliance's own TDX quote over image + configuration + import key",
        )
    )
    add(
        ServiceDef(
            name=PG_BOOTSTRAP,
            type="oneshot",
            argv=cmd(PG_BOOTSTRAP),
            dependencies=(SECRETS_IMPORT,),
            user=_user(PG_BOOTSTRAP, SERVICE_USERS[PG_BOOTSTRAP], opts),
            description="initdb (idempotent) and tuned postgresql.conf",
        )
    )
    longrun(
        ServiceDef(
            name=POSTGRES,
            type="longrun",
            argv=cmd(POSTGRES),
            dependencies=(PG_BOOTSTRAP,),
            user=_user(POSTGRES, SERVICE_USERS[POSTGRES], opts),
            notification_fd=NOTIFY_FD,
            check=cmds.get(POSTGRES_CHECK_KEY) or None,
            # SIGINT = PostgreSQL "fast shutdown" (postgres(1) docs, "Shutting Down the
            # Server"); SIGTERM would wait for every client to disconnect
            down_signal="SIGINT",
            timeout_kill_ms=HEAVY_STOP_MS,
            description="PostgreSQL server (one database per node)",
        )
    )
    add(
        ServiceDef(
            name=PG_INIT,
            type="oneshot",
            argv=cmd(PG_INIT),
            dependencies=(POSTGRES,),
            user=_user(PG_INIT, SERVICE_USERS[PG_INIT], opts),
            description="per-node roles and databases (idempotent)",
        )
    )
    longrun(
        ServiceDef(
            name=AGGREGATOR,
            type="longrun",
            argv=cmd(AGGREGATOR),
            dependencies=(SECRETS_IMPORT,),
            user=_user(AGGREGATOR, SERVICE_USERS[AGGREGATOR], opts),
            notification_fd=NOTIFY_FD,
            timeout_kill_ms=SERVICE_STOP_MS + 2_000,
            description="price aggregator (HTTP on 127.0.0.1)",
        )
    )
    # The exporter starts as root, forks its /proc reader and drops to its account itself
    # (ADR 0133): the supervisor does not drop privileges for it.
    exporter_account = _user(EXPORTER, SERVICE_USERS[EXPORTER], opts)
    longrun(
        ServiceDef(
            name=EXPORTER,
            type="longrun",
            argv=(*cmd(EXPORTER), *(("--user", exporter_account) if exporter_account else ())),
            dependencies=(SECRETS_IMPORT,),
            user=None,
            notification_fd=NOTIFY_FD,
            timeout_kill_ms=SERVICE_STOP_MS + 2_000,
            description="process-metrics exporter",
        )
    )
    if multi:
        # like the exporter, the link drops privileges itself: it starts as root, forks its
        # quote helper and runs as its account (ADR 0145)
        link_account = _user(LINK, SERVICE_USERS[LINK], opts)
        longrun(
            ServiceDef(
                name=LINK,
                type="longrun",
                argv=(*cmd(LINK), *(("--user", link_account) if link_account else ())),
                dependencies=(SECRETS_IMPORT,),
                user=None,
                notification_fd=NOTIFY_FD,
                timeout_kill_ms=SERVICE_STOP_MS + 2_000,
                description=f"attested links of VM {cfg.vm} to its peers "
                f"({', '.join(e.name for e in cfg.placement if e.name != cfg.vm)})",
            )
        )
    if opts.include_nodes:
        add(
            ServiceDef(
                name=CHAINLINK_RENDER,
                type="oneshot",
                argv=cmd(CHAINLINK_RENDER),
                # with peers: wait (in render) for their node keys, which the link fetches
                dependencies=(PG_INIT, LINK) if multi else (PG_INIT,),
                user=_user(CHAINLINK_RENDER, SERVICE_USERS[CHAINLINK_RENDER], opts),
                description="render every node's config.toml/secrets.toml from the config",
            )
        )
        specs = cfg.nodes.specs()
        first = specs[0].service if specs else None
        if multi:  # a VM without the bootstrap node reaches it through the link
            first = next((s.service for s in specs if s.role == "bootstrap"), None)
        for spec in specs:
            values = node_placeholders(spec)
            node_cmd = cmds.get(spec.service) or cmd(NODE_COMMAND_KEY)
            check = cmds.get(f"{spec.service}-check") or cmds.get(NODE_CHECK_KEY)
            deps: tuple[str, ...] = (CHAINLINK_RENDER, AGGREGATOR)
            if multi:
                deps += (LINK,)  # cross-VM P2P goes through its tunnel endpoints
            if first is not None and spec.service != first:
                deps += (first,)  # oracles need the bootstrap node's P2P endpoint up
            user = _user(spec.service, spec.os_user, opts)
            if user == "root" or (opts.mode == "image" and user is None):
                raise InputError(
                    "Chainlink nodes never run as root",
                    location=f"{spec.service}.user",
                )
            longrun(
                ServiceDef(
                    name=spec.service,
                    type="longrun",
                    argv=_format(node_cmd, values, spec.service),
                    dependencies=deps,
                    user=user,
                    env={"HOME": spec.workdir},
                    notification_fd=NOTIFY_FD,
                    check=_format(check, values, spec.service) if check else None,
                    timeout_kill_ms=HEAVY_STOP_MS,
                    description=f"Chainlink {spec.role} node {spec.index} "
                    f"(API {spec.api_host}:{spec.api_port}, P2P {spec.p2p_port})",
                )
            )
    out.append(
        ServiceDef(
            name=USER_BUNDLE,
            type="bundle",
            contents=tuple(s.name for s in out),
            description="everything /init starts (s6-rc -u change user)",
        )
    )
    return tuple(out)


def command_line(argv: Iterable[str]) -> str:
    """POSIX-sh quoted command line (every value quoted: no word splitting, no globbing)."""
    return " ".join(shlex.quote(a) for a in argv)


def topo_order(services: Sequence[ServiceDef]) -> list[str]:
    """Names in an order where every dependency comes first (bundles excluded).

    Unknown dependencies are ignored here; :func:`sealfeed.s6.check.check_tree` rejects them
    (the tree must be self-contained, ADR 0100).
    """
    by_name = {s.name: s for s in services if s.type != "bundle"}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise InputError(f"dependency cycle: {' -> '.join((*stack, name))}")
        state[name] = 1
        svc = by_name[name]
        deps = [d for d in svc.dependencies if d in by_name]
        if svc.consumer_for:
            deps = [*deps]
        for d in deps:
            visit(d, (*stack, name))
        state[name] = 2
        order.append(name)

    for s in services:
        if s.name in by_name:
            visit(s.name, ())
    return order


def shutdown_layers(services: Sequence[ServiceDef]) -> list[list[str]]:
    """Groups of non-logger services to stop together, dependents before dependencies."""
    by_name = {s.name: s for s in services if s.type != "bundle" and not s.is_logger}
    depth: dict[str, int] = {}
    for name in topo_order([s for s in services if s.name in by_name]):
        deps = [d for d in by_name[name].dependencies if d in by_name]
        depth[name] = 1 + max((depth[d] for d in deps), default=-1)
    layers: dict[int, list[str]] = {}
    for name, d in depth.items():
        layers.setdefault(d, []).append(name)
    return [sorted(layers[d]) for d in sorted(layers, reverse=True)]


__all__ = [
    "AGGREGATOR",
    "ATTEST",
    "CHAINLINK_RENDER",
    "CONFIG_VERIFY",
    "EXPORTER",
    "LINK",
    "LINK_SECRETS",
    "NODE_CHECK_KEY",
    "NODE_COMMAND_KEY",
    "NOTIFY_FD",
    "PG_BOOTSTRAP",
    "PG_INIT",
    "POSTGRES",
    "POSTGRES_CHECK_KEY",
    "SECRETS_IMPORT",
    "SECRET_CONSUMERS",
    "SERVICE_USERS",
    "USER_BUNDLE",
    "build_services",
    "command_line",
    "default_commands",
    "link_secrets_dir",
    "shutdown_layers",
    "topo_order",
]
