"""Node public keys across the VMs of one DON (ADR 0143).

Node keys are generated inside each VM's TEE and never leave it; a VM that does not run the
bootstrap node still needs its **peer id** for ``P2P.V2.DefaultBootstrappers`` and the jobs'
bootstrapper lists. Each VM therefore publishes its nodes' public keys as the link document
``node-keys`` (:func:`node_keys_document`), which the link serves only to verified peers --
the same measured image running the same signed configuration -- and fetches from them into
``<link dir>/peers/<vm>/node-keys.json``. :func:`parse_node_keys` trusts a fetched document
only for the nodes the signed placement puts on that VM. ``chainlink render`` and ``publish``
take the bootstrap nodes' peer ids from them (:func:`remote_peer_ids`), ``oracle-set`` every
oracle's public keys (:func:`remote_keys`, ADR 0147).

The document (JSON, public data only)::

    {"version": 1, "vm": "vm-a", "nodes": {"1": {<NodePublicKeys fields>}, ...}}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from sealfeed.chainlink.keys import NodePublicKeys
from sealfeed.chainlink.keystore import public_from_peer_id
from sealfeed.config.model import ApplianceConfig
from sealfeed.config.placement import remote_nodes
from sealfeed.errors import ExternalError, InputError
from sealfeed.fsutil import atomic_write

_log = logging.getLogger("sealfeed.chainlink.peers")

VERSION = 1
#: the link document name (sealfeed.link.placement.NODE_KEYS) and its file layout under the
#: link's directory (sealfeed.link.placement.derive_plan)
NODE_KEYS = "node-keys"
_FIELDS = {f.name for f in dataclasses.fields(NodePublicKeys)}


def published_path(link_dir: str | os.PathLike[str]) -> Path:
    return Path(link_dir) / "public" / f"{NODE_KEYS}.json"


def fetched_path(link_dir: str | os.PathLike[str], vm: str) -> Path:
    return Path(link_dir) / "peers" / vm / f"{NODE_KEYS}.json"


def node_keys_document(vm: str, keys: Mapping[int, NodePublicKeys]) -> bytes:
    doc = {
        "version": VERSION,
        "vm": vm,
        "nodes": {str(i): k.to_dict() for i, k in sorted(keys.items())},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def parse_node_keys(
    data: bytes, *, vm: str, placed: Collection[int], source: str
) -> dict[int, NodePublicKeys]:
    """The nodes of a fetched document, checked: it is ``vm``'s, every node it names is
    one the placement puts on ``vm`` (a VM speaks only for its own nodes), every peer id
    is an ed25519 peer id."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", location=source) from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise InputError(f"not a version {VERSION} node-keys document", location=source)
    if doc.get("vm") != vm:
        raise InputError(f"is {doc.get('vm')!r}'s document, not {vm!r}'s", location=source)
    nodes = doc.get("nodes")
    if not isinstance(nodes, dict):
        raise InputError("nodes must be an object", location=source)
    out: dict[int, NodePublicKeys] = {}
    for key, value in nodes.items():
        at = f"{source}: nodes.{key}"
        if not key.isdigit() or int(key) not in placed:
            raise InputError(f"node {key} is not placed on {vm}", location=at)
        if not isinstance(value, dict) or set(value) - _FIELDS or "peer_id" not in value:
            raise InputError("not the public keys of a node", location=at)
        try:
            keys = NodePublicKeys(**value)
            public_from_peer_id(keys.peer_id)
        except (TypeError, InputError):
            raise InputError("not the public keys of a node (peer id)", location=at) from None
        if keys.node != int(key):
            raise InputError(f"names node {keys.node}", location=at)
        out[int(key)] = keys
    return out


def publish_node_keys(
    cfg: ApplianceConfig, keys: Mapping[int, NodePublicKeys], link_dir: str | os.PathLike[str]
) -> Path:
    """Write this VM's document for the link to serve (public data: mode 0644)."""
    assert cfg.vm is not None
    return atomic_write(published_path(link_dir), node_keys_document(cfg.vm, keys), mode=0o644)


def _link_hint(link_dir: str | os.PathLike[str], vm: str) -> str:
    """What the link's status says about ``vm`` (why its keys have not arrived)."""
    try:
        status = json.loads((Path(link_dir) / "status.json").read_text())
        peer = next(p for p in status.get("peers", []) if p.get("name") == vm)
    except (OSError, ValueError, StopIteration, AttributeError):
        return "the link has no status for it yet"
    if peer.get("verified"):
        return "verified; its node keys are not published yet"
    fail = peer.get("last_failure") or {}
    if fail:
        return f"not verified: {fail.get('reason')}: {fail.get('detail', '')}"[:200]
    return "not verified yet"


def remote_keys(
    cfg: ApplianceConfig,
    link_dir: str | os.PathLike[str],
    *,
    nodes: Collection[int],
    wait_seconds: float | None = None,
    progress: Callable[[str], None] | None = None,
    poll: float = 1.0,
    progress_every: float = 15.0,
) -> dict[int, NodePublicKeys]:
    """Public keys of ``nodes`` (placed on other VMs) from the documents the link fetched.

    Waits until every one is there -- ``wait_seconds`` None: as long as it takes (a VM may
    come up before the one with the bootstrap node); 0: not at all -- reporting through
    ``progress`` what is missing and what the link says about that VM; then ExternalError
    naming every VM whose document is missing (exit 3: the peers are the dependency). A
    document that is there but wrong is an error at once (InputError naming the file)."""
    where = remote_nodes(cfg)
    want = {n: where[n] for n in nodes if n in where}
    start = time.monotonic()
    last_report: float | None = None
    while True:
        found: dict[int, NodePublicKeys] = {}
        missing: dict[str, list[int]] = {}
        for vm in sorted(set(want.values())):
            path = fetched_path(link_dir, vm)
            mine = sorted(n for n, v in want.items() if v == vm)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                missing[vm] = mine
                continue
            placed = [n for e in cfg.placement if e.name == vm for n in e.nodes]
            doc = parse_node_keys(data, vm=vm, placed=placed, source=str(path))
            for n in mine:
                if n in doc:
                    found[n] = doc[n]
                else:
                    missing.setdefault(vm, []).append(n)
        if not missing:
            return found
        now = time.monotonic()
        if wait_seconds is not None and now - start >= wait_seconds:
            what = "; ".join(f"{vm} (node {', '.join(map(str, ns))}): {_link_hint(link_dir, vm)}"
                             for vm, ns in missing.items())  # fmt: skip
            when = f"after {wait_seconds:g} s" if wait_seconds else "yet"
            raise ExternalError(
                f"no node keys {when} from {what}", location=str(fetched_path(link_dir, "*"))
            )
        if progress is not None and (last_report is None or now - last_report >= progress_every):
            for vm, ns in missing.items():
                progress(f"waiting for the node keys of {vm} (node {', '.join(map(str, ns))}) "
                         f"through the attested link: {_link_hint(link_dir, vm)}")  # fmt: skip
            last_report = now
        time.sleep(poll)


def remote_peer_ids(
    cfg: ApplianceConfig,
    link_dir: str | os.PathLike[str],
    *,
    nodes: Collection[int],
    wait_seconds: float | None = None,
    progress: Callable[[str], None] | None = None,
    poll: float = 1.0,
    progress_every: float = 15.0,
) -> dict[int, str]:
    """Peer ids of ``nodes`` (placed on other VMs): :func:`remote_keys`, peer ids only."""
    keys = remote_keys(cfg, link_dir, nodes=nodes, wait_seconds=wait_seconds,
                       progress=progress, poll=poll, progress_every=progress_every)  # fmt: skip
    return {n: k.peer_id for n, k in keys.items()}


__all__ = [
    "NODE_KEYS",
    "VERSION",
    "fetched_path",
    "node_keys_document",
    "parse_node_keys",
    "publish_node_keys",
    "published_path",
    "remote_keys",
    "remote_peer_ids",
]
