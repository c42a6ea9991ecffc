"""One DON over several VMs: the rules of ``sealfeed.placement`` and one VM's view (pure).

``sealfeed.placement`` (ADR 0140) says which VM runs which nodes and where each VM's attested
link listens. Every VM runs the **same** signed configuration (its object-hash is what the
link's quotes bind, so peers can check they run one DON); what differs per VM is only its
*name*, given at deploy time outside the signed file (``--vm``, env ``SEALFEED_VM``, the
order input ``sealfeed-vm``; ADR 0142) and checked against the placement here.

:func:`local_view` turns the DON's configuration into one VM's: ``nodes.nodes_list`` becomes
the VM's nodes, so every component that iterates ``cfg.nodes.specs()`` (PostgreSQL roles and
databases, key files, rendered node files, the s6 graph) handles only them; the pushes gain a
``vm`` grouping label so VMs never overwrite each other's series. The placement itself, the
bootstrap and primary node sets stay whole (the DON is still one).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sealfeed.config.model import (
    HOST_PORT,
    ApplianceConfig,
    MetricsPushConfig,
    PlacementEntry,
)
from sealfeed.errors import InputError

#: where a VM learns its name (conventions: env for local runs and tests)
ENV_VM = "SEALFEED_VM"
VM_LABEL = "vm"


def split_host_port(value: Any) -> tuple[str, int] | None:
    """``host:port`` / ``[v6]:port`` -> (host, port); None if ``value`` is not one."""
    if not isinstance(value, str) or not re.fullmatch(HOST_PORT, value):
        return None
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def placement_problems(v: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-field rules of ``sealfeed.placement`` on the validated solution object ``v``:
    unique names and addresses, every node of the DON placed exactly once, addresses that
    every VM can dial (the bootstrap node must be reachable by all), the link's allow-list
    and loopback P2P hosts when the DON spans VMs."""
    sf = v.get("sealfeed") or {}
    entries = sf.get("placement") or ()
    if not entries:
        return []
    out: list[tuple[str, str]] = []
    total = _int(v.get("totalNodes"), 0)
    don = tuple(v.get("nodesList") or range(1, total + 1))
    boot = set(range(1, _int(v.get("bootstrapNodes"), 1) + 1))
    where_node: dict[int, str] = {}
    names: dict[str, int] = {}
    addresses: dict[tuple[str, int], str] = {}
    entries = [e for e in entries if isinstance(e, Mapping)]  # (invalid ones are reported)
    for k, e in enumerate(entries):
        at = f"sealfeed.placement[{k}]"
        name = e.get("name")
        if name in names:
            out.append((f"{at}.name", f"{name!r} is already placement[{names[name]}]"))
        names.setdefault(name, k)
        nodes = e.get("nodes") or ()
        if not nodes:
            out.append((f"{at}.nodes", "a VM must run at least one node"))
        for node in nodes:
            if node not in don:
                out.append((f"{at}.nodes", f"node {node} is not a node of this DON "
                                           f"(nodesList/totalNodes: {list(don)})"))  # fmt: skip
            elif node in where_node:
                out.append((f"{at}.nodes", f"node {node} is already placed on {where_node[node]}"))
            else:
                where_node[node] = str(name)
        for key in ("address", "listen"):
            hp = split_host_port(e.get(key))
            if hp is None:
                continue
            host, port = hp
            if not 1 <= port <= 65535:
                out.append((f"{at}.{key}", f"port {port} is outside 1..65535"))
            if key == "address":
                if _unspecified(host):
                    out.append((f"{at}.address", f"{host} cannot be dialled: give the address "
                                                 "peers reach (a wildcard belongs in listen)"))  # fmt: skip
                if (host, port) in addresses:
                    out.append((f"{at}.address", f"{e[key]} is also {addresses[(host, port)]}'s"))
                addresses.setdefault((host, port), str(name))
    unplaced = [n for n in don if n not in where_node]
    if unplaced:
        out.append(("sealfeed.placement", f"node(s) {unplaced} are on no VM: place every node "
                                          "of the DON exactly once"))  # fmt: skip
    if len(entries) < 2:
        return out
    # several VMs: every VM must reach every other's listener; an address that only works
    # on its own host (loopback) cannot be reached once any VM lives elsewhere
    hosts_of = [split_host_port(e.get("address")) for e in entries]
    remote = [e for e, hp in zip(entries, hosts_of, strict=True) if hp and not _loopback(hp[0])]
    if remote:
        for k, (e, hp) in enumerate(zip(entries, hosts_of, strict=True)):
            if hp is None or e in remote:
                continue
            hosted = sorted(boot & set(e.get("nodes") or ()))
            lead = (
                f"bootstrap node {hosted[0]} must be reachable by all VMs, but " if hosted else ""
            )
            out.append((f"sealfeed.placement[{k}].address",
                        f"{lead}{e['address']} is a loopback address: the other VMs cannot reach "
                        f"it ({remote[0]['name']} is at {remote[0]['address']})"))  # fmt: skip
    if not (sf.get("link") or {}).get("measurements"):
        out.append(("sealfeed.link.measurements", "is required when the placement has several "
                    "VMs: the allowed TD measurements of peers (cvm-reverse-proxy format)"))  # fmt: skip
    nodes = sf.get("nodes") or {}
    hosts = {k: str(nodes.get(k, "127.0.0.1")) for k in ("p2pListenHost", "p2pAnnounceHost")}
    for key, host in hosts.items():
        if not _loopback(host):
            out.append((f"sealfeed.nodes.{key}", f"must be a loopback address when the DON spans "
                        f"VMs (cross-VM P2P goes through the attested link), got {host!r}"))  # fmt: skip
    if len(set(hosts.values())) > 1:
        out.append(("sealfeed.nodes.p2pAnnounceHost", "must equal p2pListenHost when the DON "
                    "spans VMs: a node is announced where the other VMs' tunnel endpoints are"))  # fmt: skip
    return out


# --- one VM's view -------------------------------------------------------------------------


def is_multi_vm(cfg: ApplianceConfig) -> bool:
    return len(cfg.placement) > 1


def vm_names(cfg: ApplianceConfig) -> tuple[str, ...]:
    return tuple(e.name for e in cfg.placement)


def entry_of(cfg: ApplianceConfig, vm: str, *, location: str = ENV_VM) -> PlacementEntry:
    for e in cfg.placement:
        if e.name == vm:
            return e
    raise InputError(
        f"{vm!r} is not a VM of sealfeed.placement ({', '.join(vm_names(cfg))})",
        location=location,
    )


def vm_of_node(cfg: ApplianceConfig, node: int) -> str | None:
    for e in cfg.placement:
        if node in e.nodes:
            return e.name
    return None


def _with_vm(push: MetricsPushConfig, vm: str) -> MetricsPushConfig:
    return dataclasses.replace(push, grouping_labels={**push.grouping_labels, VM_LABEL: vm})


def local_view(cfg: ApplianceConfig, vm: str | None, *, location: str = ENV_VM) -> ApplianceConfig:
    """The configuration as VM ``vm`` runs it (see the module doc). ``vm`` None: the whole
    DON (a one-entry placement names its only VM). A name the placement does not list, or
    any name for a configuration without placement, is an input error (fail closed: a VM
    must never guess which nodes are its own)."""
    if not cfg.placement:
        if vm:
            raise InputError(
                f"VM name {vm!r} given, but the configuration has no sealfeed.placement "
                "(every node runs in one VM)",
                location=location,
            )
        return cfg
    if vm is None:
        if len(cfg.placement) > 1:
            return cfg
        vm = cfg.placement[0].name
    entry = entry_of(cfg, vm, location=location)
    mine = tuple(s.index for s in cfg.nodes.specs() if s.index in entry.nodes)
    view = dataclasses.replace(cfg, nodes=dataclasses.replace(cfg.nodes, nodes_list=mine), vm=vm)
    if not is_multi_vm(cfg):
        return view
    # several VMs push to one receiver with one configuration: the VM name keeps their
    # groups (Pushgateway) / series (VictoriaMetrics extra_label) apart
    return dataclasses.replace(
        view,
        exporter=dataclasses.replace(cfg.exporter, push=_with_vm(cfg.exporter.push, vm)),
        aggregator=dataclasses.replace(
            cfg.aggregator, metrics_push=_with_vm(cfg.aggregator.metrics_push, vm)
        ),
    )


def require_vm(cfg: ApplianceConfig, vm: str | None, *, location: str = ENV_VM) -> None:
    """A VM of a multi-VM placement must know its name before anything starts."""
    if is_multi_vm(cfg) and not vm:
        raise InputError(
            "this configuration places the DON on several VMs "
            f"({', '.join(vm_names(cfg))}): tell this VM its name (--vm, env {ENV_VM}, "
            "or the order input file sealfeed-vm)",
            location=location,
        )


def remote_nodes(cfg: ApplianceConfig) -> dict[int, str]:
    """Nodes of the DON placed on other VMs than ``cfg.vm``: node -> VM name."""
    return {n: e.name for e in cfg.placement if e.name != cfg.vm for n in e.nodes}


def peers_of(cfg: ApplianceConfig) -> Sequence[PlacementEntry]:
    return tuple(e for e in cfg.placement if e.name != cfg.vm)


__all__ = [
    "ENV_VM",
    "VM_LABEL",
    "entry_of",
    "is_multi_vm",
    "local_view",
    "peers_of",
    "placement_problems",
    "remote_nodes",
    "require_vm",
    "split_host_port",
    "vm_names",
    "vm_of_node",
]
