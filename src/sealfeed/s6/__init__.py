"""s6 supervision tree of the appliance: render (pure), check, run locally, report.

Public API: :func:`render_service_tree` (config -> s6-rc source tree), :func:`write_tree`,
:func:`check_tree`, :func:`scandir_tree` (local mode), :class:`Appliance`/:func:`run_up`
(``sealfeed up``), :func:`read_states` (``sealfeed status``) and the supervise decoder.
"""

from sealfeed.s6.check import Problem, check_tree
from sealfeed.s6.graph import build_services, shutdown_layers
from sealfeed.s6.local import scandir_tree
from sealfeed.s6.model import RenderOptions, ServiceDef, Skipped
from sealfeed.s6.render import RenderedTree, render_service_tree
from sealfeed.s6.status import ServiceState, read_states
from sealfeed.s6.supervise import SuperviseStatus, read_supervise_status
from sealfeed.s6.tree import write_tree
from sealfeed.s6.up import Appliance, UpOptions, UpResult, run_up

__all__ = [
    "Appliance",
    "Problem",
    "RenderOptions",
    "RenderedTree",
    "ServiceDef",
    "ServiceState",
    "Skipped",
    "SuperviseStatus",
    "UpOptions",
    "UpResult",
    "build_services",
    "check_tree",
    "read_states",
    "read_supervise_status",
    "render_service_tree",
    "run_up",
    "scandir_tree",
    "shutdown_layers",
    "write_tree",
]
