"""Per-node key files in the secrets directory (IO edge): generate once, reuse, never print.

Layout (design §10.3, one directory per node)::

    <secrets_dir>/chainlink/node-<N>/evm_key.json    Web3 Secret Storage v3 (0600)
    <secrets_dir>/chainlink/node-<N>/p2p_key.json    Chainlink P2P export   (0600)
    <secrets_dir>/chainlink/node-<N>/ocr2_key.json   Chainlink OCR2 export  (0600)
    <secrets_dir>/chainlink/node-<N>/ocr_key.json    Chainlink OCR1 export  (0600, only
                                                     when a feed is OCR1; ADR 0117)

Each file is encrypted with the configured keystore password and is exactly what the node's
``/v2/keys/<kind>/import`` endpoint takes. Public parts are read from the export documents
without decrypting (cheap, for render/oracle-set); :func:`ensure_node_keys` with ``verify=True``
decrypts every file to prove the password and the public parts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sealfeed.chainlink.keystore import (
    DEFAULT_SCRYPT,
    OCR1_CONFIG_KEY_PREFIX,
    OCR1_OFFCHAIN_KEY_PREFIX,
    OCR1_SIGNING_ADDRESS_PREFIX,
    EvmKey,
    OCR1KeyBundle,
    OCR2KeyBundle,
    P2PKey,
    RandomBytes,
    ScryptParams,
    peer_id_from_public,
    to_checksum_address,
)
from sealfeed.errors import InputError
from sealfeed.fsutil import atomic_write
from sealfeed.secret import Secret

_log = logging.getLogger("sealfeed.chainlink.keys")

KeyKind = Literal["evm", "p2p", "ocr2", "ocr"]
KEY_FILES: dict[KeyKind, str] = {
    "evm": "evm_key.json",
    "p2p": "p2p_key.json",
    "ocr2": "ocr2_key.json",
    "ocr": "ocr_key.json",
}
#: what every node gets; the OCR1 bundle ("ocr") only when a feed uses OCR1 (ADR 0117)
BASE_KINDS: tuple[KeyKind, ...] = ("evm", "p2p", "ocr2")


def kinds_for(ocr_versions: Iterable[int]) -> tuple[KeyKind, ...]:
    """The key kinds a node needs for feeds of these OCR versions."""
    return BASE_KINDS + (("ocr",) if 1 in set(ocr_versions) else ())


@dataclass(frozen=True)
class NodePublicKeys:
    """What the contract configuration and job specs need; nothing secret."""

    node: int
    evm_address: str
    peer_id: str
    p2p_public_key: str
    ocr2_bundle_id: str
    ocr2_onchain_address: str
    ocr2_offchain_public_key: str
    ocr2_config_public_key: str
    #: OCR1 bundle (``ocr_key.json``); None while no feed uses OCR1
    ocr1_bundle_id: str | None = None
    ocr1_onchain_signing_address: str | None = None
    ocr1_offchain_public_key: str | None = None
    ocr1_config_public_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def node_key_dir(secrets_dir: str | os.PathLike[str], node: int) -> Path:
    return Path(secrets_dir) / "chainlink" / f"node-{node}"


def key_path(secrets_dir: str | os.PathLike[str], node: int, kind: KeyKind) -> Path:
    return node_key_dir(secrets_dir, node) / KEY_FILES[kind]


def read_export(secrets_dir: str | os.PathLike[str], node: int, kind: KeyKind) -> dict[str, Any]:
    path = key_path(secrets_dir, node, kind)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "key file does not exist (run 'sealfeed chainlink keys')", location=str(path)
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"unreadable key file: {exc.__class__.__name__}", location=str(path)
        ) from None
    if not isinstance(doc, dict):
        raise InputError("key file is not a JSON object", location=str(path))
    return doc


def _hexfield(doc: Mapping[str, Any], key: str, nbytes: int, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise InputError(f"missing field {key!r}", location=where)
    body = value.removeprefix("0x")
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise InputError(f"field {key!r} is not hex", location=where) from None
    if len(raw) != nbytes:
        raise InputError(f"field {key!r} must be {nbytes} bytes", location=where)
    return body.lower()


def load_public_keys(secrets_dir: str | os.PathLike[str], node: int) -> NodePublicKeys:
    """Public parts from the three export files (no decryption)."""
    evm = read_export(secrets_dir, node, "evm")
    p2p = read_export(secrets_dir, node, "p2p")
    ocr = read_export(secrets_dir, node, "ocr2")
    ew = str(key_path(secrets_dir, node, "evm"))
    pw = str(key_path(secrets_dir, node, "p2p"))
    ow = str(key_path(secrets_dir, node, "ocr2"))
    address = _hexfield(evm, "address", 20, ew)
    pub = _hexfield(p2p, "publicKey", 32, pw)
    peer_id = peer_id_from_public(bytes.fromhex(pub))
    stated = p2p.get("peerID")
    if isinstance(stated, str) and stated.removeprefix("p2p_") != peer_id:
        raise InputError("peerID does not match publicKey", location=pw)
    if ocr.get("chainType") != "evm":
        raise InputError("only chainType 'evm' OCR2 bundles are supported", location=ow)
    ocr1: dict[str, str | None] = {}
    if key_path(secrets_dir, node, "ocr").exists():
        ocr1 = _ocr1_public(
            read_export(secrets_dir, node, "ocr"), str(key_path(secrets_dir, node, "ocr"))
        )
    return NodePublicKeys(
        node=node,
        evm_address=to_checksum_address(bytes.fromhex(address)),
        peer_id=peer_id,
        p2p_public_key=pub,
        ocr2_bundle_id=_hexfield(ocr, "id", 32, ow),
        ocr2_onchain_address=to_checksum_address(
            bytes.fromhex(_hexfield(ocr, "onchainPublicKey", 20, ow))
        ),
        ocr2_offchain_public_key=_hexfield(ocr, "offchainPublicKey", 32, ow),
        ocr2_config_public_key=_hexfield(ocr, "configPublicKey", 32, ow),
        **ocr1,
    )


def _ocr1_public(doc: dict[str, Any], where: str) -> dict[str, str | None]:
    """Public parts of an OCR1 export (its fields carry ``ocrsad_``/``ocroff_``/``ocrcfg_``)."""
    if doc.get("keyType") != "OCR":
        raise InputError("keyType must be 'OCR'", location=where)
    fields = {}
    for key, prefix in (
        ("onChainSigningAddress", OCR1_SIGNING_ADDRESS_PREFIX),
        ("offChainPublicKey", OCR1_OFFCHAIN_KEY_PREFIX),
        ("configPublicKey", OCR1_CONFIG_KEY_PREFIX),
    ):
        value = doc.get(key)
        if not isinstance(value, str) or not value.startswith(prefix):
            raise InputError(f"field {key!r} must start with {prefix!r}", location=where)
        fields[key] = value.removeprefix(prefix)
    address = _hexfield(fields, "onChainSigningAddress", 20, where)
    return {
        "ocr1_bundle_id": _hexfield(doc, "id", 32, where),
        "ocr1_onchain_signing_address": to_checksum_address(bytes.fromhex(address)),
        "ocr1_offchain_public_key": _hexfield(fields, "offChainPublicKey", 32, where),
        "ocr1_config_public_key": _hexfield(fields, "configPublicKey", 32, where),
    }


def _write_export(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for d in (path.parent, path.parent.parent):  # node-N/ and chainlink/: owner only
        os.chmod(d, 0o700)
    atomic_write(path, json.dumps(doc, separators=(",", ":")) + "\n", mode=0o600)


def ensure_node_keys(
    secrets_dir: str | os.PathLike[str],
    node: int,
    password: Secret,
    *,
    params: ScryptParams = DEFAULT_SCRYPT,
    verify: bool = False,
    random: RandomBytes = os.urandom,
    kinds: Sequence[KeyKind] = BASE_KINDS,
) -> tuple[NodePublicKeys, list[KeyKind]]:
    """Create whichever of the node's ``kinds`` of key file is missing; return public parts +
    created. Existing files of other kinds are kept (and verified with ``verify``)."""
    created: list[KeyKind] = []
    makers = {
        "evm": lambda: EvmKey.generate(random).export(password, params, random=random),
        "p2p": lambda: P2PKey.generate(random).export(password, params, random=random),
        "ocr2": lambda: OCR2KeyBundle.generate(random).export(password, params, random=random),
        "ocr": lambda: OCR1KeyBundle.generate(random).export(password, params, random=random),
    }
    for kind in (*BASE_KINDS, *(k for k in kinds if k not in BASE_KINDS)):
        path = key_path(secrets_dir, node, kind)
        if path.exists():
            continue
        _write_export(path, makers[kind]())
        created.append(kind)
        _log.info(
            "generated chainlink key",
            extra={"event": "chainlink_key_generated", "node": node, "kind": kind},
        )
    if verify:  # files written just now need no proof; existing ones prove the password
        present = [
            k for k in KEY_FILES if k not in created and key_path(secrets_dir, node, k).exists()
        ]
        verify_node_keys(secrets_dir, node, password, kinds=present)
    return load_public_keys(secrets_dir, node), created


def verify_node_keys(
    secrets_dir: str | os.PathLike[str],
    node: int,
    password: Secret,
    *,
    kinds: Sequence[KeyKind] = BASE_KINDS,
) -> None:
    """Decrypt the files: proves the password and that public parts match the keys."""
    loaders = {
        "evm": EvmKey.from_export,
        "p2p": P2PKey.from_export,
        "ocr2": OCR2KeyBundle.from_export,
        "ocr": OCR1KeyBundle.from_export,
    }
    for kind in kinds:
        doc = read_export(secrets_dir, node, kind)
        loaders[kind](doc, password, where=str(key_path(secrets_dir, node, kind)))


__all__ = [
    "BASE_KINDS",
    "KEY_FILES",
    "NodePublicKeys",
    "ensure_node_keys",
    "key_path",
    "kinds_for",
    "load_public_keys",
    "node_key_dir",
    "read_export",
    "verify_node_keys",
]
