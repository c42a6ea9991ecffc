"""Where the supervision tree runs and how it is driven: one description for both modes.

The image (PID 1 = ``pkgs/init``: s6-rc-compile, s6-svscan, s6-rc) and local mode (``sealfeed
up``: the same tree converted to a plain scandir) run **the same service graph**
(:func:`sealfeed.s6.graph.build_services`, one call, no mode switch in it) rendered into the
same source tree. What differs is only where it lives and how a hook asks for the ordered
shutdown; both come from a :class:`Runtime` (ADR 0102)::

    <run_dir>/service/                          live scandir (restart ledgers per service)
    <run_dir>/s6-linux-init-container-results/  exitcode, cause, cause.json
    <run_dir>/s6/compiled, rc, basedir/bin/halt image only: s6-rc database, live state, halt
    <run_dir>/sealfeed/attestation.json         the start-up attestation document (ADR 0130)
    <tree_root>/s6-rc.d/                        the rendered source tree
    <inputs_dir>/                               where sealed secrets arrive (/sp/inputs, ADR 0131)

``sealfeed s6 render --run-dir`` and pkgs/init's ``@run@`` use the same derivation, so a boot
of the real init on a temporary root (tests) exercises the very scripts the image runs.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sealfeed.errors import InputError
from sealfeed.s6.model import (
    IMAGE_INPUTS_DIR,
    IMAGE_RUN_DIR,
    IMAGE_TREE_ROOT,
    Mode,
    RenderOptions,
)

#: local mode: finish/oneshot hooks only record the cause; ``sealfeed up`` watches for it
HALT_WATCH = "watch"
#: environment every service inherits (set by /init and by ``sealfeed up``): where the
#: exporter finds the live scandir and the source tree without flags (exporter/cli.py)
ENV_SCANDIR = "SEALFEED_SCANDIR"
ENV_SOURCE_DIR = "SEALFEED_S6_SOURCE_DIR"
#: where the exporter finds the attestation document it serves (GET /attestation)
ENV_ATTESTATION = "SEALFEED_ATTESTATION"


@dataclass(frozen=True)
class Runtime:
    """Paths and halt mechanism of one running tree (pure data; nothing is created)."""

    mode: Mode
    run_dir: str
    tree_root: str
    halt: str
    inputs_dir: str = IMAGE_INPUTS_DIR

    def _run(self, *parts: str) -> str:
        return str(PurePosixPath(self.run_dir, *parts))

    @property
    def scandir(self) -> str:
        return self._run("service")

    @property
    def results_dir(self) -> str:
        return self._run("s6-linux-init-container-results")

    @property
    def source_dir(self) -> str:
        return str(PurePosixPath(self.tree_root) / "s6-rc.d")

    @property
    def link_dir(self) -> str:
        """The attested link's directory (``sealfeed link serve --run-dir``; ADR 0143)."""
        return self._run("sealfeed", "link")

    @property
    def compiled_dir(self) -> str:
        return self._run("s6", "compiled")

    @property
    def live_dir(self) -> str:
        return self._run("s6", "rc")

    @property
    def attestation_path(self) -> str:
        return self._run("sealfeed", "attestation.json")

    def service_env(self) -> dict[str, str]:
        """Variables every service of the tree inherits (pkgs/init exports the same)."""
        return {
            ENV_SCANDIR: self.scandir,
            ENV_SOURCE_DIR: self.source_dir,
            ENV_ATTESTATION: self.attestation_path,
        }

    def render_options(self, **overrides: Any) -> RenderOptions:
        """RenderOptions whose paths are this runtime's; other fields from ``overrides``."""
        paths = {
            "mode": self.mode,
            "tree_root": self.tree_root,
            "run_service_dir": self.scandir,
            "results_dir": self.results_dir,
            "halt": self.halt,
            "link_dir": self.link_dir,
            "attestation_path": self.attestation_path,
            "inputs_dir": self.inputs_dir,
        }
        return dataclasses.replace(RenderOptions(), **{**overrides, **paths})

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "run_dir": self.run_dir,
            "tree_root": self.tree_root,
            "scandir": self.scandir,
            "results_dir": self.results_dir,
            "halt": self.halt,
            "link_dir": self.link_dir,
            "attestation": self.attestation_path,
            "inputs_dir": self.inputs_dir,
            "env": self.service_env(),
        }


def image_runtime(run_dir: str = IMAGE_RUN_DIR, tree_root: str = IMAGE_TREE_ROOT) -> Runtime:
    """The image: /init (pkgs/init) owns ``run_dir``; hooks halt through its halt program."""
    if not os.path.isabs(run_dir) or not os.path.isabs(tree_root):
        raise InputError("run dir and tree root must be absolute paths", location="--run-dir")
    halt = str(PurePosixPath(run_dir) / "s6" / "basedir" / "bin" / "halt")
    return Runtime(mode="image", run_dir=run_dir, tree_root=tree_root, halt=halt)


def local_runtime(state_dir: str | os.PathLike[str]) -> Runtime:
    """``sealfeed up``: everything below the state dir, at the image's relative places."""
    state = PurePosixPath(os.path.abspath(state_dir))
    return Runtime(
        mode="local",
        run_dir=str(state / "run"),
        tree_root=str(state / "etc" / "s6-overlay"),
        halt=HALT_WATCH,
        inputs_dir=str(state / "inputs"),
    )


__all__ = [
    "ENV_ATTESTATION",
    "ENV_SCANDIR",
    "ENV_SOURCE_DIR",
    "HALT_WATCH",
    "IMAGE_INPUTS_DIR",
    "Runtime",
    "image_runtime",
    "local_runtime",
]
