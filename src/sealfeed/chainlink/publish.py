"""Idempotent publishing of keys and jobs to every node (plan is pure, apply does the IO).

Per node: log in, import the node's keys unless already present, list jobs, then compare
with the desired specs by job name: same name + same content id (``externalJobID``) ->
keep; same name, other id -> replace (delete, create); missing -> create; any other job on
the node -> reported as extra, deleted only with ``prune``. Nothing is sent anywhere until
every feed and key file has been validated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from sealfeed.chainlink.client import NodeClient, RemoteJob, RetryPolicy
from sealfeed.chainlink.jobs import JobSpec, desired_jobs
from sealfeed.chainlink.keys import KeyKind, NodePublicKeys, load_public_keys, read_export
from sealfeed.chainlink.render import bootstrappers
from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.errors import ExternalError, InputError
from sealfeed.netutil import reachable_host

_log = logging.getLogger("sealfeed.chainlink.publish")

Action = Literal["keep", "create", "replace", "extra", "delete", "failed"]


@dataclass(frozen=True)
class PlannedAction:
    action: Action
    name: str
    spec: JobSpec | None = None
    existing: RemoteJob | None = None


@dataclass
class Row:
    node: int
    kind: Literal["job", "key"]
    name: str
    action: str
    job_id: str = ""
    detail: str = ""


@dataclass
class PublishReport:
    rows: list[Row] = field(default_factory=list)
    failed_nodes: list[int] = field(default_factory=list)
    #: nodes whose P2P key changed: their P2P layer picks up the new key only after a restart
    restart_required: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.action in ("create", "replace", "delete", "import") for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.action] = out.get(r.action, 0) + 1
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": not self.failed_nodes,
            "changed": self.changed,
            "counts": self.counts(),
            "failed_nodes": self.failed_nodes,
            "restart_required": self.restart_required,
            "rows": [asdict(r) for r in self.rows],
        }

    def table(self) -> str:
        headers = ("NODE", "KIND", "NAME", "ACTION", "JOB ID", "DETAIL")
        rows = [(str(r.node), r.kind, r.name, r.action, r.job_id, r.detail) for r in self.rows]
        widths = [
            max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
            for i, h in enumerate(headers)
        ]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        summary = ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items())) or "nothing to do"
        lines.append(f"summary: {summary}")
        if self.restart_required:
            nodes = ", ".join(str(n) for n in self.restart_required)
            lines.append(f"restart required (P2P key changed): node {nodes}")
        return "\n".join(lines)


def plan_node(
    desired: Sequence[JobSpec], existing: Iterable[RemoteJob], *, prune: bool
) -> list[PlannedAction]:
    by_name: dict[str, list[RemoteJob]] = {}
    for job in existing:
        by_name.setdefault(job.name, []).append(job)
    plan: list[PlannedAction] = []
    for spec in desired:
        found = by_name.pop(spec.name, [])
        match = next((j for j in found if j.external_job_id == spec.external_job_id.lower()), None)
        if match is not None:
            plan.append(PlannedAction("keep", spec.name, spec, match))
            found = [j for j in found if j is not match]
        elif found:
            plan.append(PlannedAction("replace", spec.name, spec, found[0]))
            found = found[1:]
        else:
            plan.append(PlannedAction("create", spec.name, spec))
        for dup in found:  # same name twice on the node: the older copies are extras
            plan.append(PlannedAction("delete" if prune else "extra", dup.name, None, dup))
    for jobs in by_name.values():
        for job in jobs:
            plan.append(PlannedAction("delete" if prune else "extra", job.name, None, job))
    return plan


@dataclass(frozen=True)
class NodeKeyExports:
    """The key documents to import on one node (bootstrap nodes need only their P2P key;
    the OCR1 bundle goes to oracle nodes only when a feed is OCR1)."""

    evm: Mapping[str, object] | None
    p2p: Mapping[str, object]
    ocr2: Mapping[str, object] | None
    ocr1: Mapping[str, object] | None = None


ClientFactory = Callable[[NodeSpec], NodeClient]


def prepare(
    cfg: ApplianceConfig, *, remote_peer_ids: Mapping[int, str] | None = None
) -> tuple[dict[int, NodePublicKeys], dict[int, NodeKeyExports], dict[int, list[JobSpec]]]:
    """Validate everything and build all specs -- no network. Raises InputError.
    ``remote_peer_ids``: bootstrap nodes on other VMs (:mod:`sealfeed.chainlink.peers`)."""
    keys = {n.index: load_public_keys(cfg.secrets_dir, n.index) for n in cfg.nodes.specs()}
    ocr1 = any(f.ocr_version == 1 for f in cfg.chainlink.feeds)

    def export(node: NodeSpec, kind: KeyKind) -> Mapping[str, object] | None:
        return None if node.role == "bootstrap" else read_export(cfg.secrets_dir, node.index, kind)

    exports = {
        n.index: NodeKeyExports(
            evm=export(n, "evm"),
            p2p=read_export(cfg.secrets_dir, n.index, "p2p"),
            ocr2=export(n, "ocr2"),
            ocr1=export(n, "ocr") if ocr1 else None,
        )
        for n in cfg.nodes.specs()
    }
    peer_ids = {**(remote_peer_ids or {}), **{i: k.peer_id for i, k in keys.items()}}
    peers = bootstrappers(cfg, peer_ids)
    jobs = desired_jobs(cfg, bootstrappers=peers, keys=keys)
    return keys, exports, jobs


def _import_keys(
    client: NodeClient,
    node: NodeSpec,
    keys: NodePublicKeys,
    exports: NodeKeyExports,
    cfg: ApplianceConfig,
    report: PublishReport,
) -> None:
    password = cfg.chainlink.keystore_password
    present_p2p = {
        str(k.get("peerId") or k.get("id") or "").removeprefix("p2p_"): str(k.get("id") or "")
        for k in client.list_keys("p2p")
    }
    if keys.peer_id in present_p2p:
        report.rows.append(Row(node.index, "key", f"p2p {keys.peer_id}", "keep"))
    else:
        client.import_key("p2p", exports.p2p, password)
        report.rows.append(Row(node.index, "key", f"p2p {keys.peer_id}", "import"))
        report.restart_required.append(node.index)
    # The node auto-creates a P2P key on first boot and, without P2P.PeerID in its config,
    # uses its only key; any other P2P key must go (ADR 0071). Ours is imported first, so the
    # node never has zero keys.
    for peer, key_id in present_p2p.items():
        if peer and peer != keys.peer_id:
            client.delete_key("p2p", key_id or peer)
            report.rows.append(
                Row(node.index, "key", f"p2p {peer}", "delete", "", "not ours (node-created)")
            )
            if node.index not in report.restart_required:
                report.restart_required.append(node.index)
    if exports.evm is not None:
        present = {
            str(k.get("address") or k.get("id") or "").lower() for k in client.list_keys("evm")
        }
        name = f"evm {keys.evm_address}"
        if keys.evm_address.lower() in present:
            report.rows.append(Row(node.index, "key", name, "keep"))
        else:
            client.import_key("evm", exports.evm, password, chain_id=cfg.chain.chain_id)
            report.rows.append(Row(node.index, "key", name, "import"))
    # OCR bundles: "ocr2" (OCR2) and, for OCR1 feeds, "ocr" (/v2/keys/ocr, ADR 0117)
    for kind, bundle_id, doc in (
        ("ocr2", keys.ocr2_bundle_id, exports.ocr2),
        ("ocr", keys.ocr1_bundle_id, exports.ocr1),
    ):
        if doc is None or not bundle_id:
            continue
        present = {str(k.get("id") or "").lower() for k in client.list_keys(kind)}
        name = f"{kind} {bundle_id[:16]}…"
        if bundle_id in present:
            report.rows.append(Row(node.index, "key", name, "keep"))
        else:
            client.import_key(kind, doc, password)
            report.rows.append(Row(node.index, "key", name, "import"))


def _apply(
    client: NodeClient, node: int, plan: Sequence[PlannedAction], report: PublishReport
) -> None:
    for step in plan:
        if step.action == "keep":
            assert step.existing is not None
            report.rows.append(Row(node, "job", step.name, "keep", step.existing.id))
        elif step.action == "create":
            assert step.spec is not None
            created = client.create_job(step.spec.toml)
            report.rows.append(Row(node, "job", step.name, "create", created.id))
        elif step.action == "replace":
            assert step.spec is not None and step.existing is not None
            client.delete_job(step.existing.id)
            created = client.create_job(step.spec.toml)
            report.rows.append(
                Row(node, "job", step.name, "replace", created.id, f"was {step.existing.id}")
            )
        elif step.action == "delete":
            assert step.existing is not None
            client.delete_job(step.existing.id)
            report.rows.append(Row(node, "job", step.name, "delete", step.existing.id, "pruned"))
        else:
            assert step.existing is not None
            report.rows.append(
                Row(node, "job", step.name, "extra", step.existing.id, "not in config; use --prune")
            )


def publish(
    cfg: ApplianceConfig,
    client_for: ClientFactory,
    *,
    prune: bool = False,
    only_nodes: Sequence[int] = (),
    remote_peer_ids: Mapping[int, str] | None = None,
) -> PublishReport:
    """Publish keys and jobs to every node; a node that fails is reported, others go on."""
    keys, exports, jobs = prepare(cfg, remote_peer_ids=remote_peer_ids)
    nodes = [n for n in cfg.nodes.specs() if not only_nodes or n.index in only_nodes]
    unknown = set(only_nodes) - {n.index for n in cfg.nodes.specs()}
    if unknown:
        raise InputError(f"no such node(s): {sorted(unknown)}", location="--node")
    report = PublishReport()
    for node in nodes:
        client = client_for(node)
        try:
            client.login()
            _import_keys(client, node, keys[node.index], exports[node.index], cfg, report)
            plan = plan_node(jobs[node.index], client.list_jobs(), prune=prune)
            _apply(client, node.index, plan, report)
        except ExternalError as exc:  # NodeApiError, unreachable: this node only
            report.failed_nodes.append(node.index)
            report.rows.append(Row(node.index, "job", "-", "failed", "", str(exc)))
            _log.error(
                "publishing to chainlink node failed",
                extra={"event": "chainlink_publish_failed", "node": node.index, "error": str(exc)},
            )
    return report


def default_client_factory(
    cfg: ApplianceConfig, *, retry: RetryPolicy | None = None
) -> ClientFactory:
    def make(node: NodeSpec) -> NodeClient:
        host = reachable_host(node.api_host)
        return NodeClient(
            f"http://{host}:{node.api_port}",
            cfg.chainlink.email,
            cfg.chainlink.password,
            label=f"node-{node.index}",
            retry=retry or RetryPolicy(),
        )

    return make


__all__ = [
    "PlannedAction",
    "PublishReport",
    "Row",
    "default_client_factory",
    "plan_node",
    "prepare",
    "publish",
]
