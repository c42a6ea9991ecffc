"""Value objects of the supervision tree: one :class:`ServiceDef` per s6-rc service.

The service set is data first (:mod:`sealfeed.s6.graph` builds it from the verified
configuration), text second (:mod:`sealfeed.s6.render` writes it in the s6-rc source
format), then either compiled by s6-rc-compile and run by the image's /init (pkgs/init) or
converted to a plain scandir (:mod:`sealfeed.s6.local`, ``sealfeed up``). Where it runs is
:class:`sealfeed.s6.runtime.Runtime`, one description for both modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ServiceType = Literal["oneshot", "longrun", "bundle"]
Mode = Literal["image", "local"]

#: The image keeps s6-overlay v3's *locations* (ADR 0080; s6-overlay README "Writing a
#: service script", "Exit codes") though /init is sealfeed's own: the baked tree's root, the
#: live scandir, the exit-code file and the halt program the hooks call. Every path is
#: derived from the run dir by :class:`sealfeed.s6.runtime.Runtime`; these are its defaults.
IMAGE_TREE_ROOT = "/etc/s6-overlay"
IMAGE_RUN_DIR = "/run"
IMAGE_RUN_SERVICE_DIR = "/run/service"
IMAGE_RESULTS_DIR = "/run/s6-linux-init-container-results"
IMAGE_HALT = "/run/s6/basedir/bin/halt"
IMAGE_LINK_DIR = "/run/sealfeed/link"
#: the start-up attestation document (Runtime.attestation_path) and the directory Super
#: Protocol mounts an order's data inputs in (docs.superprotocol.com: /sp/inputs/input-0001,
#: ...; read-only), where sealed secrets arrive
IMAGE_ATTESTATION = "/run/sealfeed/attestation.json"
IMAGE_INPUTS_DIR = "/sp/inputs"
#: s6-log rotation, design §7.6: 10 MB per file, keep 10 files
DEFAULT_LOG_FILE_SIZE = 10 * 1024 * 1024
DEFAULT_LOG_FILES = 10


@dataclass(frozen=True)
class ServiceDef:
    """One service of the tree, independent of how it is written out.

    ``argv`` is the program a longrun runs (or a oneshot's command); ``check`` a readiness
    probe for programs that cannot write to a notification fd (wrapped in
    ``s6-notifyoncheck``). ``user`` is the account it runs as (None: the supervisor's).
    """

    name: str
    type: ServiceType
    argv: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    user: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: the program itself writes a newline to this fd when ready (s6 notification-fd)
    notification_fd: int | None = None
    check: tuple[str, ...] | None = None
    #: longruns only: the logger service consuming its stdout
    logger: str | None = None
    #: loggers only: the producer
    consumer_for: str | None = None
    log_dir: str | None = None
    contents: tuple[str, ...] = ()  # bundles
    #: s6-supervise knobs (ms / signal name); None = s6 default
    down_signal: str | None = None
    timeout_kill_ms: int | None = None
    timeout_finish_ms: int | None = None
    #: s6-rc transition timeouts (ms); 0 = none
    timeout_up_ms: int = 0
    timeout_down_ms: int = 0
    #: the restart budget applies (longruns other than loggers)
    budget: bool = False
    #: human description for status output and the generated scripts' header
    description: str = ""

    @property
    def is_logger(self) -> bool:
        return self.consumer_for is not None


@dataclass(frozen=True)
class Skipped:
    """A service that is part of the design but not started, and why (never faked)."""

    service: str
    reason: str


@dataclass(frozen=True)
class RenderOptions:
    """Everything about *where* and *how* the tree runs that is not in the signed config.

    ``commands`` overrides the command line of a service (by service name, or
    ``chainlink-node`` for every node; ``{index}``, ``{api_port}``, ``{p2p_port}``,
    ``{workdir}``, ``{user}`` are substituted per node): this is how ``sealfeed up`` is wired
    to the other components' CLIs, and how tests substitute small real programs.
    """

    mode: Mode = "image"
    #: how to invoke sealfeed itself from a script
    sealfeed_argv: tuple[str, ...] = ("sealfeed",)
    config_path: str = "/sp/configurations/configuration.json"
    pubkey_path: str | None = "/etc/sealfeed/configuration-public-key"
    secrets_dir: str | None = None
    #: where the rendered tree lives when it runs (scripts are referenced absolutely)
    tree_root: str = IMAGE_TREE_ROOT
    #: restart ledgers live in ``<run_service_dir>/<service>/`` (design §2.5 paths)
    run_service_dir: str = IMAGE_RUN_SERVICE_DIR
    #: ``exitcode`` (the container's exit status, read by /init) and the human ``cause`` line
    results_dir: str = IMAGE_RESULTS_DIR
    #: how a hook asks for the ordered shutdown: an absolute program (image: /init's halt),
    #: ``watch`` (``sealfeed up`` polls the results dir), ``signal:<pidfile>`` or ``none``
    halt: str = IMAGE_HALT
    #: where the ``attest`` oneshot writes the document the exporter serves (ADR 0130)
    attestation_path: str = IMAGE_ATTESTATION
    #: where ``secrets-import`` looks for sealed bundles (ADR 0131)
    inputs_dir: str = IMAGE_INPUTS_DIR
    log_dir: str | None = None  # None: the config's log_dir
    log_file_size: int = DEFAULT_LOG_FILE_SIZE
    log_files: int = DEFAULT_LOG_FILES
    #: None: the chainlink nodes are rendered with ``chainlink`` from PATH; local mode may
    #: pass include_nodes=False (binary absent) and report them skipped
    chainlink_bin: str = "chainlink"
    include_nodes: bool = True
    postgres_bin_dir: str | None = None
    #: drop privileges with s6-setuidgid (image mode; local mode only when run as root)
    drop_privileges: bool = True
    #: per-service user override (local mode as root maps image users to existing ones)
    users: Mapping[str, str | None] = field(default_factory=dict)
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the link's directory (status, published and fetched documents, collateral cache)
    link_dir: str = IMAGE_LINK_DIR


__all__ = [
    "DEFAULT_LOG_FILES",
    "DEFAULT_LOG_FILE_SIZE",
    "IMAGE_ATTESTATION",
    "IMAGE_HALT",
    "IMAGE_INPUTS_DIR",
    "IMAGE_LINK_DIR",
    "IMAGE_RESULTS_DIR",
    "IMAGE_RUN_DIR",
    "IMAGE_RUN_SERVICE_DIR",
    "IMAGE_TREE_ROOT",
    "Mode",
    "RenderOptions",
    "ServiceDef",
    "ServiceType",
    "Skipped",
]
