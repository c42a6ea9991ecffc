"""One VM's link plan, derived from the verified configuration and the VM's name (pure).

The signed configuration's ``sealfeed.placement`` says which VM runs which nodes and where
each VM's attested listener is; ``sealfeed.link`` says whom a VM admits (the allowed
measurements, TCB policy, collateral) and how often it re-checks (ADR 0141). From those and
``cfg.vm`` (:func:`sealfeed.config.placement.local_view`) :func:`derive_plan` builds the
:class:`~sealfeed.link.plan.LinkPlan` with the port scheme of docs/link.md "Ports":

* node N's P2P address is ``<p2pListenHost>:<p2pBasePort + N>`` on **every** VM;
* on N's own VM the node listens there and the link serves it as target ``node-N-p2p``;
* on every other VM the link's tunnel endpoint listens on that same address and forwards
  to target ``node-N-p2p`` of N's VM through the attested tunnel.

So each node announces one address, every VM renders the same bootstrapper list, and only
the link's listener is reachable from outside. Besides the P2P ports each VM serves one
document to verified peers, ``node-keys`` (its nodes' public keys: peer ids for the
bootstrapper list; ADR 0143), and fetches every peer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from sealfeed.attest.collateral import INTEL_PCS_URL
from sealfeed.attest.policy import Policy
from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256, normalize_fingerprint
from sealfeed.config.model import ApplianceConfig, LinkConfig
from sealfeed.config.placement import entry_of, is_multi_vm, peers_of
from sealfeed.errors import InputError
from sealfeed.link.measurements import parse_measurements
from sealfeed.link.plan import (
    Address,
    CollateralSpec,
    Forward,
    LinkPlan,
    LinkPolicy,
    Peer,
    check_plan,
    parse_address,
)

#: the document every VM publishes to its verified peers: its nodes' public keys
NODE_KEYS = "node-keys"


def p2p_target(node: int) -> str:
    """The link target name of node ``node``'s P2P port."""
    return f"node-{node}-p2p"


def p2p_address(cfg: ApplianceConfig, node: int) -> Address:
    """Where node ``node``'s P2P port is on every VM of the DON (docs/link.md "Ports")."""
    return Address(cfg.nodes.p2p_listen_host, cfg.nodes.p2p_base_port + node)


def measurements_json(link: LinkConfig) -> list[dict[str, Any]]:
    """``sealfeed.link.measurements`` back in the cvm-reverse-proxy JSON shape."""
    return [
        {
            "measurement_id": e.measurement_id,
            "attestation_type": e.attestation_type,
            "measurements": {
                k: {"expected": v.expected, "warnOnly": v.warn_only}
                for k, v in e.measurements.items()
            },
        }
        for e in link.measurements
    ]


def link_policy(link: LinkConfig) -> LinkPolicy:
    where = "sealfeed.link"
    measurements = parse_measurements(measurements_json(link), source=f"{where}.measurements")
    try:
        attest = Policy.from_dict(
            {
                "accepted_tcb_statuses": list(link.accepted_tcb_statuses),
                "allowed_advisory_ids": list(link.allowed_advisory_ids),
            },
            source=where,
        )
    except InputError as exc:  # name the configuration key, not the policy field
        key = "allowedAdvisoryIds" if "advisory" in str(exc) else "acceptedTcbStatuses"
        raise InputError(exc.message, location=f"{where}.{key}") from None
    age = link.max_quote_age_seconds
    return LinkPolicy(measurements, attest, None if age is None else float(age))


def collateral_spec(link: LinkConfig, cache_dir: str | None) -> CollateralSpec:
    c = link.collateral
    where = "sealfeed.link.collateral.rootCaFingerprints"
    try:
        roots = tuple(normalize_fingerprint(r) for r in c.root_ca_fingerprints)
    except (InputError, ValueError) as exc:
        raise InputError(str(exc), location=where) from None
    url = None if c.file else (c.pccs_url or INTEL_PCS_URL)
    return CollateralSpec(
        file=c.file,
        pccs_url=url,
        cache_dir=cache_dir if url else None,
        root_crl_url=c.root_crl_url,
        refresh_seconds=float(c.refresh_seconds),
        trust_roots=roots or (INTEL_SGX_ROOT_CA_SHA256,),
    )


def derive_plan(
    cfg: ApplianceConfig,
    *,
    run_dir: str | None = None,
    documents: Mapping[str, str] | None = None,
) -> LinkPlan:
    """The plan of VM ``cfg.vm``. ``run_dir`` (the link's directory) holds the PCCS cache,
    the published ``public/node-keys.json`` and the fetched ``peers/<vm>/node-keys.json``
    unless ``documents`` says otherwise."""
    if not is_multi_vm(cfg):
        raise InputError(
            "the link needs a sealfeed.placement with several VMs", location="sealfeed.placement"
        )
    if not cfg.vm:
        raise InputError("this VM's name is not known", location="--vm")
    index = next(k for k, e in enumerate(cfg.placement) if e.name == cfg.vm)
    me = entry_of(cfg, cfg.vm)
    at = f"sealfeed.placement[{index}]"
    listen = parse_address(me.listen or me.address, f"{at}.{'listen' if me.listen else 'address'}")
    peers = []
    for e in peers_of(cfg):
        k = cfg.placement.index(e)
        forwards = tuple(Forward(p2p_address(cfg, n), p2p_target(n)) for n in e.nodes)
        peers.append(Peer(e.name, parse_address(e.address, f"sealfeed.placement[{k}].address"),
                          forwards))  # fmt: skip
    p2p = {p2p_address(cfg, n): n for e in cfg.placement for n in e.nodes}
    if listen in p2p:
        raise InputError(
            f"{listen} is node {p2p[listen]}'s P2P address on every VM (p2pBasePort + node)",
            location=f"{at}.{'listen' if me.listen else 'address'}",
        )
    run = PurePosixPath(run_dir) if run_dir else None
    docs = dict(documents) if documents is not None else {}
    if documents is None and run is not None:
        docs = {NODE_KEYS: str(run / "public" / f"{NODE_KEYS}.json")}
    link = cfg.link
    reattest = float(link.reattest_seconds)
    plan = LinkPlan(
        vm=cfg.vm,
        listen=listen,
        peers=tuple(peers),
        targets={p2p_target(n): p2p_address(cfg, n) for n in me.nodes},
        policy=link_policy(link),
        collateral=collateral_spec(link, str(run / "pccs") if run else None),
        reattest_seconds=reattest,
        probe_seconds=float(link.probe_seconds or min(30.0, reattest)),
        handshake_timeout_seconds=float(link.handshake_timeout_seconds),
        documents=docs,
        fetch=(NODE_KEYS,) if run is not None else (),
        peers_dir=str(run / "peers") if run else None,
    )
    check_plan(plan, "sealfeed.link")
    return plan


def fetched_path(peers_dir: str, peer: str, name: str) -> PurePosixPath:
    """Where the link stores document ``name`` fetched from verified peer ``peer``."""
    return PurePosixPath(peers_dir) / peer / f"{name}.json"


__all__ = [
    "NODE_KEYS",
    "collateral_spec",
    "derive_plan",
    "fetched_path",
    "link_policy",
    "measurements_json",
    "p2p_address",
    "p2p_target",
]
