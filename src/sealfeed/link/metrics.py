"""``sealfeed_link_*`` metrics (docs/monitoring.md "link"), one registry per process.

Per peer: verified (0/1), last successful verification time, failures by reason, tunnels
open, bytes. Every planned peer's series exist from the start (verified 0, failures 0 for
every reason) so rates and the "unverified" alert work before the first event. Failures of
inbound handshakes whose claimed VM name the plan does not list count as ``peer="unknown"``
(label values stay bounded by the plan, whatever a remote party claims).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from sealfeed.link.admission import Reason

UNKNOWN_PEER = "unknown"
#: labels our series carry themselves (a push grouping label of the same name would clash)
SERIES_LABELS = frozenset({"peer", "reason", "direction"})


class LinkMetrics:
    def __init__(self, registry: CollectorRegistry, peers: Iterable[str]) -> None:
        self.registry = registry
        self.verified = Gauge(
            "sealfeed_link_peer_verified",
            "1 while the peer's latest verification succeeded, else 0",
            ["peer"],
            registry=registry,
        )
        self.last_verified = Gauge(
            "sealfeed_link_peer_last_verified_timestamp_seconds",
            "Unix time of the peer's last successful verification (0 = never)",
            ["peer"],
            registry=registry,
        )
        self.failures = Counter(
            "sealfeed_link_peer_failures",
            "Refused handshakes, re-attestations and re-verifications by reason",
            ["peer", "reason"],
            registry=registry,
        )
        self.tunnels = Gauge(
            "sealfeed_link_tunnels_open",
            "Open tunnels by peer and direction (outbound = we dialled)",
            ["peer", "direction"],
            registry=registry,
        )
        self.bytes = Counter(
            "sealfeed_link_bytes",
            "Payload bytes through the peer's tunnels (sent = towards the peer)",
            ["peer", "direction"],
            registry=registry,
        )
        self.identity_issued = Gauge(
            "sealfeed_link_identity_issued_timestamp_seconds",
            "Issue time of this VM's current identity quote (rotates every reattest period)",
            registry=registry,
        )
        self.identity_failures = Counter(
            "sealfeed_link_identity_failures",
            "Failed attempts to create a new identity (key + quote)",
            registry=registry,
        )
        for peer in peers:
            self.add_peer(peer)
        for reason in Reason:  # no verified series: "unknown" is not a peer to alert on
            self.failures.labels(UNKNOWN_PEER, reason.value)

    def add_peer(self, peer: str) -> None:
        self.verified.labels(peer).set(0)
        self.last_verified.labels(peer).set(0)
        for reason in Reason:
            self.failures.labels(peer, reason.value)
        for direction in ("inbound", "outbound"):
            self.tunnels.labels(peer, direction).set(0)
        for direction in ("sent", "received"):
            self.bytes.labels(peer, direction)


__all__ = ["SERIES_LABELS", "UNKNOWN_PEER", "LinkMetrics"]
