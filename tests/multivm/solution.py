"""A configuration whose DON spans VMs (``sealfeed.placement``), for every test that needs one."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sealfeed.config.example import example_solution
from sealfeed.config.loader import unread_secret
from sealfeed.config.model import ApplianceConfig
from sealfeed.config.schema import parse_solution

#: (name, nodes, address) of three VMs; node 1 (bootstrap) on vm-a
THREE_VMS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("vm-a", (1,), "10.9.0.2:7400"),
    ("vm-b", (2,), "10.9.0.3:7400"),
    ("vm-c", (3,), "10.9.0.4:7400"),
)
MRTD = "ab" * 48


def allow(mrtd: str = MRTD, measurement_id: str = "sealfeed-test") -> list[dict[str, Any]]:
    return [{"measurement_id": measurement_id, "attestation_type": "dcap-tdx",
             "measurements": {"0": {"expected": mrtd}}}]  # fmt: skip


def multi_vm_solution(
    vms: Sequence[tuple[str, Sequence[int], str]] = THREE_VMS,
    *,
    link: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sol = copy.deepcopy(example_solution())
    sol["totalNodes"] = sum(len(nodes) for _, nodes, _ in vms)
    sol.pop("nodesList", None)
    sol.pop("primaryNodes", None)
    sol["sealfeed"]["placement"] = [
        {"name": name, "nodes": list(nodes), "address": address} for name, nodes, address in vms
    ]
    sol["sealfeed"]["link"] = {"measurements": allow(), **(link or {})}
    return sol


def parse(sol: dict[str, Any]) -> ApplianceConfig:
    return parse_solution(sol, unread_secret)
