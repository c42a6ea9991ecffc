"""The image's provisioned layout (``/etc/sealfeed/layout.json``) against a configuration.

The Nix modules provision what a configuration may use -- node slots (users ``chainlink-N``,
``/chainlink/node-N`` owned by them, ports), PostgreSQL's directories and port, the service
ports, the accounts -- and record it in ``/etc/sealfeed/layout.json`` (modules/*.nix
``image.layout``, docs/nix.md). A verified configuration that asks for more nodes, other
ports, directories or accounts than the image provides would start services that cannot
work (a node user that does not exist, a workdir nobody may write). /init refuses it before
anything starts (``sealfeed s6 render --layout``, ADR 0101): one line naming the
configuration key, what it asks for and what the layout provides.

:func:`parse_layout` and :func:`layout_mismatches` are pure; :func:`load_layout` is the edge.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealfeed.config.model import ApplianceConfig
from sealfeed.errors import InputError
from sealfeed.s6.model import ServiceDef

IMAGE_LAYOUT = "/etc/sealfeed/layout.json"


@dataclass(frozen=True)
class NodeSlot:
    index: int
    api_port: int
    p2p_port: int
    os_user: str
    workdir: str


@dataclass(frozen=True)
class Layout:
    """What the image provisions; ``None`` = that section is absent (not checked)."""

    source: str
    nodes_total: int
    slots: Mapping[int, NodeSlot]
    postgres_port: int | None = None
    postgres_data_dir: str | None = None
    postgres_socket_dir: str | None = None
    aggregator_port: int | None = None
    exporter_port: int | None = None
    users: frozenset[str] | None = None
    log_dir: str | None = None
    secrets_dir: str | None = None


@dataclass(frozen=True)
class Mismatch:
    """``key`` (configuration) asks for ``wanted``; the image has ``provided`` (``where``)."""

    key: str
    wanted: str
    provided: str
    where: str

    def __str__(self) -> str:
        return f"{self.key} {self.wanted}, but this image provides {self.provided} ({self.where})"


class _Doc:
    """Typed access to the JSON document with errors that name the file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, what: str) -> InputError:
        return InputError(f"image layout {key}: {what}", location=self.source)

    def obj(self, value: object, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected an object, got {type(value).__name__}")
        return value

    def int_(self, value: object, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(key, f"expected a non-negative integer, got {value!r}")
        return value

    def str_(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def opt(self, section: Mapping[str, Any] | None, name: str, key: str, kind: str) -> Any:
        if section is None or name not in section:
            return None
        return self.int_(section[name], key) if kind == "int" else self.str_(section[name], key)


def parse_layout(doc: object, source: str = IMAGE_LAYOUT) -> Layout:
    """The layout document (modules/image.nix ``image.layout``); ``nodes`` is required."""
    d = _Doc(source)
    top = d.obj(doc, "(top level)")
    if "nodes" not in top:
        raise d.fail("nodes", "missing: the image must say how many node slots it provisions")
    nodes = d.obj(top["nodes"], "nodes")
    total = d.int_(nodes.get("total"), "nodes.total")
    specs = nodes.get("specs", [])
    if not isinstance(specs, list):
        raise d.fail("nodes.specs", "expected a list")
    slots: dict[int, NodeSlot] = {}
    for i, raw in enumerate(specs):
        key = f"nodes.specs[{i}]"
        spec = d.obj(raw, key)
        slot = NodeSlot(
            index=d.int_(spec.get("index"), f"{key}.index"),
            api_port=d.int_(spec.get("api_port"), f"{key}.api_port"),
            p2p_port=d.int_(spec.get("p2p_port"), f"{key}.p2p_port"),
            os_user=d.str_(spec.get("os_user"), f"{key}.os_user"),
            workdir=d.str_(spec.get("workdir"), f"{key}.workdir"),
        )
        slots[slot.index] = slot

    def section(name: str) -> Mapping[str, Any] | None:
        return d.obj(top[name], name) if name in top else None

    pg, agg, exp = section("postgres"), section("aggregator"), section("exporter")
    users = None
    if "users" in top:
        users = frozenset(d.obj(top["users"], "users"))
    return Layout(
        source=source,
        nodes_total=total,
        slots=slots,
        postgres_port=d.opt(pg, "port", "postgres.port", "int"),
        postgres_data_dir=d.opt(pg, "data_dir", "postgres.data_dir", "str"),
        postgres_socket_dir=d.opt(pg, "socket_dir", "postgres.socket_dir", "str"),
        aggregator_port=d.opt(agg, "port", "aggregator.port", "int"),
        exporter_port=d.opt(exp, "port", "exporter.port", "int"),
        users=users,
        log_dir=d.opt(top, "log_dir", "log_dir", "str"),
        secrets_dir=d.opt(top, "secrets_dir", "secrets_dir", "str"),
    )


def load_layout(path: str | os.PathLike[str]) -> Layout:
    """Read and parse the layout file (fail closed: missing or malformed is an error)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read the image layout: {exc.strerror or exc}", location=str(path)
        ) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"image layout is not JSON: {exc}", location=str(path)) from None
    return parse_layout(doc, str(path))


def _same(
    key: str, wanted: object, provided: object | None, where: str, out: list[Mismatch]
) -> None:
    if provided is not None and wanted != provided:
        out.append(Mismatch(key, f"= {wanted}", str(provided), where))


def layout_mismatches(
    cfg: ApplianceConfig, services: Iterable[ServiceDef], layout: Layout
) -> list[Mismatch]:
    """Everything ``cfg`` (and the services rendered from it) needs that the image lacks."""
    out: list[Mismatch] = []
    specs = cfg.nodes.specs()
    beyond = [s.index for s in specs if s.index > layout.nodes_total]
    if beyond:
        key = "nodesList" if cfg.nodes.nodes_list else "totalNodes"
        wanted = f"asks for node {max(beyond)}" if cfg.nodes.nodes_list else f"= {cfg.nodes.total}"
        out.append(Mismatch(key, wanted, f"{layout.nodes_total} node slots", "nodes.total"))
    per_node = (
        ("sealfeed.nodes.apiBasePort", "API port", "api_port"),
        ("sealfeed.nodes.p2pBasePort", "P2P port", "p2p_port"),
        ("sealfeed.nodes.osUserPrefix", "user", "os_user"),
        ("sealfeed.nodes.workdirRoot", "workdir", "workdir"),
    )
    for key, what, attr in per_node:
        for spec in specs:  # the first node that differs is enough to name the key
            slot = layout.slots.get(spec.index)
            if slot is None:
                continue
            wanted, provided = getattr(spec, attr), getattr(slot, attr)
            if wanted != provided:
                pos = sorted(layout.slots).index(spec.index)
                out.append(
                    Mismatch(
                        key,
                        f"gives node {spec.index} {what} {wanted}",
                        str(provided),
                        f"nodes.specs[{pos}].{attr}",
                    )
                )
                break
    pg = cfg.postgres
    _same("pgPort", pg.port, layout.postgres_port, "postgres.port", out)
    _same(
        "sealfeed.postgres.dataDir", pg.data_dir, layout.postgres_data_dir, "postgres.data_dir", out
    )
    _same(
        "sealfeed.postgres.socketDir",
        pg.socket_dir,
        layout.postgres_socket_dir,
        "postgres.socket_dir",
        out,
    )
    _same("priceAggregatorConfig.port", cfg.aggregator.port, layout.aggregator_port,
          "aggregator.port", out)  # fmt: skip
    _same("sealfeed.exporter.port", cfg.exporter.port, layout.exporter_port, "exporter.port", out)
    _same("sealfeed.logDir", cfg.log_dir, layout.log_dir, "log_dir", out)
    _same("spSecretsDir", cfg.secrets_dir, layout.secrets_dir, "secrets_dir", out)
    if layout.users is not None:
        reported = {s.service for s in specs if s.index > layout.nodes_total}
        for svc in services:
            if svc.name in reported:  # a missing slot, already named above
                continue
            missing = [u for u in accounts_of(svc) if u not in layout.users]
            if missing:
                out.append(
                    Mismatch(
                        "sealfeed.nodes.osUserPrefix" if svc.name.startswith("chainlink-node-")
                        else f"service {svc.name}",
                        f"runs as {missing[0]}",
                        "no such account",
                        "users",
                    )
                )  # fmt: skip
                break
    return out


def accounts_of(svc: ServiceDef) -> list[str]:
    """The accounts ``svc`` runs as: the supervisor's drop (``user``) and the one a service
    that separates privileges itself drops to (``--user ACCOUNT``: exporter, link)."""
    out = [svc.user] if svc.user is not None else []
    argv = list(svc.argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--user":
            out.append(argv[i + 1])
    return out


def check_layout(cfg: ApplianceConfig, services: Iterable[ServiceDef], layout: Layout) -> None:
    """Raise (exit 2) with one line naming every mismatch; return if ``cfg`` fits the image."""
    problems = layout_mismatches(cfg, services, layout)
    if problems:
        raise InputError(
            "configuration does not fit this image: " + "; ".join(map(str, problems)),
            location=layout.source,
        )


__all__ = [
    "IMAGE_LAYOUT",
    "Layout",
    "Mismatch",
    "NodeSlot",
    "accounts_of",
    "check_layout",
    "layout_mismatches",
    "load_layout",
    "parse_layout",
]
