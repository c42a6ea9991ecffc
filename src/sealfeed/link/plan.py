"""The link plan: what one VM's ``sealfeed link`` opens, dials and admits (pure data).

Phase 1 reads it from a JSON file (docs/link.md "Plan"); phase 2 derives it from the
signed configuration's placement. Parsing validates everything up front and names the
field of every error (``plan.peers[1].forward[0].listen: ...``)::

    {
      "vm": "vm-a",
      "listen": "10.0.0.2:7400",
      "peers": [{"name": "vm-b", "address": "10.0.0.3:7400",
                 "forward": [{"listen": "127.0.0.1:9903", "target": "node-3-p2p"}]}],
      "targets": {"node-1-p2p": "127.0.0.1:9901"},
      "policy": {"measurements_file": "measurements.json",
                 "accepted_tcb_statuses": ["UpToDate"]},
      "collateral": {"file": "collateral.json"},
      "reattest_seconds": 300
    }
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sealfeed.attest.policy import Policy
from sealfeed.attest.trust import INTEL_SGX_ROOT_CA_SHA256, normalize_fingerprint
from sealfeed.errors import InputError
from sealfeed.link.measurements import Measurements, parse_measurements

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
#: policy keys that belong to the link; everything else is an attest Policy field
_LINK_POLICY_KEYS = frozenset({"measurements", "measurements_file", "max_quote_age_seconds"})
#: attest Policy fields that make no sense for peers (report_data is the per-peer binding)
_FORBIDDEN_POLICY_KEYS = frozenset({"report_data", "report_data_sha256_of"})


@dataclass(frozen=True, order=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class Forward:
    """A local tunnel endpoint: connections to ``listen`` reach the peer's ``target``."""

    listen: Address
    target: str


@dataclass(frozen=True)
class Peer:
    name: str
    address: Address
    forwards: tuple[Forward, ...] = ()


@dataclass(frozen=True)
class LinkPolicy:
    """What a peer's evidence must satisfy besides binding and configuration hash."""

    measurements: Measurements
    #: TCB statuses, advisories, debug, SEPT_VE, MR_SERVICE_TD... (sealfeed.attest rules)
    attest: Policy = field(default_factory=Policy)
    #: a peer's identity quote older than this is refused (``stale``); None = derived
    max_quote_age_seconds: float | None = None


@dataclass(frozen=True)
class CollateralSpec:
    file: str | None = None
    pccs_url: str | None = None
    cache_dir: str | None = None
    root_crl_url: str | None = None
    refresh_seconds: float = 3600.0
    trust_roots: tuple[str, ...] = (INTEL_SGX_ROOT_CA_SHA256,)


@dataclass(frozen=True)
class LinkPlan:
    vm: str
    listen: Address | None
    peers: tuple[Peer, ...]
    targets: Mapping[str, Address]
    policy: LinkPolicy
    collateral: CollateralSpec
    #: identity (key + quote) rotation and in-tunnel re-attestation period
    reattest_seconds: float = 300.0
    #: how often every peer is dialled to refresh its verification (cheap: cached)
    probe_seconds: float = 30.0
    handshake_timeout_seconds: float = 10.0
    #: small files this VM serves to verified peers (name -> path; e.g. ``node-keys``, the
    #: public keys of its Chainlink nodes): an attested directory (ADR 0143)
    documents: Mapping[str, str] = field(default_factory=dict)
    #: documents fetched from every verified peer into ``<peers_dir>/<peer>/<name>.json``
    fetch: tuple[str, ...] = ()
    peers_dir: str | None = None

    @property
    def max_quote_age(self) -> float:
        """A peer rotates its identity every ``reattest_seconds``; two periods plus a
        minute of slack cover a rotation that is late or a clock that is slightly off."""
        if self.policy.max_quote_age_seconds is not None:
            return self.policy.max_quote_age_seconds
        return 2 * self.reattest_seconds + 60

    def peer(self, name: str) -> Peer | None:
        for p in self.peers:
            if p.name == name:
                return p
        return None


# --- parsing ----------------------------------------------------------------------------------


def parse_address(value: Any, where: str) -> Address:
    if not isinstance(value, str) or not value:
        raise InputError('must be "host:port" (IPv6 as "[addr]:port")', location=where)
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})", value) or re.fullmatch(
        r"([^:\s\[\]]+):(\d{1,5})", value
    )
    if m is None:
        raise InputError(f'{value!r} is not "host:port" (IPv6 as "[addr]:port")', location=where)
    port = int(m.group(2))
    if not 1 <= port <= 65535:
        raise InputError(f"port {port} is outside 1..65535", location=where)
    return Address(m.group(1), port)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InputError(
            "must be 1-63 characters of letters, digits, '.', '_' or '-'", location=where
        )
    return value


def _number(doc: Mapping[str, Any], key: str, default: float, lo: float, where: str) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo:
        raise InputError(f"must be a number >= {lo:g}", location=f"{where}.{key}")
    return float(value)


def _object(value: Any, where: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError("must be an object", location=where)
    unknown = sorted(set(value) - keys - {"comment"})
    if unknown:
        raise InputError(f"unknown key(s): {', '.join(unknown)}", location=where)
    return value


def _policy(doc: Any, where: str, load_json: Callable[[str], Any]) -> LinkPolicy:
    if not isinstance(doc, Mapping):
        raise InputError("must be an object", location=where)
    bad = sorted(_FORBIDDEN_POLICY_KEYS & set(doc))
    if bad:
        raise InputError(
            f"{', '.join(bad)}: the link binds report_data to each peer's key itself",
            location=where,
        )
    if ("measurements" in doc) == ("measurements_file" in doc):
        raise InputError(
            "give exactly one of measurements (inline list) or measurements_file "
            "(the allowed TD measurements, cvm-reverse-proxy format)",
            location=where,
        )
    if "measurements_file" in doc:
        path = doc["measurements_file"]
        if not isinstance(path, str) or not path:
            raise InputError("must be a file path", location=f"{where}.measurements_file")
        measurements = parse_measurements(load_json(path), source=path)
    else:
        measurements = parse_measurements(doc["measurements"], f"{where}.measurements")
    age = doc.get("max_quote_age_seconds")
    if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float)) or age < 1):
        raise InputError("must be a number >= 1", location=f"{where}.max_quote_age_seconds")
    attest_doc = {k: v for k, v in doc.items() if k not in _LINK_POLICY_KEYS}
    attest = Policy.from_dict(attest_doc, source=where)
    return LinkPolicy(measurements, attest, None if age is None else float(age))


def _collateral(doc: Any, where: str) -> CollateralSpec:
    d = _object(
        doc,
        where,
        frozenset(
            {"file", "pccs_url", "cache_dir", "root_crl_url", "refresh_seconds", "trust_roots"}
        ),
    )
    file, url = d.get("file"), d.get("pccs_url")
    if (file is None) == (url is None):
        raise InputError(
            "give exactly one of file (collateral JSON) or pccs_url (fetch per FMSPC)",
            location=where,
        )
    for key in ("file", "pccs_url", "cache_dir", "root_crl_url"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise InputError("must be a string", location=f"{where}.{key}")
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise InputError("must be an http(s) URL", location=f"{where}.pccs_url")
    roots = d.get("trust_roots", [INTEL_SGX_ROOT_CA_SHA256])
    if not isinstance(roots, list) or not roots or not all(isinstance(r, str) for r in roots):
        raise InputError(
            "must be a non-empty list of root CA SHA-256 fingerprints",
            location=f"{where}.trust_roots",
        )
    try:
        pinned = tuple(normalize_fingerprint(r) for r in roots)
    except (InputError, ValueError) as exc:
        raise InputError(str(exc), location=f"{where}.trust_roots") from None
    return CollateralSpec(
        file=file,
        pccs_url=url,
        cache_dir=d.get("cache_dir"),
        root_crl_url=d.get("root_crl_url"),
        refresh_seconds=_number(d, "refresh_seconds", 3600.0, 1.0, where),
        trust_roots=pinned,
    )


_PLAN_KEYS = frozenset(
    {
        "version",
        "vm",
        "listen",
        "peers",
        "targets",
        "policy",
        "collateral",
        "reattest_seconds",
        "probe_seconds",
        "handshake_timeout_seconds",
        "documents",
        "fetch",
        "peers_dir",
    }
)


def parse_plan(
    doc: Any, *, source: str = "plan", load_json: Callable[[str], Any] | None = None
) -> LinkPlan:
    """Validate a plan document. ``load_json(path)`` reads a referenced file (the
    measurements allow-list); without it such references are an error."""

    def no_files(path: str) -> Any:
        raise InputError("file references are not allowed here", location=path)

    loader = load_json or no_files
    d = _object(doc, source, _PLAN_KEYS)
    if d.get("version", 1) != 1:
        raise InputError("only plan version 1 is known", location=f"{source}.version")
    vm = _name(d.get("vm"), f"{source}.vm")
    listen = None if d.get("listen") is None else parse_address(d["listen"], f"{source}.listen")

    targets_doc = d.get("targets", {})
    if not isinstance(targets_doc, Mapping):
        raise InputError("must be an object {name: host:port}", location=f"{source}.targets")
    targets = {
        _name(k, f"{source}.targets"): parse_address(v, f"{source}.targets.{k}")
        for k, v in targets_doc.items()
    }
    if targets and listen is None:
        raise InputError(
            "targets are served only through an attested listener: set listen",
            location=f"{source}.listen",
        )

    peers_doc = d.get("peers", [])
    if not isinstance(peers_doc, list):
        raise InputError("must be a list", location=f"{source}.peers")
    peers: list[Peer] = []
    bound: dict[Address, str] = {listen: f"{source}.listen"} if listen else {}
    for i, p in enumerate(peers_doc):
        at = f"{source}.peers[{i}]"
        pd = _object(p, at, frozenset({"name", "address", "forward"}))
        name = _name(pd.get("name"), f"{at}.name")
        if name == vm:
            raise InputError(f"{name!r} is this VM itself", location=f"{at}.name")
        if any(q.name == name for q in peers):
            raise InputError(f"duplicate peer {name!r}", location=f"{at}.name")
        address = parse_address(pd.get("address"), f"{at}.address")
        fwd_doc = pd.get("forward", [])
        if not isinstance(fwd_doc, list):
            raise InputError("must be a list", location=f"{at}.forward")
        forwards = []
        for j, f in enumerate(fwd_doc):
            fat = f"{at}.forward[{j}]"
            fd = _object(f, fat, frozenset({"listen", "target"}))
            la = parse_address(fd.get("listen"), f"{fat}.listen")
            if not la.is_loopback:
                # an endpoint on a reachable interface would hand the attested tunnel to
                # anyone who can connect to it
                raise InputError(
                    f"a tunnel endpoint must bind a loopback address, not {la.host}",
                    location=f"{fat}.listen",
                )
            if la in bound:
                raise InputError(f"{la} is already used by {bound[la]}", location=f"{fat}.listen")
            bound[la] = fat
            forwards.append(Forward(la, _name(fd.get("target"), f"{fat}.target")))
        peers.append(Peer(name, address, tuple(forwards)))

    documents, fetch, peers_dir = _documents(d, source, targets)

    if "policy" not in d:
        raise InputError(
            "missing: the allowed measurements and TCB policy for peers",
            location=f"{source}.policy",
        )
    if "collateral" not in d:
        raise InputError(
            "missing: where quote collateral comes from", location=f"{source}.collateral"
        )
    reattest = _number(d, "reattest_seconds", 300.0, 1.0, source)
    plan = LinkPlan(
        vm=vm,
        listen=listen,
        peers=tuple(peers),
        targets=targets,
        policy=_policy(d["policy"], f"{source}.policy", loader),
        collateral=_collateral(d["collateral"], f"{source}.collateral"),
        reattest_seconds=reattest,
        probe_seconds=_number(d, "probe_seconds", min(30.0, reattest), 0.1, source),
        handshake_timeout_seconds=_number(d, "handshake_timeout_seconds", 10.0, 0.1, source),
        documents=documents,
        fetch=fetch,
        peers_dir=peers_dir,
    )
    check_plan(plan, source)
    return plan


def check_plan(plan: LinkPlan, source: str = "plan") -> None:
    """The rules that span fields (also applied to plans derived from a placement)."""
    if plan.max_quote_age < plan.reattest_seconds:
        raise InputError(
            "shorter than reattest_seconds: every peer would go stale between rotations",
            location=f"{source}.policy.max_quote_age_seconds",
        )
    clash = sorted(set(plan.documents) & set(plan.targets))
    if clash:
        raise InputError(f"{', '.join(clash)}: both a target and a document",
                         location=f"{source}.documents")  # fmt: skip
    if plan.fetch and not plan.peers_dir:
        raise InputError("fetch needs peers_dir (where fetched documents go)",
                         location=f"{source}.peers_dir")  # fmt: skip


def _documents(
    d: Mapping[str, Any], source: str, targets: Mapping[str, Address]
) -> tuple[dict[str, str], tuple[str, ...], str | None]:
    docs = d.get("documents", {})
    if not isinstance(docs, Mapping) or not all(isinstance(v, str) and v for v in docs.values()):
        raise InputError("must be an object {name: file path}", location=f"{source}.documents")
    documents = {_name(k, f"{source}.documents"): v for k, v in docs.items()}
    fetch_doc = d.get("fetch", [])
    if not isinstance(fetch_doc, list):
        raise InputError("must be a list of document names", location=f"{source}.fetch")
    fetch = tuple(_name(x, f"{source}.fetch") for x in fetch_doc)
    peers_dir = d.get("peers_dir")
    if peers_dir is not None and (not isinstance(peers_dir, str) or not peers_dir):
        raise InputError("must be a directory path", location=f"{source}.peers_dir")
    return documents, fetch, peers_dir


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", location=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", location=str(path)) from None
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}", location=str(path)) from None


def load_plan(path: str | os.PathLike[str]) -> LinkPlan:
    """Read a plan file; relative file references resolve against its directory."""
    p = Path(path)
    base = p.parent

    def load_json(ref: str) -> Any:
        return _read_json(base / ref)

    plan = parse_plan(_read_json(p), source=str(p), load_json=load_json)
    coll = plan.collateral

    def resolve(v: str | None) -> str | None:
        return v if v is None or Path(v).is_absolute() else str(base / v)

    return replace(
        plan,
        collateral=replace(coll, file=resolve(coll.file), cache_dir=resolve(coll.cache_dir)),
        documents={k: str(resolve(v)) for k, v in plan.documents.items()},
        peers_dir=resolve(plan.peers_dir),
    )


def plan_summary(plan: LinkPlan) -> dict[str, Any]:
    """JSON-able description (``sealfeed link check-plan``, the status file)."""
    return {
        "vm": plan.vm,
        "listen": str(plan.listen) if plan.listen else None,
        "peers": [
            {
                "name": p.name,
                "address": str(p.address),
                "forward": [{"listen": str(f.listen), "target": f.target} for f in p.forwards],
            }
            for p in plan.peers
        ],
        "targets": {k: str(v) for k, v in plan.targets.items()},
        "measurements": [e.measurement_id for e in plan.policy.measurements.tdx_entries],
        "accepted_tcb_statuses": sorted(plan.policy.attest.accepted_tcb_statuses),
        "reattest_seconds": plan.reattest_seconds,
        "probe_seconds": plan.probe_seconds,
        "max_quote_age_seconds": plan.max_quote_age,
        "collateral": plan.collateral.file or plan.collateral.pccs_url,
        "documents": sorted(plan.documents),
        "fetch": list(plan.fetch),
    }


__all__ = [
    "Address",
    "CollateralSpec",
    "Forward",
    "LinkPlan",
    "LinkPolicy",
    "Peer",
    "check_plan",
    "load_plan",
    "parse_address",
    "parse_plan",
    "plan_summary",
]
