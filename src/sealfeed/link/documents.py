"""Small documents a VM serves to its verified peers, and fetching them (ADR 0143).

A plan's ``documents`` (name -> file) are served to any peer that passed the handshake --
the same mutual attestation as a tunnel -- and its ``fetch`` names are fetched from every
verified peer into ``<peers_dir>/<peer>/<name>.json``. The link moves bytes only; whoever
reads a fetched file (``sealfeed chainlink render`` for ``node-keys``) validates it and
trusts it exactly as far as the placement lets that peer speak (its own nodes).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING

from sealfeed.link.admission import PeerRefused, Reason
from sealfeed.link.placement import fetched_path
from sealfeed.link.plan import Peer

if TYPE_CHECKING:
    from sealfeed.link.service import LinkService, PeerState

_log = logging.getLogger("sealfeed.link")

#: a published document (a VM's node public keys are a few KiB)
MAX_DOCUMENT_BYTES = 1024 * 1024
#: verdict reason for a document that is not there yet (not a failure of either side)
UNAVAILABLE = "unavailable"


async def read_document(path: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes | None:
    """The file's bytes, or None while it does not exist (not published yet) or is larger
    than ``limit``."""

    def read() -> bytes | None:
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            return None
        return data if len(data) <= limit else None

    return await asyncio.to_thread(read)


async def fetch_due(svc: LinkService, peer: Peer) -> None:
    """Fetch the plan's documents from a peer that just verified: until it has them, then
    once per re-attestation period (a VM that lost its volume publishes new keys)."""
    st = svc.peers[peer.name]
    for name in svc.plan.fetch:
        last = st.documents.get(name)
        if last is not None and svc.clock() - last["checked_at"] < svc.plan.reattest_seconds:
            continue
        try:
            data = await svc.fetch_document(peer, name)
        except PeerRefused as r:
            if r.reason is Reason.REFUSED_BY_PEER and r.detail.startswith(UNAVAILABLE):
                _log.debug("document not published yet",
                           extra={"event": "document_unavailable", "peer": peer.name,
                                  "document": name})  # fmt: skip
            else:
                svc.failed(peer.name, r.reason, f"document {name}: {r.detail}",
                           authoritative=True)  # fmt: skip
            continue
        await store(svc, st, name, data)


async def store(svc: LinkService, st: PeerState, name: str, data: bytes) -> None:
    """Write a fetched document atomically when its content changed; record it."""
    from sealfeed.fsutil import atomic_write

    digest = hashlib.sha256(data).hexdigest()
    now = svc.clock()
    last = st.documents.get(name)
    if last is not None and last["sha256"] == digest:
        last["checked_at"] = now
        return
    assert svc.plan.peers_dir is not None  # check_plan: fetch needs peers_dir
    path = fetched_path(svc.plan.peers_dir, st.name, name)
    try:
        await asyncio.to_thread(atomic_write, path, data)
    except OSError as exc:
        _log.warning("cannot store a fetched document",
                     extra={"event": "document_store_failed", "peer": st.name, "document": name,
                            "error": str(exc)})  # fmt: skip
        return
    _log.info("document fetched",
              extra={"event": "document_fetched", "peer": st.name, "document": name,
                     "sha256": digest[:16], "bytes": len(data)})  # fmt: skip
    st.documents[name] = {"sha256": digest, "bytes": len(data), "fetched_at": now,
                          "checked_at": now}  # fmt: skip
    svc.mark_dirty()


__all__ = ["MAX_DOCUMENT_BYTES", "UNAVAILABLE", "fetch_due", "read_document", "store"]
