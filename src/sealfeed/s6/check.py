"""``sealfeed s6 check DIR``: validate an s6-rc source tree before it is compiled or run.

Checks what s6-rc-compile would reject (types, names, reserved ``s6rc-``/``s6-rc-`` prefixes,
dangling dependencies and bundle members, cycles, pipeline consistency) plus sealfeed's own
rules: run/finish/check scripts executable, every longrun has a logger, oneshot ``up`` lines
point at scripts that exist.

The tree must be self-contained: /init compiles ``<root>/s6-rc.d`` alone, so a name that is
not defined in it (s6-overlay's ``base`` bundle, say) is an error, never an "external"
(ADR 0100; s6-rc-compile: "undefined service name").
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sealfeed.s6.render import SCRIPTS_DIR
from sealfeed.s6.tree import SourceService, read_source_tree

#: s6-rc-compile refuses names with '/' or a leading '.'; sealfeed is stricter so a name is
#: always a safe path component, user name suffix and metric label.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TYPES = ("oneshot", "longrun", "bundle")
#: s6-rc-compile.html, "Source format": names "are also forbidden to use the reserved s6rc-
#: and s6-rc- prefixes" (s6-rc-compile adds s6rc-oneshot-runner and s6rc-fdholder itself)
RESERVED_PREFIXES = ("s6rc-", "s6-rc-")


@dataclass(frozen=True)
class TreeProblem:
    service: str
    message: str

    def __str__(self) -> str:
        return f"{self.service}: {self.message}"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _check_int(svc: SourceService, rel: str, out: list[TreeProblem]) -> None:
    text = svc.text(rel)
    if text is not None and not text.isdigit():
        out.append(TreeProblem(svc.name, f"{rel} must be a non-negative integer, got {text!r}"))


def _cycles(services: dict[str, SourceService]) -> Iterable[list[str]]:
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def edges(s: SourceService) -> list[str]:
        return [d for d in (*s.dependencies, *s.contents) if d in services]

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for nxt in edges(services[name]):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt] if nxt in stack else [nxt])
            elif state.get(nxt) is None:
                visit(nxt, [*stack, nxt])
        state[name] = 2

    for name in services:
        if name not in state:
            visit(name, [name])
    return found


def check_tree(root: str | os.PathLike[str]) -> list[TreeProblem]:
    """Every problem found in the tree at ``root`` (empty list: valid)."""
    base = Path(root)
    services = read_source_tree(base)
    known = set(services)
    out: list[TreeProblem] = []
    if not services:
        out.append(TreeProblem("<tree>", "no services"))
    pipelines: dict[str, str] = {}
    for name, svc in services.items():
        if not NAME_RE.match(name):
            out.append(TreeProblem(name, "illegal service name (want [a-z0-9][a-z0-9._-]*)"))
        if name.startswith(RESERVED_PREFIXES):
            out.append(
                TreeProblem(name, "names starting with s6rc- or s6-rc- are reserved by s6-rc")
            )
        if svc.type not in TYPES:
            out.append(
                TreeProblem(name, f"type must be one of {', '.join(TYPES)}, got {svc.type!r}")
            )
            continue
        for dep in svc.dependencies:
            if dep not in known:
                out.append(TreeProblem(name, f"dependency {dep!r} is not defined in this tree"))
        if svc.type == "bundle":
            if not svc.contents:
                out.append(TreeProblem(name, "bundle has no contents.d entries"))
            for member in svc.contents:
                if member not in services:
                    out.append(
                        TreeProblem(name, f"bundle member {member!r} is not defined in this tree")
                    )
            continue
        if svc.type == "oneshot":
            up = svc.text("up")
            if not up:
                out.append(TreeProblem(name, "oneshot without an up command line"))
            else:
                token = up.split()[0]
                local = base / SCRIPTS_DIR / Path(token).name
                if Path(token).parent.name == SCRIPTS_DIR and not _executable(local):
                    out.append(TreeProblem(name, f"up script {local} missing or not executable"))
            continue
        # longrun
        if not _executable(svc.file("run")):
            out.append(TreeProblem(name, "run missing or not executable"))
        if svc.file("finish").exists() and not _executable(svc.file("finish")):
            out.append(TreeProblem(name, "finish is not executable"))
        if svc.file("data/check").exists() and not _executable(svc.file("data/check")):
            out.append(TreeProblem(name, "data/check is not executable"))
        for rel in ("notification-fd", "timeout-kill", "timeout-finish", "timeout-up"):
            _check_int(svc, rel, out)
        sig = svc.text("down-signal")
        if sig is not None and sig not in signal.Signals.__members__:
            out.append(TreeProblem(name, f"down-signal {sig!r} is not a signal name"))
        if svc.consumer_for is not None:
            prod = services.get(svc.consumer_for)
            if prod is None or prod.producer_for != name:
                out.append(
                    TreeProblem(
                        name, f"consumer-for {svc.consumer_for!r} has no matching producer-for"
                    )
                )
            pipeline = svc.text("pipeline-name")
            if pipeline is None:
                out.append(TreeProblem(name, "last consumer of a pipeline needs pipeline-name"))
            elif pipeline in services or pipeline in pipelines:
                # s6-rc-compile creates a bundle of that name: it must be unique
                other = pipelines.get(pipeline, pipeline)
                out.append(TreeProblem(name, f"pipeline-name {pipeline!r} collides with {other!r}"))
            else:
                pipelines[pipeline] = name
        else:
            logger = services.get(svc.producer_for or "")
            if svc.producer_for is None:
                out.append(TreeProblem(name, "longrun has no logger (producer-for missing)"))
            elif logger is None or logger.consumer_for != name:
                out.append(
                    TreeProblem(name, f"producer-for {svc.producer_for!r} has no matching consumer")
                )
    for cycle in _cycles(services):
        out.append(TreeProblem(cycle[0], "dependency cycle: " + " -> ".join(cycle)))
    return out


__all__ = ["TreeProblem", "check_tree"]
