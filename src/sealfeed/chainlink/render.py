"""Per-node Chainlink 2.x ``config.toml``, ``secrets.toml`` and API credentials (pure core),
plus one thin writer.

Field names are those of Chainlink v2.27 ``docs/CONFIG.md`` / ``docs/SECRETS.md``;
:data:`CONFIG_SCHEMA` lists every key we emit with its TOML type so a test proves the
rendered documents stay inside the schema. All nodes run in one container, so P2P peers
reach each other over loopback (ADR 0070).
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

from sealfeed.config.model import ApplianceConfig, NodeSpec
from sealfeed.errors import InputError
from sealfeed.fsutil import atomic_write
from sealfeed.secret import Secret

_log = logging.getLogger("sealfeed.chainlink.render")

#: where peers are announced/dialled inside the all-in-one container (ADR 0070)
P2P_HOST = "127.0.0.1"

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
    "EVM[].GasEstimator.PriceDefault": str,
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


def bootstrappers(cfg: ApplianceConfig, peer_ids: Mapping[int, str]) -> list[str]:
    """``<peer id>@<host>:<p2p port>`` of every bootstrap node (Chainlink DefaultBootstrappers)."""
    out = []
    for node in cfg.nodes.specs():
        if node.role == "bootstrap":
            out.append(f"{peer_ids[node.index]}@{P2P_HOST}:{node.p2p_port}")
    if not out:
        raise InputError("no bootstrap node in nodes.bootstrap", location="nodes.bootstrap")
    return out


def render_config(
    cfg: ApplianceConfig, node: NodeSpec, *, default_bootstrappers: Sequence[str]
) -> dict[str, Any]:
    """The node's ``config.toml`` as a TOML document (a dict).

    ``P2P.PeerID`` is deliberately absent: a configured peer id whose key is not (yet) in the
    node's keystore makes the node fail at start-up, and the key can only be imported through
    the running node's API. With exactly one P2P key the node uses it; ``publish`` imports ours
    and deletes the one the node auto-created on first boot (ADR 0071).
    """
    primary = not cfg.nodes.primary or node.index in cfg.nodes.primary
    evm_node: dict[str, Any] = {
        "Name": f"{cfg.chain.node_name}-{node.index}-{'primary' if primary else 'sendonly'}",
    }
    if primary:
        evm_node["WSURL"] = cfg.chain.rpc_ws_url
    evm_node["HTTPURL"] = cfg.chain.rpc_http_url
    evm_node["SendOnly"] = not primary
    evm: dict[str, Any] = {"ChainID": str(cfg.chain.chain_id)}
    if cfg.chain.link_ca:
        evm["LinkContractAddress"] = cfg.chain.link_ca
    if cfg.chain.gas_price_wei is not None:
        evm["GasEstimator"] = {
            "Mode": "FixedPrice",
            "PriceDefault": f"{cfg.chain.gas_price_wei} wei",
        }
    evm["Nodes"] = [evm_node]
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
        "Feature": {"FeedsManager": False, "LogPoller": True, "UICSAKeys": False},
        "Database": {"MaxOpenConns": conns, "MaxIdleConns": min(10, conns)},
        # Keep few successful runs: every OCR round is a run and the database is shared.
        "JobPipeline": {
            "MaxSuccessfulRuns": 10,
            "ReaperInterval": "10m",
            "ReaperThreshold": "24h",
        },
        "OCR": {"Enabled": False},
        "OCR2": {"Enabled": True},
        "P2P": {
            "V2": {
                "Enabled": True,
                "AnnounceAddresses": [f"{P2P_HOST}:{node.p2p_port}"],
                "DefaultBootstrappers": []
                if node.role == "bootstrap"
                else list(default_bootstrappers),
                "ListenAddresses": [f"0.0.0.0:{node.p2p_port}"],
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
    default_bootstrappers: Sequence[str],
    database_url: Secret,
) -> list[RenderedFile]:
    ch = cfg.chainlink
    check_chain(cfg)
    check_password(ch.keystore_password, location="chainlink.keystore_password")
    check_password(ch.password, location="chainlink.password", max_len=MAX_API_PASSWORD_LEN)
    config = render_config(cfg, node, default_bootstrappers=default_bootstrappers)
    check_schema(config, CONFIG_SCHEMA)
    secrets = render_secrets(database_url, ch.keystore_password)
    check_schema(secrets, SECRETS_SCHEMA)
    header = f"# sealfeed: Chainlink node {node.index} ({node.role}); generated, do not edit\n"
    return [
        RenderedFile("config.toml", (header + dumps(config)).encode(), 0o644, False),
        RenderedFile("secrets.toml", (header + dumps(secrets)).encode(), 0o600, True),
        RenderedFile(
            "apicredentials", render_api_credentials(ch.email, ch.password).encode(), 0o600, True
        ),
    ]


def write_node_files(
    files: Sequence[RenderedFile], directory: str | os.PathLike[str], *, owner: str | None
) -> list[Path]:
    """Write atomically; secret files 0600 and owned by ``owner`` (if that user exists)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
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
    if uid is not None and gid is not None:
        os.chown(d, uid, gid)
    return written


__all__ = [
    "CONFIG_SCHEMA",
    "SECRETS_SCHEMA",
    "RenderedFile",
    "bootstrappers",
    "check_chain",
    "check_schema",
    "flatten",
    "render_api_credentials",
    "render_config",
    "render_node_files",
    "render_secrets",
    "write_node_files",
]
