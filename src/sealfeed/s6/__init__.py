"""s6 supervision tree of the appliance: render (pure), check, run locally, report.

Public API: :func:`render_service_tree` (config -> s6-rc source tree), :func:`write_tree`,
:func:`check_tree`, :class:`Runtime` (where a tree runs: :func:`image_runtime` for the
image's /init, :func:`local_runtime` for ``sealfeed up``), :func:`check_layout` /
:func:`load_layout` (the image's layout.json against a configuration), :func:`scandir_tree`
(local mode), :class:`Appliance`/:func:`run_up` (``sealfeed up``, its state dir in
:mod:`sealfeed.s6.statedir`), :func:`collect`/:func:`read_states` (``sealfeed status``) and
the supervise decoders (status, death tally).
"""

from sealfeed.s6.check import TreeProblem, check_tree
from sealfeed.s6.graph import build_services, shutdown_layers
from sealfeed.s6.layout import Layout, check_layout, layout_mismatches, load_layout
from sealfeed.s6.local import scandir_tree
from sealfeed.s6.model import RenderOptions, ServiceDef, Skipped
from sealfeed.s6.render import RenderedTree, render_service_tree
from sealfeed.s6.runtime import Runtime, image_runtime, local_runtime
from sealfeed.s6.status import ServiceState, StatusReport, collect, read_states
from sealfeed.s6.supervise import SuperviseStatus, read_supervise_status
from sealfeed.s6.tree import write_tree
from sealfeed.s6.up import Appliance, UpOptions, UpResult, run_up

__all__ = [
    "Appliance",
    "Layout",
    "RenderOptions",
    "RenderedTree",
    "Runtime",
    "ServiceDef",
    "ServiceState",
    "Skipped",
    "StatusReport",
    "SuperviseStatus",
    "TreeProblem",
    "UpOptions",
    "UpResult",
    "build_services",
    "check_layout",
    "check_tree",
    "collect",
    "image_runtime",
    "layout_mismatches",
    "load_layout",
    "local_runtime",
    "read_states",
    "read_supervise_status",
    "render_service_tree",
    "run_up",
    "scandir_tree",
    "shutdown_layers",
    "write_tree",
]
