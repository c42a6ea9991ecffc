"""Local mode: turn the rendered s6-rc source tree into a plain s6-svscan scandir.

Debian ships s6 2.11 but not s6-rc (ADR 0050), so ``sealfeed up`` maps the same tree onto
what s6-svscan alone offers:

- a longrun keeps its ``run``/``finish``/``notification-fd``/``data/``/``down-signal``/
  ``timeout-*``; its logger becomes the ``log/`` subservice (s6-svscan creates the pipe,
  as s6-rc does for ``producer-for``/``consumer-for``);
- a dependency becomes a wait at the top of ``run``: ``s6-svwait -U`` on every dependency
  (up *and* ready), then ``exec`` of the original run script (same pid, fd 3 inherited);
- a oneshot becomes a service that waits for its dependencies, runs its ``up`` script once,
  signals readiness on success and then idles, so its dependents' ``s6-svwait -U`` works.
  A failing oneshot has already recorded the cause and asked for a halt (its script does).

Shutdown order is not something s6-svscan knows: ``sealfeed up`` brings services down
layer by layer in reverse dependency order before it stops s6-svscan.
"""

from __future__ import annotations

import os
from pathlib import Path

from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import InputError
from sealfeed.s6.graph import command_line
from sealfeed.s6.render import EXEC_MODE, RenderedTree
from sealfeed.s6.tree import SourceService, read_source_tree

#: files of a longrun's directory that s6-supervise itself reads (servicedir.html)
_SUPERVISE_FILES = (
    "finish",
    "notification-fd",
    "down-signal",
    "timeout-kill",
    "timeout-finish",
    "max-death-tally",
)
WRAPPED_RUN = "run.service"
ONESHOT_NOTIFY_FD = 3

_WAITFG = (
    "# run a command in the background and wait, so SIGTERM (s6-svc -d) reaches it too\n"
    'waitfg() { "$@" & c=$!; trap \'kill "$c" 2>/dev/null; exit 143\' TERM INT; '
    'wait "$c"; r=$?; trap - TERM INT; return "$r"; }\n'
)


def _wait_block(deps: list[str]) -> str:
    if not deps:
        return ""
    targets = command_line(f"../{d}" for d in deps)
    # s6-svwait fails until the dependency's s6-supervise has created its event fifodir
    return f"until waitfg s6-svwait -U {targets} 2>/dev/null; do waitfg sleep 0.1; done\n"


def _header(name: str, what: str) -> str:
    return f"#!/bin/sh\n# {name}: sealfeed local mode ({what}; docs/adr/0050)\n"


def _copy(svc: SourceService, rels: tuple[str, ...], prefix: str, files: dict[str, bytes],
          modes: dict[str, int]) -> None:  # fmt: skip
    for rel in rels:
        path = svc.file(rel)
        if path.is_file():
            files[f"{prefix}/{rel}"] = path.read_bytes()
            if os.access(path, os.X_OK):
                modes[f"{prefix}/{rel}"] = EXEC_MODE
    data = svc.file("data")
    if data.is_dir():
        for path in sorted(data.rglob("*")):
            if path.is_file():
                rel = f"{prefix}/data/{path.relative_to(data)}"
                files[rel] = path.read_bytes()
                if os.access(path, os.X_OK):
                    modes[rel] = EXEC_MODE


def scandir_tree(source_root: str | os.PathLike[str]) -> RenderedTree:
    """Files of the scandir equivalent to the source tree at ``source_root``."""
    services = read_source_tree(source_root)
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    for name, svc in services.items():
        deps = [d for d in svc.dependencies if d in services]
        if svc.type == "bundle" or svc.consumer_for is not None:
            continue
        if svc.type == "oneshot":
            up = (svc.text("up") or "").split()
            if len(up) != 1 or not up[0].startswith("/"):
                raise InputError(
                    "local mode runs oneshots whose up line is one absolute script path",
                    location=str(svc.file("up")),
                )
            files[f"{name}/run"] = (
                _header(name, "oneshot as a service that idles once done")
                + _WAITFG
                + _wait_block(deps)
                + f"if waitfg {command_line(up)}; then echo >&{ONESHOT_NOTIFY_FD}; fi\n"
                + "exec sleep infinity\n"
            ).encode()
            modes[f"{name}/run"] = EXEC_MODE
            files[f"{name}/notification-fd"] = f"{ONESHOT_NOTIFY_FD}\n".encode()
            continue
        _copy(svc, _SUPERVISE_FILES, name, files, modes)
        run = svc.file("run").read_bytes()
        if deps:
            files[f"{name}/{WRAPPED_RUN}"] = run
            modes[f"{name}/{WRAPPED_RUN}"] = EXEC_MODE
            files[f"{name}/run"] = (
                _header(name, "waits for its dependencies, then runs the service")
                + _WAITFG
                + _wait_block(deps)
                + f"exec ./{WRAPPED_RUN}\n"
            ).encode()
        else:
            files[f"{name}/run"] = run
        modes[f"{name}/run"] = EXEC_MODE
        if svc.producer_for and svc.producer_for in services:
            logger = services[svc.producer_for]
            _copy(logger, ("run", *_SUPERVISE_FILES), f"{name}/log", files, modes)
    return RenderedTree(files=files, modes=modes)


def local_users(cfg: ApplianceConfig, service_names: list[str]) -> dict[str, str | None]:
    """Who runs what in local mode when ``up`` itself runs as root.

    PostgreSQL refuses to run as root and Chainlink nodes never do: they get their image
    account when it exists (``postgres``; ``chainlink-N``), else ``nobody`` for the nodes.
    Everything else runs as the invoking user, as local mode promises.
    """
    import pwd

    def exists(user: str) -> bool:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return False
        return True

    users: dict[str, str | None] = dict.fromkeys(service_names)
    users["postgres"] = "postgres" if exists("postgres") else None
    for spec in cfg.nodes.specs():
        users[spec.service] = spec.os_user if exists(spec.os_user) else "nobody"
    return users


def scandir_path(state_dir: str | os.PathLike[str]) -> Path:
    """``<state>/run/service``: the same relative place as s6-overlay's live scandir."""
    return Path(state_dir) / "run" / "service"


__all__ = ["WRAPPED_RUN", "local_users", "scandir_path", "scandir_tree"]
