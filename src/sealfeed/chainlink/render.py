"""Per-node Chainlink 2.x ``config.toml``, ``secrets.toml``, API credentials and job specs
(pure core), plus one thin writer.

Field names are those of Chainlink v2.27 ``core/config/docs/{core,chains-evm,secrets}.toml``;
:data:`CONFIG_SCHEMA` lists every key we emit with its TOML type so the rendered documents stay
inside the schema (a test walks them against Chainlink's own documented files). Where the
node's P2P layer listens, what it announces and which bootstrappers it dials are explicit
inputs (:class:`P2PAddresses`): loopback inside one VM (ADR 0116), configured addresses or
tunnel endpoints for a deployment that spans VMs.
"""

from __future__ import annotations

import logging
import os
import pwd
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from sealfeed.chainlink.jobs import JobSpec
from sealfeed.chainlink.keystore import public_from_peer_id, to_checksum_address
from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.errors import InputError
from sealfeed.fsutil import atomic_write
from sealfeed.secret import Secret

_log = logging.getLogger("sealfeed.chainlink.render")

#: where render writes a node's job specs, beside config.toml (``DIR/node-N/jobs/<feed>.toml``)
JOBS_DIR = "jobs"
#: Chainlink ``assets.Wei`` holds at most 2**256-1 wei
MAX_WEI = 2**256 - 1
#: chains-evm.toml defaults we state explicitly in a fixed-price block (ADR 0115)
GAS_LIMIT_DEFAULT = 500_000
GAS_LIMIT_TRANSFER = 21_000
GAS_BUMP_PERCENT = 20  # >= geth's 10 % PriceBump, which Chainlink enforces
GAS_BUMP_MIN = "5 gwei"

#: Chainlink ``utils.VerifyPasswordComplexity`` (v2): 16..50 characters, no surrounding space.
MIN_PASSWORD_LEN = 16
MAX_API_PASSWORD_LEN = 50

#: Every key sealfeed emits in config.toml, with its type (CONFIG.md, v2.27). Paths use "."
#: for tables and "[]" for arrays of tables.
CONFIG_SCHEMA: Mapping[str, type | tuple[type, ...]] = {
    "RootDir": str,
    "Log.Level": str,
    "Log.JSONConsole": bool,
    "WebServer.HTTPPort": int,
    "WebServer.ListenIP": str,
    "WebServer.SecureCookies": bool,
    "WebServer.AllowOrigins": str,
    "WebServer.SessionTimeout": str,
    "WebServer.TLS.HTTPSPort": int,
    "Feature.FeedsManager": bool,
    "Feature.LogPoller": bool,
    "Feature.UICSAKeys": bool,
    "Feature.CCIP": bool,
    "Database.MaxOpenConns": int,
    "Database.MaxIdleConns": int,
    "JobPipeline.MaxSuccessfulRuns": int,
    "JobPipeline.ReaperInterval": str,
    "JobPipeline.ReaperThreshold": str,
    "OCR.Enabled": bool,
    "OCR2.Enabled": bool,
    "P2P.V2.Enabled": bool,
    "P2P.V2.AnnounceAddresses": list,
    "P2P.V2.DefaultBootstrappers": list,
    "P2P.V2.ListenAddresses": list,
    "EVM[].ChainID": str,
    "EVM[].LinkContractAddress": str,
    "EVM[].GasEstimator.Mode": str,
    "EVM[].GasEstimator.EIP1559DynamicFees": bool,
    "EVM[].GasEstimator.PriceDefault": str,
    "EVM[].GasEstimator.PriceMin": str,
    "EVM[].GasEstimator.PriceMax": str,
    "EVM[].GasEstimator.LimitDefault": int,
    "EVM[].GasEstimator.LimitMax": int,
    "EVM[].GasEstimator.LimitMultiplier": str,
    "EVM[].GasEstimator.LimitTransfer": int,
    "EVM[].GasEstimator.EstimateLimit": bool,
    "EVM[].GasEstimator.BumpMin": str,
    "EVM[].GasEstimator.BumpPercent": int,
    "EVM[].GasEstimator.BumpThreshold": int,
    "EVM[].GasEstimator.FeeCapDefault": str,
    "EVM[].GasEstimator.TipCapDefault": str,
    "EVM[].GasEstimator.TipCapMin": str,
    "EVM[].Nodes[].Name": str,
    "EVM[].Nodes[].WSURL": str,
    "EVM[].Nodes[].HTTPURL": str,
    "EVM[].Nodes[].SendOnly": bool,
}

#: SECRETS.md (v2.27)
SECRETS_SCHEMA: Mapping[str, type | tuple[type, ...]] = {
    "Database.URL": str,
    "Password.Keystore": str,
}


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [{"d": 2}]}`` -> ``{"a.b": 1, "c[].d": 2}`` (leaf values)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for item in value:
                out.update(flatten(item, path + "[]."))
        else:
            out[path] = value
    return out


def check_schema(doc: Mapping[str, Any], schema: Mapping[str, type | tuple[type, ...]]) -> None:
    """Raise if ``doc`` has a key outside ``schema`` or a value of the wrong type."""
    for path, value in flatten(doc).items():
        if path not in schema:
            raise InputError(f"key {path!r} is not in the Chainlink schema we target")
        want = schema[path]
        if isinstance(value, bool) and want is int:
            raise InputError(f"key {path!r} must be an integer")
        if not isinstance(value, want):
            raise InputError(f"key {path!r} has type {type(value).__name__}")


def check_password(value: Secret, *, location: str, max_len: int | None = None) -> None:
    text = value.reveal()
    if len(text) < MIN_PASSWORD_LEN:
        raise InputError(
            f"must be at least {MIN_PASSWORD_LEN} characters (Chainlink password policy)",
            location=location,
        )
    if max_len is not None and len(text) > max_len:
        raise InputError(f"must be at most {max_len} characters", location=location)
    if text != text.strip():
        raise InputError("must not start or end with whitespace", location=location)


def checked_address(value: str, location: str) -> str:
    """A 0x-prefixed 20-byte address in EIP-55 form; a mixed-case input must already be."""
    body = value.removeprefix("0x") if isinstance(value, str) else ""
    try:
        raw = bytes.fromhex(body) if value.startswith("0x") else b""
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise InputError(f"{value!r} is not a 0x-prefixed 20-byte address", location=location)
    checksummed = to_checksum_address(raw)
    if body not in (body.lower(), body.upper()) and checksummed != value:
        raise InputError("mixed-case address fails the EIP-55 check", location=location)
    return checksummed


def check_chain(cfg: ApplianceConfig) -> None:
    """Chainlink needs an http(s) RPC URL and, on primary nodes, a ws(s) one."""
    from urllib.parse import urlsplit

    for field, schemes in (("rpc_http_url", ("http", "https")), ("rpc_ws_url", ("ws", "wss"))):
        url = getattr(cfg.chain, field)
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in schemes or not parts.hostname:
            raise InputError(
                f"must be a {'/'.join(s + '://' for s in schemes)} URL", location=f"chain.{field}"
            )
    if (
        isinstance(cfg.chain.chain_id, bool)
        or not isinstance(cfg.chain.chain_id, int)
        or cfg.chain.chain_id <= 0
    ):
        raise InputError("must be a positive integer", location="chain.chain_id")


def host_port(host: str, port: int) -> str:
    """``host:port`` as Chainlink and libocr parse it (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_host(host: str, location: str) -> str:
    if not isinstance(host, str) or not host or any(c in host for c in " /@,[]'\"\n"):
        raise InputError(f"{host!r} is not a host name or IP address", location=location)
    return host


def bootstrap_nodes(cfg: ApplianceConfig) -> list[NodeSpec]:
    """The bootstrap nodes this VM's nodes dial: those it runs, and -- when the DON spans
    VMs (``sealfeed.placement``) -- those on the other VMs, reached at the same address
    through the attested link's endpoints (docs/link.md "Ports")."""
    here = {n.index for n in cfg.nodes.specs()}
    elsewhere = {n for e in cfg.placement if e.name != cfg.vm for n in e.nodes} if cfg.vm else set()
    return [cfg.nodes.node(i) for i in cfg.nodes.bootstrap if i in here or i in elsewhere]


def bootstrappers(cfg: ApplianceConfig, peer_ids: Mapping[int, str]) -> list[str]:
    """``<peer id>@<announce host>:<p2p port>`` of every bootstrap node (the locator format of
    libocr ``commontypes.BootstrapperLocator``), for ``DefaultBootstrappers`` and the jobs'
    ``p2pv2Bootstrappers``. ``peer_ids`` has this VM's nodes and, when the DON spans VMs,
    the bootstrap nodes of the others (:mod:`sealfeed.chainlink.peers`)."""
    host = _check_host(cfg.nodes.p2p_announce_host, "nodes.p2p_announce_host")
    out = []
    for node in bootstrap_nodes(cfg):
        if node.index not in peer_ids:
            raise InputError(f"no peer id for bootstrap node {node.index}",
                             location="nodes.bootstrap")  # fmt: skip
        out.append(f"{peer_ids[node.index]}@{host_port(host, node.p2p_port)}")
    if not out:
        raise InputError("no bootstrap node in nodes.bootstrap", location="nodes.bootstrap")
    return out


@dataclass(frozen=True)
class P2PAddresses:
    """One node's ``[P2P.V2]`` addresses, given to the renderer as data: ``host:port`` to bind
    and to announce, and ``peer@host:port`` bootstrappers (empty on bootstrap nodes)."""

    listen: tuple[str, ...]
    announce: tuple[str, ...]
    bootstrappers: tuple[str, ...]


def p2p_addresses(
    cfg: ApplianceConfig, node: NodeSpec, bootstrap_peers: Sequence[str]
) -> P2PAddresses:
    """The configured addresses: bind ``nodes.p2p_listen_host`` (loopback unless configured,
    ADR 0116), announce ``nodes.p2p_announce_host``, dial ``bootstrap_peers``."""
    listen = _check_host(cfg.nodes.p2p_listen_host, "nodes.p2p_listen_host")
    announce = _check_host(cfg.nodes.p2p_announce_host, "nodes.p2p_announce_host")
    return P2PAddresses(
        listen=(host_port(listen, node.p2p_port),),
        announce=(host_port(announce, node.p2p_port),),
        bootstrappers=() if node.role == "bootstrap" else tuple(bootstrap_peers),
    )


def _check_host_port(value: str, what: str) -> None:
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{value!r} is not host:port", location=what)


def check_p2p(p2p: P2PAddresses) -> None:
    """What Chainlink checks at start-up: a listen address (ocrcommon.ValidatePeerWrapperConfig),
    ``host:port`` everywhere, bootstrappers as ``<peer id>@host:port[/host:port]``."""
    if not p2p.listen:
        raise InputError("no P2P listen address", location="P2P.V2.ListenAddresses")
    for field, values in (("ListenAddresses", p2p.listen), ("AnnounceAddresses", p2p.announce)):
        for value in values:
            _check_host_port(value, f"P2P.V2.{field}")
    for locator in p2p.bootstrappers:
        peer, sep, addrs = locator.partition("@")
        where = "P2P.V2.DefaultBootstrappers"
        if not sep or "@" in addrs:
            raise InputError(f"{locator!r} is not <peer id>@host:port", location=where)
        try:
            public_from_peer_id(peer)
        except InputError:
            raise InputError(f"{peer!r} is not an ed25519 peer id", location=where) from None
        for addr in addrs.split("/"):
            _check_host_port(addr, where)


def check_evm_nodes(nodes: Sequence[Mapping[str, Any]]) -> None:
    """Chainlink's EVMConfig.ValidateConfig: at least one primary (not SendOnly) node, every
    primary with a WSURL (LogBroadcaster is on), unique names and URLs. Send-only nodes are
    only ever added next to a primary, never alone (issue #18)."""
    primaries = [n for n in nodes if not n.get("SendOnly")]
    if not primaries:
        raise InputError("must have at least one primary node", location="EVM.Nodes")
    if any(not n.get("WSURL") for n in primaries):
        raise InputError("a primary node needs a WSURL", location="EVM.Nodes")
    for key in ("Name", "WSURL", "HTTPURL"):
        values = [n[key] for n in nodes if key in n]
        if len(values) != len(set(values)):
            raise InputError(f"duplicate {key}", location="EVM.Nodes")


def evm_nodes(cfg: ApplianceConfig, node: NodeSpec) -> list[dict[str, Any]]:
    """Every node gets the configured RPC as a primary node (WSURL + HTTPURL): Chainlink
    refuses a chain without one (ADR 0115). ``nodes.primary`` names the OCR committee; it no
    longer demotes a node's RPC to send-only as the reference did."""
    nodes: list[dict[str, Any]] = [
        {
            "Name": f"{cfg.chain.node_name}-{node.index}-primary",
            "WSURL": cfg.chain.rpc_ws_url,
            "HTTPURL": cfg.chain.rpc_http_url,
            "SendOnly": False,
        }
    ]
    check_evm_nodes(nodes)
    return nodes


def fixed_gas_price(price_wei: int) -> dict[str, Any]:
    """``[EVM.GasEstimator]`` that pays exactly ``price_wei`` per gas, whatever the chain's
    defaults (chains-evm.toml's own recipe under PriceMin: legacy transactions, FixedPrice,
    PriceMin = PriceDefault = PriceMax, BumpThreshold = 0; ADR 0115). Every key is explicit so
    no chain default (e.g. EIP1559DynamicFees = true on opBNB 5611) changes its meaning; the
    EIP-1559 caps are inert in legacy mode and only satisfy Chainlink's ordering checks
    (TipCapMin <= TipCapDefault <= FeeCapDefault <= PriceMax)."""
    if (
        isinstance(price_wei, bool)
        or not isinstance(price_wei, int)
        or not 0 <= price_wei <= MAX_WEI
    ):
        raise InputError(
            "must be an integer number of wei, 0..2**256-1", location="chain.gas_price_wei"
        )
    price = f"{price_wei} wei"
    tip = f"{min(price_wei, 1)} wei"
    return {
        "Mode": "FixedPrice",
        "EIP1559DynamicFees": False,
        "PriceDefault": price,
        "PriceMin": price,
        "PriceMax": price,
        "LimitDefault": GAS_LIMIT_DEFAULT,
        "LimitMax": GAS_LIMIT_DEFAULT,
        "LimitMultiplier": "1",
        "LimitTransfer": GAS_LIMIT_TRANSFER,
        "EstimateLimit": False,
        "BumpThreshold": 0,
        "BumpMin": GAS_BUMP_MIN,
        "BumpPercent": GAS_BUMP_PERCENT,
        "FeeCapDefault": price,
        "TipCapDefault": tip,
        "TipCapMin": tip,
    }


def ocr_features(cfg: ApplianceConfig) -> tuple[bool, bool]:
    """(``OCR.Enabled``, ``OCR2.Enabled``): OCR1 jobs need the first, OCR2 and bootstrap jobs
    the second (the node answers 501 otherwise). No feeds at all keeps OCR2 on."""
    versions = {f.ocr_version for f in cfg.chainlink.feeds}
    return 1 in versions, 2 in versions or not versions


def render_config(cfg: ApplianceConfig, node: NodeSpec, *, p2p: P2PAddresses) -> dict[str, Any]:
    """The node's ``config.toml`` as a TOML document (a dict).

    ``P2P.PeerID`` is deliberately absent: a configured peer id whose key is not (yet) in the
    node's keystore makes the node fail at start-up, and the key can only be imported through
    the running node's API. With exactly one P2P key the node uses it; ``publish`` imports ours
    and deletes the one the node auto-created on first boot (ADR 0071).
    """
    check_p2p(p2p)
    evm: dict[str, Any] = {"ChainID": str(cfg.chain.chain_id)}
    if cfg.chain.link_ca:
        # an EIP55Address in Chainlink: any other spelling stops the node at start-up
        evm["LinkContractAddress"] = checked_address(cfg.chain.link_ca, "chain.link_ca")
    if cfg.chain.gas_price_wei is not None:
        evm["GasEstimator"] = fixed_gas_price(cfg.chain.gas_price_wei)
    evm["Nodes"] = evm_nodes(cfg, node)
    ocr1, ocr2 = ocr_features(cfg)
    conns = cfg.postgres.max_open_conns_per_node
    doc: dict[str, Any] = {
        "RootDir": node.workdir,
        "Log": {"Level": "info", "JSONConsole": True},
        "WebServer": {
            "HTTPPort": node.api_port,
            "ListenIP": node.api_host,
            # Plain HTTP on loopback: secure cookies would never be sent back (CONFIG.md).
            "SecureCookies": False,
            "AllowOrigins": f"http://{node.api_host}:{node.api_port}",
            "SessionTimeout": "15m",
            "TLS": {"HTTPSPort": 0},
        },
        # CCIP defaults to true in 2.27 (core.toml); the appliance runs no CCIP jobs.
        "Feature": {"FeedsManager": False, "LogPoller": True, "UICSAKeys": False, "CCIP": False},
        "Database": {"MaxOpenConns": conns, "MaxIdleConns": min(10, conns)},
        # Keep few successful runs: every OCR round is a run and the database is shared.
        "JobPipeline": {
            "MaxSuccessfulRuns": 10,
            "ReaperInterval": "10m",
            "ReaperThreshold": "24h",
        },
        "OCR": {"Enabled": ocr1},
        "OCR2": {"Enabled": ocr2},
        "P2P": {
            "V2": {
                "Enabled": True,
                "AnnounceAddresses": list(p2p.announce),
                "DefaultBootstrappers": list(p2p.bootstrappers),
                "ListenAddresses": list(p2p.listen),
            },
        },
        "EVM": [evm],
    }
    return doc


def render_secrets(database_url: Secret, keystore_password: Secret) -> dict[str, Any]:
    return {
        "Database": {"URL": database_url.reveal()},
        "Password": {"Keystore": keystore_password.reveal()},
    }


def render_api_credentials(email: str, password: Secret) -> str:
    """``chainlink node start --api <file>``: e-mail on line 1, password on line 2."""
    if not email or "\n" in email or "@" not in email:
        raise InputError("must be an e-mail address", location="chainlink.email")
    return f"{email}\n{password.reveal()}\n"


@dataclass(frozen=True)
class RenderedFile:
    name: str
    content: bytes
    mode: int
    secret: bool

    def __repr__(self) -> str:  # content may hold secrets
        return f"RenderedFile({self.name!r}, mode={oct(self.mode)}, secret={self.secret})"


def dumps(doc: Mapping[str, Any]) -> str:
    text = tomli_w.dumps(doc)
    if tomllib.loads(text) != doc:  # round-trip guard: what we write is what the node reads
        raise AssertionError("TOML round trip changed the document")
    return text


def render_node_files(
    cfg: ApplianceConfig,
    node: NodeSpec,
    *,
    p2p: P2PAddresses,
    database_url: Secret,
    jobs: Sequence[JobSpec] = (),
) -> list[RenderedFile]:
    """The node's files; ``jobs`` (this node's specs from ``desired_jobs``) become
    ``jobs/<feed>.toml``, byte for byte the TOML ``publish`` sends."""
    ch = cfg.chainlink
    check_chain(cfg)
    check_password(ch.keystore_password, location="chainlink.keystore_password")
    check_password(ch.password, location="chainlink.password", max_len=MAX_API_PASSWORD_LEN)
    config = render_config(cfg, node, p2p=p2p)
    check_schema(config, CONFIG_SCHEMA)
    secrets = render_secrets(database_url, ch.keystore_password)
    check_schema(secrets, SECRETS_SCHEMA)
    header = f"# sealfeed: Chainlink node {node.index} ({node.role}); generated, do not edit\n"
    files = [
        RenderedFile("config.toml", (header + dumps(config)).encode(), 0o644, False),
        RenderedFile("secrets.toml", (header + dumps(secrets)).encode(), 0o600, True),
        RenderedFile(
            "apicredentials", render_api_credentials(ch.email, ch.password).encode(), 0o600, True
        ),
    ]
    for job in jobs:
        if job.node != node.index:
            raise AssertionError(f"job {job.name!r} is for node {job.node}, not {node.index}")
        files.append(RenderedFile(f"{JOBS_DIR}/{job.file_name}", job.toml.encode(), 0o644, False))
    return files


def write_node_files(
    files: Sequence[RenderedFile], directory: str | os.PathLike[str], *, owner: str | None
) -> list[Path]:
    """Write atomically; secret files 0600 and owned by ``owner`` (if that user exists).

    ``jobs/`` belongs to render: a ``*.toml`` there that is not among ``files`` (a feed that
    was removed or renamed) is deleted after the new files are in place, so the directory is
    always exactly the specs ``publish`` would send.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    jobs_dir = d / JOBS_DIR
    jobs_dir.mkdir(exist_ok=True)
    uid = gid = None
    if owner is not None:
        try:
            pw = pwd.getpwnam(owner)
            uid, gid = pw.pw_uid, pw.pw_gid
        except KeyError:
            _log.warning(
                "node user does not exist; files stay owned by the current user",
                extra={"event": "chainlink_owner_missing", "user": owner},
            )
    written = []
    for f in files:
        path = atomic_write(d / f.name, f.content, mode=f.mode)
        if uid is not None and gid is not None:
            os.chown(path, uid, gid)
        written.append(path)
    keep = {p.name for p in written if p.parent == jobs_dir}
    for stale in sorted(jobs_dir.glob("*.toml")):
        if stale.name not in keep:
            stale.unlink()
            _log.info(
                "removed stale job spec",
                extra={"event": "chainlink_job_file_removed", "path": str(stale)},
            )
    if uid is not None and gid is not None:
        os.chown(jobs_dir, uid, gid)
        os.chown(d, uid, gid)
    return written


__all__ = [
    "CONFIG_SCHEMA",
    "JOBS_DIR",
    "SECRETS_SCHEMA",
    "P2PAddresses",
    "RenderedFile",
    "bootstrap_nodes",
    "bootstrappers",
    "check_chain",
    "check_evm_nodes",
    "check_p2p",
    "check_schema",
    "checked_address",
    "evm_nodes",
    "fixed_gas_price",
    "flatten",
    "host_port",
    "ocr_features",
    "p2p_addresses",
    "render_api_credentials",
    "render_config",
    "render_node_files",
    "render_secrets",
    "write_node_files",
]
