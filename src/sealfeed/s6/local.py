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
layer by layer in reverse dependency order before it stops s6-svscan. The same order is
written into ``.s6-svscan/SIGTERM`` (:func:`svscan_control_files`), which s6-svscan runs when
it receives SIGTERM -- from the kernel when the ``sealfeed up`` that owns it dies
(``PR_SET_PDEATHSIG``), or from an operator -- so a killed ``up`` still stops its tree in
order; ``.s6-svscan/finish`` then removes whatever an orphaned tree left behind.

A oneshot's structured log lines (stderr) would repeat its human report (stdout) step by
step on the terminal of ``sealfeed up``; its script itself (render.py, shared with the image)
runs it at log level WARNING unless ``SEALFEED_LOG_LEVEL`` says otherwise (ADRs 0129, 0148).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def svscan_control_files(
    layers: list[list[str]],
    loggers: list[str],
    timeouts: Mapping[str, float],
    *,
    marker: str,
    owner_pid: int,
    leftovers_file: str,
) -> dict[str, bytes]:
    """``.s6-svscan/SIGTERM`` and ``.s6-svscan/finish`` for a local scandir (s6-svscan.html,
    "Signals": s6-svscan runs ``.s6-svscan/SIG<name>`` on that signal and execs
    ``.s6-svscan/finish`` when it exits; both run with the scandir as cwd).

    SIGTERM: what ``sealfeed up`` does on Ctrl-C, in POSIX sh: each layer of ``layers`` down
    (``s6-svc -d``, one dir per call in s6 2.11) and waited for (``s6-svwait -D``, bounded by
    the layer's ``timeouts`` in seconds), then the ``loggers``, then ``s6-svscanctl -t``.
    finish: if s6-svscan's parent is still ``owner_pid`` (the ``sealfeed up`` that started
    it), that ``up`` checks for leftovers itself; otherwise it is orphaned and every process
    still carrying ``marker`` (``NAME=VALUE``) gets SIGTERM, then SIGKILL after 1 s, and is
    named on stderr and in ``leftovers_file``.
    """
    down = [
        "#!/bin/sh",
        "# generated by sealfeed up (s6/local.py): ordered stop on SIGTERM -- sent by the kernel",
        "# when the `sealfeed up` owning this tree dies (PR_SET_PDEATHSIG), or by an operator",
        'down() { t=$1; shift; for d in "$@"; do s6-svc -d "$d" 2>/dev/null; done',
        '  s6-svwait -D -t "$t" "$@" 2>/dev/null; }',
        "echo 'sealfeed up: s6-svscan got SIGTERM: stopping every service in reverse "
        "dependency order' >&2",
    ]
    for layer in [*layers, loggers]:
        if layer:
            ms = int(max(timeouts.get(n, 10.0) for n in layer) * 1000)
            down.append(f"down {ms} {command_line(layer)}")
    down.append("exec s6-svscanctl -t .")
    name, _, _value = marker.partition("=")
    finish = [
        "#!/bin/sh",
        "# generated by sealfeed up (s6/local.py): s6-svscan execs this when it exits",
        f"unset {name}  # so that the helpers below do not carry the marker themselves",
        "set -- $(cat /proc/$$/stat 2>/dev/null)",
        f'[ "${{4:-}}" = {owner_pid} ] && exit 0  # the owning `sealfeed up` checks leftovers itself',
        "# orphaned (its `sealfeed up` is gone): nobody else will clean up",
        "sweep() {  # $1: TERM (name and record each process) or KILL",
        "  for p in /proc/[0-9]*; do",
        '    pid=${p#/proc/}; [ "$pid" = $$ ] && continue',
        '    tr "\\0" "\\n" 2>/dev/null < "$p/environ" | grep -qxF '
        + command_line([marker])
        + " || continue",
        '    if [ "$1" = TERM ]; then found=1; comm=$(cat "$p/comm" 2>/dev/null)',
        '      echo "sealfeed up: orphaned tree: stopping leftover process $pid ($comm)" >&2',
        '      echo "$pid $comm" >> ' + command_line([leftovers_file]) + "; fi",
        '    kill "-$1" "$pid" 2>/dev/null',
        "  done; }",
        "found=",
        "sweep TERM",
        '[ -n "$found" ] || exit 0  # the usual case: the ordered stop left nothing',
        "sleep 1",
        "sweep KILL",
        "exit 0",
    ]
    return {
        ".s6-svscan/SIGTERM": ("\n".join(down) + "\n").encode(),
        ".s6-svscan/finish": ("\n".join(finish) + "\n").encode(),
    }


def scandir_path(state_dir: str | os.PathLike[str]) -> Path:
    """``<state>/run/service``: the same relative place as s6-overlay's live scandir."""
    return Path(state_dir) / "run" / "service"


__all__ = ["WRAPPED_RUN", "local_users", "scandir_path", "scandir_tree", "svscan_control_files"]
